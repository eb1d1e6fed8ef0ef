"""Production read-only by construction: the recipe of docs/configuration.rst
("Production, read-only by construction"), built from ``STORAGES`` with
production on moto's S3 server. No alias can write to the bucket, and the
stack is the one the quick start always had: listings, commands and
migrations work through it as before."""

from __future__ import annotations

import copy
import pickle
import uuid
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core import checks
from django.core.files.base import ContentFile
from django.core.files.storage import storages
from django.core.management import call_command
from django.db.migrations.writer import MigrationWriter

from storage_mixins import ReadOnly, ReadOnlyError, describe
from storage_mixins.core.stack import is_read_only, leaves, write_backend
from tests.conftest import PRODUCTION_BUCKET
from tests.seeding import put_many
from tests.test_listing_cache import PHOTOS, UPLOADS, listings_sent, page_render


def read_only_over_caching(s3_options: dict[str, Any], **caching: Any) -> dict[str, Any]:
    """The recipe: ``ReadOnly(Caching(S3Storage))``, the backend nested in the alias."""
    return {
        "BACKEND": "storage_mixins.ReadOnly",
        "OPTIONS": {
            "storage": {
                "BACKEND": "storage_mixins.Caching",
                "OPTIONS": {"storage": s3_options, **caching},
            }
        },
    }


def caching_over_read_only(s3_options: dict[str, Any], **caching: Any) -> dict[str, Any]:
    """The other nesting, ``Caching(ReadOnly(S3Storage))``: read-only too."""
    return {
        "BACKEND": "storage_mixins.Caching",
        "OPTIONS": {
            "storage": {"BACKEND": "storage_mixins.ReadOnly", "OPTIONS": {"storage": s3_options}},
            **caching,
        },
    }


SHAPES = {"ReadOnly(Caching(S3))": read_only_over_caching,
          "Caching(ReadOnly(S3))": caching_over_read_only}  # fmt: skip
shapes = pytest.mark.parametrize("shape", SHAPES.values(), ids=SHAPES.keys())


@pytest.fixture
def recipe(s3: Any, settings: Any, use_storages: Any, tmp_path: Path) -> Any:
    """``STORAGES`` as the recipe writes it; the production alias in ``shape``."""
    settings.CACHES = {
        **settings.CACHES,
        "roomy": {  # keeps a page's facts (LocMemCache's 300 entries would cull them)
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "LOCATION": f"roomy-{uuid.uuid4().hex}",
            "OPTIONS": {"MAX_ENTRIES": 100_000},
        },
    }

    def use(shape: Any = read_only_over_caching) -> dict[str, Any]:
        config = {
            "default": {
                "BACKEND": "storage_mixins.FallbackStorage",
                "OPTIONS": {"backends": ["production", "local"], "writable": "local"},
            },
            "production": shape(s3.settings(), cache="roomy", missing_timeout=60),
            "local": {
                "BACKEND": "django.core.files.storage.FileSystemStorage",
                "OPTIONS": {"location": str(tmp_path / "local"), "base_url": "/media/"},
            },
            "staticfiles": {
                "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage",
            },
        }
        use_storages(config)
        return config

    return use


@pytest.fixture
def seeded(s3: Any, tmp_path: Path) -> None:
    """Production's 200 photos; 20 local uploads."""
    put_many(s3, ((name, b"\xff" * (1000 + i)) for i, name in enumerate(PHOTOS)), PRODUCTION_BUCKET)
    local = tmp_path / "local"
    for name in UPLOADS:
        (local / name).parent.mkdir(parents=True, exist_ok=True)
        (local / name).write_bytes(b"local " + name.encode())
    s3.server.clear_requests()


WRITES = {
    "save": lambda storage: storage.save("photos/000.jpg", ContentFile(b"x")),
    "save a new name": lambda storage: storage.save("photos/new.jpg", ContentFile(b"x")),
    "_save": lambda storage: storage._save("photos/000.jpg", ContentFile(b"x")),
    "delete": lambda storage: storage.delete("photos/000.jpg"),
    "open wb": lambda storage: storage.open("photos/000.jpg", "wb"),
    "open ab": lambda storage: storage.open("photos/000.jpg", "ab"),
    "open r+b": lambda storage: storage.open("photos/000.jpg", "r+b"),
    "url PUT": lambda storage: storage.url("photos/000.jpg", http_method="PUT"),
    "reopen for writing": lambda storage: storage.open("photos/000.jpg").open("wb"),
}


