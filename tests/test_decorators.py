"""Class decorators: a storage class wrapped where it is defined."""

from __future__ import annotations

import copy
import logging
import pickle
from typing import Any

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import InMemoryStorage, storages
from django.db.migrations.autodetector import MigrationAutodetector
from django.db.migrations.state import ProjectState
from django.db.migrations.writer import MigrationWriter
from storages.backends.s3 import S3Storage

from storage_mixins import (
    Caching,
    Fallback,
    FallbackStorage,
    Logging,
    ReadOnly,
    ReadOnlyError,
    cached,
    describe,
    is_read_only,
    logged,
    read_only,
)
from storage_mixins.core.stack import walk
from storage_mixins.decorators import StackedStorageType, wrapped_by
from tests.conformance import read
from tests.testapp.storages import (
    ArchiveMemory,
    CachedDisk,
    CachedMemory,
    LoggedThumbnails,
    ProductionMedia,
    ProductionThumbnails,
    ReadOnlyMemory,
)

PATH = "tests.testapp.storages"


def test_storages_builds_the_wrapper_around_the_class(s3: Any, use_storages: Any) -> None:
    s3.put("media/photos/cat.jpg", b"production cat")
    options = s3.settings()["OPTIONS"]
    use_storages({"production": {"BACKEND": f"{PATH}.ProductionMedia", "OPTIONS": options}})
    production = storages["production"]
    assert type(production) is ReadOnly
    inner = production.__wrapped__
    assert type(inner) is ProductionMedia  # the OPTIONS went to the storage class
    assert inner.bucket_name == "production-media"
    assert inner.location == "media"
    assert isinstance(production, ProductionMedia)
    assert isinstance(production, S3Storage)
    assert read(production, "photos/cat.jpg") == b"production cat"
    with pytest.raises(ReadOnlyError):
        production.save("photos/dog.jpg", ContentFile(b"dog"))
    with pytest.raises(ReadOnlyError):
        production.delete("photos/cat.jpg")
    assert s3.server.mutations("production-media") == []  # refused before any request


def test_the_class_keeps_its_name_module_and_docstring() -> None:
    assert ProductionMedia.__name__ == "ProductionMedia"
    assert ProductionMedia.__qualname__ == "ProductionMedia"
    assert ProductionMedia.__module__ == PATH
    assert ProductionMedia.__doc__ == "Production's media, never written."
    assert isinstance(ProductionMedia, StackedStorageType)
    assert issubclass(ProductionMedia, S3Storage)
    assert ProductionMedia.__storage_wrappers__ == ((ReadOnly, {}),)


def test_decorator_arguments_go_to_the_wrapper() -> None:
    storage = ArchiveMemory(base_url="https://archive.example/")
    assert type(storage) is Caching
    assert storage._self_timeout == 60
    assert storage.base_url == "https://archive.example/"
    assert storage.cache_alias == "default"


@pytest.mark.parametrize(
    ("decorated", "nested"),
    [
        (ArchiveMemory, lambda inner: Caching(ReadOnly(inner), timeout=60)),
        (CachedMemory, lambda inner: ReadOnly(Caching(inner, timeout=60))),
        (CachedDisk, lambda inner: Caching(inner)),
        (ReadOnlyMemory, ReadOnly),
    ],
    ids=["cached-over-read_only", "read_only-over-cached", "bare-cached", "read_only"],
)
def test_decorators_stack_as_the_wrappers_nest(decorated: type, nested: Any) -> None:
    storage = decorated()
    inner = [node for _, node in walk(storage)][-1]
    assert type(inner) is decorated
    expected = nested(inner)
    assert [type(node) for _, node in walk(storage)] == [type(node) for _, node in walk(expected)]
    assert describe(storage) == describe(expected)
    assert repr(storage) == repr(expected)
    assert is_read_only(storage) == is_read_only(expected)


def test_repr_and_describe_show_the_stack() -> None:
    storage = ArchiveMemory()
    assert repr(storage) == "Caching(ReadOnly(ArchiveMemory()), timeout=60)"
    assert describe(storage) == (
        "Caching  (cache='default', timeout=60)\n"
        "└── ReadOnly  (refuses writes)\n"
        "    └── ArchiveMemory()"
    )


