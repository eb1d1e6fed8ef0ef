"""deconstruct(): plain data that rebuilds the stack, for migrations and for
background tasks whose arguments must be JSON (Wagtail 8 deletes files so)."""

from __future__ import annotations

import json
import logging
import pickle
from pathlib import Path
from typing import Any

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.core.files.base import ContentFile
from django.core.files.storage import FileSystemStorage, InMemoryStorage, Storage, storages
from django.db.migrations.autodetector import MigrationAutodetector
from django.db.migrations.state import ProjectState
from django.db.migrations.writer import MigrationWriter
from django.utils.deconstruct import deconstructible
from django.utils.module_loading import import_string
from django.utils.safestring import mark_safe

from storage_mixins import Caching, Fallback, FallbackStorage, Logging, ReadOnly
from tests.conformance import read

FS = "django.core.files.storage.FileSystemStorage"
MEM = "django.core.files.storage.InMemoryStorage"


def rebuilt_from_json(storage: Any) -> Any:
    """What Wagtail's delete_file_from_storage_task does with its JSON arguments."""
    path, args, kwargs = json.loads(json.dumps(storage.deconstruct()))
    return import_string(path)(*args, **kwargs)


def rebuilt_from_migration(storage: Any) -> Any:
    """What a migration that makemigrations wrote for ``storage`` builds."""
    source, imports = MigrationWriter.serialize(storage)
    namespace: dict[str, Any] = {}
    exec("\n".join(sorted(imports)), namespace)
    return eval(source, namespace)


@pytest.fixture
def local(tmp_path: Path) -> FileSystemStorage:
    return FileSystemStorage(location=str(tmp_path / "local"), base_url="/local/")


@pytest.fixture
def production(tmp_path: Path) -> FileSystemStorage:
    storage = FileSystemStorage(location=str(tmp_path / "production"), base_url="/prod/")
    storage.save("photos/a.jpg", ContentFile(b"production a"))
    return storage


# -- plain data ------------------------------------------------------------


def test_a_stack_built_in_code_deconstructs_to_storage_dicts(
    local: Any, production: Any, tmp_path: Path
) -> None:
    stack = Fallback(local, ReadOnly(production))
    assert stack.deconstruct() == (
        "storage_mixins.Fallback",
        (
            {"BACKEND": FS, "OPTIONS": {"location": local.base_location, "base_url": "/local/"}},
            {
                "BACKEND": "storage_mixins.ReadOnly",
                "OPTIONS": {
                    "storage": {
                        "BACKEND": FS,
                        "OPTIONS": {"location": production.base_location, "base_url": "/prod/"},
                    }
                },
            },
        ),
        {},
    )
    json.dumps(stack.deconstruct())  # no TypeError: Unsupported type


def test_json_rebuilds_an_equal_working_stack(local: Any, production: Any) -> None:
    stack = Fallback(local, ReadOnly(production))
    rebuilt = rebuilt_from_json(stack)
    assert rebuilt == stack
    assert rebuilt is not stack
    assert read(rebuilt, "photos/a.jpg") == b"production a"
    assert rebuilt.url("photos/a.jpg") == "/prod/photos/a.jpg"
    # Writes still go to the local layer only; the rebuilt ReadOnly refuses.
    name = rebuilt.save("photos/a.jpg", ContentFile(b"dev"))
    assert local.exists(name)
    rebuilt.delete(name)
    rebuilt.delete("photos/a.jpg")  # only in production: left alone
    assert production.exists("photos/a.jpg")
    assert rebuilt.deconstruct() == stack.deconstruct()


def test_positional_options_become_keywords(tmp_path: Path) -> None:
    stack = ReadOnly(FileSystemStorage(str(tmp_path), "/m/"))
    assert stack.deconstruct()[1] == (
        {"BACKEND": FS, "OPTIONS": {"location": str(tmp_path), "base_url": "/m/"}},
    )
    assert rebuilt_from_json(stack) == stack
    # A migration keeps the call as it was written.
    source, _ = MigrationWriter.serialize(stack)
    assert source == (
        f"storage_mixins.ReadOnly(django.core.files.storage.FileSystemStorage({str(tmp_path)!r}, '/m/'))"
    )


