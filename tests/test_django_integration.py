"""Django plumbing: FileField, STORAGES, staticfiles, migrations, copying, pickling."""

from __future__ import annotations

import copy
import io
import os
import pickle
from typing import Any

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import FileSystemStorage, InMemoryStorage, storages
from django.core.management import CommandError, call_command
from django.db.migrations.autodetector import MigrationAutodetector
from django.db.migrations.state import ProjectState
from django.db.migrations.writer import MigrationWriter

from storage_mixins import Fallback, FallbackStorage, ReadOnly
from tests.conformance import read
from tests.testapp.models import Document, Photo

# -- FileField ---------------------------------------------------------------


@pytest.mark.django_db
def test_file_field_on_a_stack(settings: Any, use_storages: Any) -> None:
    use_storages(
        {
            **settings.STORAGES,
            "default": {
                "BACKEND": "storage_mixins.FallbackStorage",
                "OPTIONS": {"backends": ["local", "production"]},
            },
        }
    )
    storages["production"].save("documents/old.txt", ContentFile(b"production"))
    old = Document.objects.create(file="documents/old.txt")
    assert old.file.url == "https://production.example/media/documents/old.txt"
    assert old.file.size == 10
    with old.file.open() as handle:
        assert handle.read() == b"production"

    new = Document(file=ContentFile(b"upload", name="old.txt"))
    new.save()
    assert new.file.name.startswith("documents/old_")  # production's name is taken
    assert storages["local"].exists(new.file.name)
    assert new.file.url == f"/media/{new.file.name}"
    assert not storages["production"].exists(new.file.name)


def test_explicit_storages_on_fields() -> None:
    original = Photo._meta.get_field("original").storage
    assert isinstance(original, FallbackStorage)
    assert Photo._meta.get_field("archived").storage.deconstruct() == (
        "storage_mixins.ReadOnly",
        ("production",),
        {},
    )


# -- migrations --------------------------------------------------------------


@pytest.mark.django_db
def test_makemigrations_writes_the_wrappers(capsys: pytest.CaptureFixture[str]) -> None:
    call_command("makemigrations", "testapp", dry_run=True, verbosity=3)
    migration = capsys.readouterr().out
    assert "storage=storage_mixins.FallbackStorage(['local', 'production'])" in migration
    assert "storage=tests.testapp.models.production_media" in migration
    assert (
        "storage=storage_mixins.Fallback('local', storage_mixins.ReadOnly('production'))"
        in migration
    )
    # No settings (locations, buckets, credentials) leak into migrations.
    assert "production.example" not in migration


@pytest.mark.parametrize("field_name", ["original", "layered"])
def test_deconstructed_field_rebuilds_an_equal_stack(field_name: str) -> None:
    field = Photo._meta.get_field(field_name)
    source, imports = MigrationWriter.serialize(field.storage)
    namespace: dict[str, Any] = {}
    exec("\n".join(sorted(imports)), namespace)
    rebuilt = eval(source, namespace)
    assert rebuilt == field.storage
    assert rebuilt is not field.storage
    # The autodetector sees no change between the field and its migration.
    detector = MigrationAutodetector(ProjectState(), ProjectState())
    assert detector.deep_deconstruct(rebuilt) == detector.deep_deconstruct(field.storage)


def test_equality_is_structural(fs: Any, mem: Any) -> None:
    assert ReadOnly(fs) == ReadOnly(fs)
    assert ReadOnly(fs) != ReadOnly(mem)
    assert Fallback(fs, ReadOnly(mem)) == Fallback(fs, ReadOnly(mem))
    assert Fallback(fs, ReadOnly(mem)) != Fallback(ReadOnly(mem), fs)
    assert ReadOnly(fs) != fs  # a wrapper is not the storage it wraps
    assert fs != ReadOnly(fs)
    assert Fallback(fs) != ReadOnly(fs)
    assert ReadOnly(FileSystemStorage(location="/a")) == ReadOnly(FileSystemStorage(location="/a"))
    assert len({ReadOnly(fs), ReadOnly(fs)}) == 1


# -- copy and pickle ---------------------------------------------------------


STACKS = {
    "ReadOnly(fs)": lambda fs, mem, s3: ReadOnly(fs),
    "Fallback(fs, ReadOnly(mem))": lambda fs, mem, s3: Fallback(fs, ReadOnly(mem)),
    "Fallback(ReadOnly(s3), fs)": lambda fs, mem, s3: Fallback(ReadOnly(s3()), fs),
    "FallbackStorage(aliases)": lambda fs, mem, s3: FallbackStorage(["local", "production"]),
    "ReadOnly(alias)": lambda fs, mem, s3: ReadOnly("production"),
    "ReadOnly(Fallback(fs, s3))": lambda fs, mem, s3: ReadOnly(Fallback(fs, ReadOnly(s3()))),
}


@pytest.fixture
def make_stack(fs: Any, mem: Any, request: pytest.FixtureRequest) -> Any:
    def s3() -> Any:
        return request.getfixturevalue("s3").storage()

    return lambda factory: factory(fs, mem, s3)


@pytest.mark.parametrize("factory", STACKS.values(), ids=STACKS.keys())
@pytest.mark.parametrize(
    "duplicate",
    [copy.copy, copy.deepcopy, lambda stack: pickle.loads(pickle.dumps(stack))],
    ids=["copy", "deepcopy", "pickle"],
)
def test_copies_are_equal_working_stacks(make_stack: Any, factory: Any, duplicate: Any) -> None:
    stack = make_stack(factory)
    duplicated = duplicate(stack)
    assert type(duplicated) is type(stack)
    assert duplicated == stack
    assert repr(duplicated) == repr(stack)
    assert duplicated.exists("nothing.txt") is False