def test_a_subclass_of_a_decorated_class_is_decorated_the_same_way(s3: Any) -> None:
    s3.put("thumbnails/cat.jpg", b"thumb")
    thumbnails = ProductionThumbnails(**s3.settings()["OPTIONS"])
    assert type(thumbnails) is ReadOnly
    assert type(thumbnails.__wrapped__) is ProductionThumbnails
    assert thumbnails.location == "thumbnails"  # its own attributes
    assert isinstance(thumbnails, ProductionMedia)
    assert read(thumbnails, "cat.jpg") == b"thumb"
    with pytest.raises(ReadOnlyError):
        thumbnails.save("dog.jpg", ContentFile(b"dog"))
    assert thumbnails.deconstruct()[0] == f"{PATH}.ProductionThumbnails"


def test_decorating_a_subclass_adds_an_outer_wrapper(
    s3: Any, caplog: pytest.LogCaptureFixture
) -> None:
    s3.put("thumbnails/cat.jpg", b"thumb")
    storage = LoggedThumbnails(**s3.settings()["OPTIONS"])
    assert repr(storage).startswith("Logging(ReadOnly(LoggedThumbnails('production-media/")
    with caplog.at_level(logging.DEBUG, logger="tests.decorated"):
        assert storage.exists("cat.jpg")
    assert [record.storage_call for record in caplog.records] == ["exists"]
    with pytest.raises(ReadOnlyError):
        storage.delete("cat.jpg")


def _serialized_round_trip(storage: Any) -> Any:
    source, imports = MigrationWriter.serialize(storage)
    namespace: dict[str, Any] = {}
    exec("\n".join(sorted(imports)), namespace)
    return source, eval(source, namespace)


def test_deconstruct_names_the_decorated_class_with_its_arguments() -> None:
    storage = ArchiveMemory(base_url="https://archive.example/")
    assert storage.deconstruct() == (
        f"{PATH}.ArchiveMemory",
        (),
        {"base_url": "https://archive.example/"},
    )
    source, rebuilt = _serialized_round_trip(storage)
    assert source == f"{PATH}.ArchiveMemory(base_url='https://archive.example/')"
    # The whole stack, once: not the wrappers around a rebuilt, rewrapped class.
    assert repr(rebuilt) == repr(storage)
    assert rebuilt == storage
    detector = MigrationAutodetector(ProjectState(), ProjectState())
    assert detector.deep_deconstruct(rebuilt) == detector.deep_deconstruct(storage)
    assert ArchiveMemory(base_url="https://other.example/") != storage


def test_a_hand_built_stack_still_deconstructs_as_the_wrappers(fs: Any) -> None:
    assert ReadOnly(fs).deconstruct()[0] == "storage_mixins.ReadOnly"
    assert ReadOnly(fs)._self_built_by is None


@pytest.mark.parametrize(
    "duplicate",
    [copy.copy, copy.deepcopy, lambda storage: pickle.loads(pickle.dumps(storage))],
    ids=["copy", "deepcopy", "pickle"],
)
def test_copies_rebuild_the_whole_stack(s3: Any, duplicate: Any) -> None:
    s3.put("media/a.txt", b"x")
    storage = ProductionMedia(**s3.settings()["OPTIONS"])
    duplicated = duplicate(storage)
    assert type(duplicated) is ReadOnly
    assert type(duplicated.__wrapped__) is ProductionMedia
    assert duplicated == storage
    assert repr(duplicated) == repr(storage)
    assert duplicated.deconstruct() == storage.deconstruct()
    assert read(duplicated, "a.txt") == b"x"
    with pytest.raises(ReadOnlyError):
        duplicated.save("b.txt", ContentFile(b"y"))


def test_the_inner_instance_copies_without_being_wrapped_again() -> None:
    inner = ReadOnlyMemory().__wrapped__
    assert type(copy.deepcopy(inner)) is ReadOnlyMemory
    assert type(pickle.loads(pickle.dumps(inner))) is ReadOnlyMemory