def test_paths_become_strings(tmp_path: Path) -> None:
    stack = ReadOnly(FileSystemStorage(location=tmp_path / "media"))
    (spec,) = stack.deconstruct()[1]
    assert spec["OPTIONS"] == {"location": str(tmp_path / "media")}
    assert rebuilt_from_json(stack).location == str(tmp_path / "media")


def test_wrappers_inside_wrappers(local: Any, production: Any) -> None:
    stack = Logging(
        Caching(
            FallbackStorage([local, ReadOnly(production)], on_delete="hide"),
            cache="default",
            timeout=60,
            contents=FileSystemStorage(location=local.base_location + "-cache"),
        ),
        logger="media",
        level="INFO",
    )
    path, args, kwargs = json.loads(json.dumps(stack.deconstruct()))
    assert path == "storage_mixins.Logging"
    assert kwargs == {"logger": "media", "level": "INFO"}
    (caching,) = args
    assert caching["BACKEND"] == "storage_mixins.Caching"
    assert caching["OPTIONS"]["contents"]["BACKEND"] == FS
    backends = caching["OPTIONS"]["storage"]["OPTIONS"]["backends"]
    assert [backend["BACKEND"] for backend in backends] == [FS, "storage_mixins.ReadOnly"]
    rebuilt = rebuilt_from_json(stack)
    assert rebuilt == stack
    assert read(rebuilt, "photos/a.jpg") == b"production a"


def test_fallback_layers_nested_become_the_layers_option(local: Any, mem: Any) -> None:
    stack = ReadOnly(Fallback(local, ReadOnly(mem), writable=0))
    (inner,) = stack.deconstruct()[1]
    assert inner == {
        "BACKEND": "storage_mixins.Fallback",
        "OPTIONS": {
            "layers": [
                {
                    "BACKEND": FS,
                    "OPTIONS": {"location": local.base_location, "base_url": "/local/"},
                },
                {
                    "BACKEND": "storage_mixins.ReadOnly",
                    "OPTIONS": {
                        "storage": {
                            "BACKEND": MEM,
                            "OPTIONS": {"base_url": "https://mem.example/"},
                        }
                    },
                },
            ],
            "writable": 0,
        },
    }
    assert rebuilt_from_json(stack) == stack


def test_safe_strings_become_str() -> None:
    stack = ReadOnly(mark_safe("production"))
    (alias,) = stack.deconstruct()[1]
    assert alias.__class__ is str
    assert rebuilt_from_json(stack).__wrapped__ is storages["production"]


# -- aliases and secrets -----------------------------------------------------

SECRET = "s3cr3t-key-never-in-migrations"


@pytest.fixture
def secret_production(settings: Any, use_storages: Any) -> None:
    use_storages(
        {
            **settings.STORAGES,
            "production": {
                "BACKEND": "storages.backends.s3.S3Storage",
                "OPTIONS": {
                    "bucket_name": "production-media",
                    "access_key": "AKIA-SECRET-ID",
                    "secret_key": SECRET,
                },
            },
        }
    )


@pytest.mark.usefixtures("secret_production")
def test_shared_instances_of_aliases_deconstruct_to_their_alias() -> None:
    stack = Fallback(storages["local"], ReadOnly(storages["production"]))
    assert stack.deconstruct() == (
        "storage_mixins.Fallback",
        ("local", {"BACKEND": "storage_mixins.ReadOnly", "OPTIONS": {"storage": "production"}}),
        {},
    )
    for text in (json.dumps(stack.deconstruct()), MigrationWriter.serialize(stack)[0]):
        assert SECRET not in text
        assert "AKIA" not in text
        assert "production-media" not in text
    rebuilt = rebuilt_from_json(stack)
    assert rebuilt.layers[0] is storages["local"]
    assert rebuilt.layers[1].__wrapped__ is storages["production"]


@pytest.mark.usefixtures("secret_production")
def test_aliases_given_as_aliases_stay_aliases_in_migrations() -> None:
    stack = Fallback("local", ReadOnly("production"))
    source, _ = MigrationWriter.serialize(stack)
    assert source == "storage_mixins.Fallback('local', storage_mixins.ReadOnly('production'))"
    assert SECRET not in json.dumps(stack.deconstruct())