@shapes
@pytest.mark.parametrize("write", WRITES.values(), ids=WRITES.keys())
def test_the_production_alias_refuses_every_write(
    recipe: Any, s3: Any, shape: Any, write: Any
) -> None:
    recipe(shape)
    s3.put("photos/000.jpg", b"production")
    with pytest.raises(ReadOnlyError):
        write(storages["production"])
    assert [request for request in s3.server.requests() if request.mutates] == []
    assert s3.snapshot() == {"photos/000.jpg": b"production"}


@shapes
def test_no_alias_writes_to_production(recipe: Any, shape: Any) -> None:
    config = recipe(shape)
    [bucket] = list(leaves(storages["production"]))
    for alias in config:
        storage = storages[alias]
        assert is_read_only(storage) or write_backend(storage) is not bucket, alias
    assert checks.run_checks(tags=["storage_mixins"]) == []


def test_the_stack_is_the_quick_starts(recipe: Any, tmp_path: Path) -> None:
    """``FallbackStorage`` takes the read-only alias as it is: no second ``ReadOnly``."""
    recipe()
    stack = storages["default"]
    assert stack.layers[0] is storages["production"]
    assert describe(stack).splitlines() == [
        "FallbackStorage  (writes go to [1])",
        "├── [0] ReadOnly  (refuses writes)",
        "│   └── Caching  (cache='roomy', timeout=300, missing_timeout=60, listings: "
        "ListObjectsV2, ≤ 5,000 entries)",
        "│       └── S3Storage('production-media')",
        f"└── [1] FileSystemStorage('{tmp_path / 'local'}')  ← writes",
    ]


@shapes
@pytest.mark.usefixtures("seeded")
def test_a_page_is_two_requests_cold_and_none_warm(recipe: Any, s3: Any, shape: Any) -> None:
    """Listings are used through ``ReadOnly``, in either nesting."""
    recipe(shape)
    stack = storages["default"]
    page_render(stack)
    # photos/ and uploads/ (asked of production first, and listed empty there).
    assert s3.server.counts() == {"GET": 2} and listings_sent(s3) == 2
    s3.server.clear_requests()
    page_render(stack)
    assert s3.server.requests() == []
    assert stack.size(PHOTOS[7]) == 1007
    assert stack.url(UPLOADS[3]) == "/media/uploads/03.jpg"


@pytest.mark.usefixtures("seeded")
def test_uploads_land_locally_under_a_name_production_lacks(recipe: Any, s3: Any) -> None:
    recipe()
    stack = storages["default"]
    name = stack.save("photos/000.jpg", ContentFile(b"dev"))
    assert name != "photos/000.jpg"
    assert stack.which(name) is stack.layers[1]
    assert [request for request in s3.server.requests() if request.mutates] == []


@pytest.mark.usefixtures("seeded")
def test_storage_stack_shows_production_read_only(recipe: Any) -> None:
    recipe()
    for alias in ("production", "default"):
        out = StringIO()
        call_command("storage_stack", "--storage", alias, stdout=out)
        [line] = [
            line for line in out.getvalue().splitlines() if "S3Storage(" in line and "ms" in line
        ]
        assert "read-only" in line and "writable" not in line


@pytest.mark.usefixtures("seeded")
def test_storage_pull_copies_from_the_read_only_alias(recipe: Any, s3: Any, tmp_path: Path) -> None:
    recipe()
    out = StringIO()
    call_command("storage_pull", "photos", stdout=out)
    assert "Copied 200 file(s)" in out.getvalue()
    assert (tmp_path / "local" / "photos" / "007.jpg").read_bytes() == b"\xff" * 1007
    assert [request for request in s3.server.requests() if request.mutates] == []


def production_storage() -> Any:
    """A model field's storage naming the production alias, as Django documents
    callables: migrations record this function's path."""
    return storages["production"]


def test_migrations_and_copies(recipe: Any, s3: Any) -> None:
    recipe()
    stack = storages["default"]
    assert stack.deconstruct() == (
        "storage_mixins.FallbackStorage",
        (),
        {"backends": ["production", "local"], "writable": "local"},
    )
    source, _imports = MigrationWriter.serialize(stack)
    assert PRODUCTION_BUCKET not in source and s3.server.endpoint_url not in source
    source, _imports = MigrationWriter.serialize(production_storage)
    assert source == "tests.test_production_recipe.production_storage"
    # A wrapper over the alias keeps the alias, as before.
    assert ReadOnly(storages["production"]).deconstruct()[1] == ("production",)
    for duplicate in (copy.deepcopy(storages["production"]), pickle.loads(pickle.dumps(stack))):
        assert is_read_only(duplicate.layers[0] if hasattr(duplicate, "layers") else duplicate)
    with pytest.raises(ReadOnlyError):
        copy.copy(storages["production"]).delete("photos/000.jpg")