def test_fallback_storage_takes_a_decorated_class_without_wrapping_it_twice(
    s3: Any, settings: Any, use_storages: Any
) -> None:
    s3.put("media/cat.jpg", b"production cat")
    use_storages(
        {
            **settings.STORAGES,
            "production": {
                "BACKEND": f"{PATH}.ProductionMedia",
                "OPTIONS": s3.settings()["OPTIONS"],
            },
            "default": {
                "BACKEND": "storage_mixins.FallbackStorage",
                "OPTIONS": {"backends": ["local", "production"]},
            },
        }
    )
    stack = storages["default"]
    assert type(stack.layers[1]) is ReadOnly
    assert type(stack.layers[1].__wrapped__) is ProductionMedia
    assert read(stack, "cat.jpg") == b"production cat"
    assert stack.save("cat.jpg", ContentFile(b"dev")) != "cat.jpg"
    assert s3.server.mutations("production-media") == []


@pytest.mark.django_db
def test_fields_name_the_class_or_its_arguments_in_migrations(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from django.core.management import call_command

    from tests.testapp.models import DecoratedFiles

    image = DecoratedFiles._meta.get_field("image")
    assert type(image.storage) is ReadOnly
    assert isinstance(image.storage, ReadOnlyMemory)
    call_command("makemigrations", "testapp", dry_run=True, verbosity=3)
    migration = capsys.readouterr().out
    assert f"storage={PATH}.ReadOnlyMemory," in migration
    assert f"storage={PATH}.ArchiveMemory(base_url='https://archive.example/')," in migration


# -- refusals ------------------------------------------------------------------


def test_options_are_checked_when_decorating() -> None:
    with pytest.raises(TypeError, match=r"Caching has no option 'listing' \(it takes: cache, "):
        cached(listing=True)
    with pytest.raises(TypeError, match=r"Logging has no option 'lvl'"):
        logged(lvl="INFO")


def test_positional_options_are_refused() -> None:
    with pytest.raises(TypeError, match=r"its options are keywords, e.g. @cached\(...\)"):
        cached("storage")


def test_only_storage_classes_are_decorated() -> None:
    with pytest.raises(TypeError, match="is not a storage class"):

        @read_only
        class NotAStorage:
            pass

    with pytest.raises(TypeError, match="decorates a storage class"):
        read_only(InMemoryStorage())  # an instance, not a class


@pytest.mark.parametrize("wrapper_class", [Fallback, FallbackStorage, ReadOnly, Caching])
def test_wrapper_classes_are_refused(wrapper_class: type) -> None:
    with pytest.raises(
        TypeError, match="is a storage_mixins wrapper; decorate the storage it wraps"
    ):
        read_only(wrapper_class)


def test_wrapped_by_takes_only_wrapper_classes() -> None:
    with pytest.raises(TypeError, match="takes a storage_mixins wrapper class"):
        wrapped_by(InMemoryStorage)


def test_wrapped_by_makes_a_decorator_for_any_wrapper() -> None:
    @wrapped_by(Logging, level="INFO")
    class Noisy(InMemoryStorage):
        pass

    storage = Noisy()
    assert type(storage) is Logging
    assert storage._self_log.level == logging.INFO
    assert type(storage.__wrapped__) is Noisy


def test_option_values_are_checked_when_an_instance_is_built() -> None:
    @cached(cache="no-such-cache")
    class Misconfigured(InMemoryStorage):
        pass

    from django.core.cache.backends.base import InvalidCacheBackendError

    with pytest.raises(InvalidCacheBackendError):
        Misconfigured()


def test_a_storage_class_with_its_own_metaclass() -> None:
    import abc

    class Meta(abc.ABCMeta):
        pass

    class Base(InMemoryStorage, metaclass=Meta):
        pass

    Decorated = read_only(Base)
    assert isinstance(Decorated, Meta)
    assert isinstance(Decorated(), Base)
    assert type(Decorated()) is ReadOnly