def test_default_storage_is_its_alias(settings: Any) -> None:
    from django.core.files.storage import default_storage

    stack = ReadOnly(default_storage)
    assert stack.deconstruct()[1] == ("default",)
    assert rebuilt_from_json(stack).__wrapped__ is storages["default"]


# -- migrations --------------------------------------------------------------


def test_migrations_read_as_before_and_rebuild_an_equal_stack(local: Any, production: Any) -> None:
    stack = Fallback(local, ReadOnly(production))
    source, imports = MigrationWriter.serialize(stack)
    assert source == (
        "storage_mixins.Fallback("
        f"django.core.files.storage.FileSystemStorage(base_url='/local/', location={local.base_location!r}), "
        "storage_mixins.ReadOnly("
        f"django.core.files.storage.FileSystemStorage(base_url='/prod/', location={production.base_location!r})))"
    )
    assert imports == {"import django.core.files.storage", "import storage_mixins"}
    rebuilt = rebuilt_from_migration(stack)
    assert rebuilt == stack
    assert read(rebuilt, "photos/a.jpg") == b"production a"
    detector = MigrationAutodetector(ProjectState(), ProjectState())
    assert detector.deep_deconstruct(rebuilt) == detector.deep_deconstruct(stack)
    # A stack rebuilt from JSON is the same to the autodetector as well.
    assert detector.deep_deconstruct(rebuilt_from_json(stack)) == detector.deep_deconstruct(stack)


def test_pickle_and_copies_of_a_stack_built_from_dicts(local: Any, production: Any) -> None:
    stack = rebuilt_from_json(Fallback(local, ReadOnly(production)))
    duplicate = pickle.loads(pickle.dumps(stack))
    assert duplicate == stack
    assert read(duplicate, "photos/a.jpg") == b"production a"
    # The deconstructed data pickles too (a task queue may pickle it).
    assert pickle.loads(pickle.dumps(stack.deconstruct())) == stack.deconstruct()


# -- what cannot be rebuilt from plain data keeps today's behaviour ----------