def test_shallow_copy_shares_backends_deep_copy_does_not(fs: Any, mem: Any) -> None:
    stack = Fallback(fs, ReadOnly(mem))
    assert copy.copy(stack).layers[0] is fs
    assert copy.deepcopy(stack).layers[0] is not fs
    # Aliases resolve to Django's shared instance, however the stack is copied.
    aliased = ReadOnly("production")
    assert copy.deepcopy(aliased).__wrapped__ is storages["production"]


def test_pickled_stack_reads_the_same_files(fs: Any) -> None:
    fs.save("a.txt", ContentFile(b"x"))
    stack = Fallback(InMemoryStorage(), ReadOnly(fs))
    assert read(pickle.loads(pickle.dumps(stack)), "a.txt") == b"x"


# -- staticfiles -------------------------------------------------------------


@pytest.fixture
def static_stack(settings: Any, tmp_path: Any, use_storages: Any) -> Any:
    """App static files, and a production static root that already has some."""
    source = tmp_path / "static-source"
    (source / "css").mkdir(parents=True)
    (source / "css" / "site.css").write_text("body { color: red }")
    (source / "img").mkdir()
    (source / "img" / "logo.png").write_bytes(b"dev logo")
    production = tmp_path / "production-static"
    (production / "img").mkdir(parents=True)
    (production / "img" / "logo.png").write_bytes(b"production logo")
    (production / "img" / "banner.png").write_bytes(b"production banner")
    for old in production.rglob("*.png"):  # production's copies predate the app's
        os.utime(old, (1_600_000_000, 1_600_000_000))
    settings.STATICFILES_DIRS = [str(source)]

    def configure(staticfiles: dict[str, Any]) -> Any:
        use_storages(
            {
                **settings.STORAGES,
                "staticfiles": staticfiles,
                "static-local": {
                    "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage",
                    "OPTIONS": {"location": str(tmp_path / "static-local")},
                },
                "static-production": {
                    "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage",
                    "OPTIONS": {"location": str(production), "base_url": "https://cdn.example/"},
                },
            }
        )
        return tmp_path / "static-local", production

    return configure


def production_files(root: Any) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def test_collectstatic_into_a_stack(static_stack: Any) -> None:
    from django.templatetags.static import static

    local, production = static_stack(
        {
            "BACKEND": "storage_mixins.FallbackStorage",
            "OPTIONS": {"backends": ["static-local", "static-production"], "shadow": True},
        }
    )
    before = production_files(production)
    call_command("collectstatic", interactive=False, verbosity=0)
    assert production_files(production) == before
    # The local copy of a file production also has shadows it, under its own name.
    assert (local / "img" / "logo.png").read_bytes() == b"dev logo"
    assert (local / "css" / "site.css").exists()
    assert static("img/logo.png") == "/static/img/logo.png"
    assert static("css/site.css") == "/static/css/site.css"
    assert static("img/banner.png") == "https://cdn.example/img/banner.png"
    # Running it again finds everything up to date.
    call_command("collectstatic", interactive=False, verbosity=0)
    assert production_files(production) == before


def test_collectstatic_without_shadow_never_hides_production(static_stack: Any) -> None:
    local, production = static_stack(
        {
            "BACKEND": "storage_mixins.FallbackStorage",
            "OPTIONS": {"backends": ["static-local", "static-production"]},
        }
    )
    call_command("collectstatic", interactive=False, verbosity=0)
    assert not (local / "img" / "logo.png").exists()  # saved under another name
    assert production_files(production)["img/logo.png"] == b"production logo"


@pytest.mark.parametrize("read_only_only", [False, True], ids=["stack", "ReadOnly"])
def test_collectstatic_link_never_writes_production(
    static_stack: Any, read_only_only: bool
) -> None:
    staticfiles = (
        {"BACKEND": "storage_mixins.ReadOnly", "OPTIONS": {"storage": "static-production"}}
        if read_only_only
        else {
            "BACKEND": "storage_mixins.FallbackStorage",
            "OPTIONS": {"backends": ["static-local", "static-production"], "shadow": True},
        }
    )
    _local, production = static_stack(staticfiles)
    before = production_files(production)
    # Neither is local (path("") says so), and Django refuses to symlink.
    with pytest.raises(CommandError, match="Can't symlink to a remote destination"):
        call_command("collectstatic", interactive=False, verbosity=0, link=True)
    assert production_files(production) == before
    assert not any(p.is_symlink() for p in production.rglob("*"))


def test_read_only_manifest_storage_serves_hashed_urls(settings: Any, tmp_path: Any) -> None:
    from django.contrib.staticfiles.storage import ManifestStaticFilesStorage

    settings.STATIC_ROOT = str(tmp_path)
    (tmp_path / "app.abc123.js").write_text("")
    (tmp_path / "staticfiles.json").write_text(
        '{"version": "1.1", "paths": {"app.js": "app.abc123.js"}, "hash": "x"}'
    )
    guarded = ReadOnly(ManifestStaticFilesStorage(location=tmp_path))
    assert guarded.url("app.js") == "/static/app.abc123.js"
    with pytest.raises(PermissionError):
        guarded.save("app.js", io.BytesIO(b""))