@deconstructible
class Tagged(InMemoryStorage):
    """A storage whose options are not plain data."""

    def __init__(self, tag: object = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.tag = tag


class Undeconstructible(Storage):
    """A storage with no deconstruct() at all."""

    def exists(self, name: str) -> bool:
        return False

    def _open(self, name: str, mode: str = "rb") -> Any:
        raise FileNotFoundError(name)


def _local_class_storage() -> Any:
    @deconstructible
    class Local(InMemoryStorage):
        pass

    return Local()


@pytest.mark.parametrize(
    "make_layer",
    [
        lambda: Tagged(tag=object()),
        lambda: Undeconstructible(),
        _local_class_storage,
    ],
    ids=["options-not-plain-data", "no-deconstruct", "deconstruct-fails"],
)
def test_a_layer_that_cannot_be_rebuilt_leaves_the_arguments_as_given(
    make_layer: Any, local: Any
) -> None:
    layer = make_layer()
    stack = Fallback(local, ReadOnly(layer))
    path, args, kwargs = stack.deconstruct()
    assert path == "storage_mixins.Fallback"
    assert args[0] is local
    assert args[1].__wrapped__ is layer
    assert kwargs == {}


def test_logging_with_a_logger_object_keeps_it() -> None:
    logger = logging.getLogger("media")
    stack = Logging(InMemoryStorage(), logger=logger)
    assert stack.deconstruct()[2] == {"logger": logger}
    assert Logging(InMemoryStorage(), logger="media").deconstruct() == (
        "storage_mixins.Logging",
        ({"BACKEND": MEM},),
        {"logger": "media"},
    )


# -- dicts as layers, and what they may name ---------------------------------


def test_wrappers_accept_storage_dicts(local: Any) -> None:
    stack = Fallback(
        {"BACKEND": FS, "OPTIONS": {"location": local.base_location}},
        ReadOnly({"BACKEND": "storage_mixins.ReadOnly", "OPTIONS": {"storage": "production"}}),
    )
    assert isinstance(stack.layers[0], FileSystemStorage)
    assert stack.layers[1].__wrapped__.__wrapped__ is storages["production"]
    assert Caching(InMemoryStorage(), contents={"BACKEND": FS}).deconstruct()[2] == {
        "contents": {"BACKEND": FS}
    }


HOSTILE_BACKENDS = [
    ("os.system", "is not a storage class"),  # a function: would run a command
    ("subprocess.Popen", "is not a storage class"),  # a class, not a storage
    ("builtins.eval", "is not a storage class"),
    ("django.core.files.storage.storages", "is not a storage class"),  # an instance
    ("storage_mixins.base._rebuild", "is not a storage class"),
    ("no.such.Storage", "Could not find backend 'no.such.Storage'"),
    (FileSystemStorage, "BACKEND must be a dotted path"),
    (["os", "system"], "BACKEND must be a dotted path"),
]


@pytest.mark.parametrize(("backend", "message"), HOSTILE_BACKENDS)
@pytest.mark.parametrize(
    "build",
    [
        lambda spec: ReadOnly(spec),
        lambda spec: Fallback("local", spec),
        lambda spec: Caching(InMemoryStorage(), contents=spec),
        lambda spec: FallbackStorage(["local", spec]),
        # Nested, as a tampered task argument could nest it.
        lambda spec: Fallback({"BACKEND": "storage_mixins.ReadOnly", "OPTIONS": {"storage": spec}}),
    ],
    ids=["ReadOnly", "Fallback", "Caching-contents", "FallbackStorage", "nested"],
)
def test_a_dict_can_only_build_a_storage(
    backend: Any, message: str, build: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    marker = tmp_path / "ran"
    called: list[Any] = []
    monkeypatch.setattr("os.system", lambda *a, **k: called.append(a))
    spec = {"BACKEND": backend, "OPTIONS": {"command": f"touch {marker}"}}
    with pytest.raises(ImproperlyConfigured, match=message):
        build(spec)
    assert called == []
    assert not marker.exists()


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"OPTIONS": {}}, "has no 'BACKEND' key"),
        ({"BACKEND": FS, "OPTION": {"location": "/"}}, "keys other than 'BACKEND' and 'OPTIONS'"),
        ({"BACKEND": FS, "OPTIONS": ["/"]}, "OPTIONS must be a dict"),
        ({"BACKEND": FS, "OPTIONS": {1: "/"}}, "OPTIONS must be a dict"),
    ],
)
def test_malformed_dicts(spec: Any, message: str) -> None:
    with pytest.raises(ImproperlyConfigured, match=message):
        ReadOnly(spec)


def test_errors_do_not_show_the_options() -> None:
    spec = {"BACKEND": "storages.backends.s3.S3Storage", "OPTION": {"secret_key": SECRET}}
    with pytest.raises(ImproperlyConfigured) as error:
        ReadOnly(spec)
    assert SECRET not in str(error.value)
    assert "'OPTION'" in str(error.value)


def test_dotted_paths_given_to_fallback_storage_must_name_storage_classes() -> None:
    with pytest.raises(ImproperlyConfigured, match="is not a storage class"):
        FallbackStorage(["local", "os.getcwd"])


def test_a_string_is_only_ever_an_alias_to_a_wrapper() -> None:
    from django.core.files.storage import InvalidStorageError

    # No dotted path is imported for a wrapper: a string names an alias.
    with pytest.raises(InvalidStorageError, match="Could not find config"):
        Fallback("local", FS)


def test_a_decorated_storage_class_is_its_own_dict(local: Any) -> None:
    """Its arguments are the decorated class's, and it rebuilds its whole stack."""
    from tests.testapp.storages import ArchiveMemory

    archive = ArchiveMemory(base_url="https://archive.example/")
    stack = Fallback(local, archive)
    (_, spec), _ = stack.deconstruct()[1:]
    assert spec == {
        "BACKEND": "tests.testapp.storages.ArchiveMemory",
        "OPTIONS": {"base_url": "https://archive.example/"},
    }
    rebuilt = rebuilt_from_json(stack)
    assert rebuilt == stack
    assert isinstance(rebuilt.layers[1], Caching)
    assert rebuilt.layers[1].refuses_writes
    positional = Fallback(local, ArchiveMemory(None, "https://archive.example/"))
    assert positional.deconstruct()[1][1]["OPTIONS"] == {
        "location": None,
        "base_url": "https://archive.example/",
    }
