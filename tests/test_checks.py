"""System checks, asserted by id."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from django.apps import apps
from django.core import checks
from django.core.files.storage import Storage
from django.core.management import call_command
from django.core.management.base import SystemCheckError

from storage_mixins import FallbackStorage, ReadOnly
from tests.test_documentation import ROOT, _sources

LOCAL = {"BACKEND": "django.core.files.storage.FileSystemStorage"}
MEMORY = {"BACKEND": "django.core.files.storage.InMemoryStorage"}
S3 = {"BACKEND": "storages.backends.s3.S3Storage", "OPTIONS": {"bucket_name": "production-media"}}
FALLBACK = "storage_mixins.FallbackStorage"


@pytest.fixture
def check(settings: Any, use_storages: Any) -> Any:
    def run(config: dict[str, Any], **other_settings: Any) -> list[str]:
        for name, value in other_settings.items():
            setattr(settings, name, value)
        use_storages({"default": MEMORY, "staticfiles": MEMORY, **config})
        return sorted(message.id for message in checks.run_checks(tags=["storage_mixins"]))

    return run


def test_a_good_configuration_passes(check: Any) -> None:
    assert (
        check(
            {
                "media": {
                    "BACKEND": "storage_mixins.FallbackStorage",
                    "OPTIONS": {"backends": ["local", "archive"]},
                },
                "archive": {"BACKEND": "storage_mixins.ReadOnly", "OPTIONS": {"storage": MEMORY}},
                "cached": {"BACKEND": "storage_mixins.Caching", "OPTIONS": {"storage": "media"}},
                "local": LOCAL,
            }
        )
        == []
    )


def test_e001_fallback_storage_without_backends(check: Any, settings: Any) -> None:
    if hasattr(settings, "FALLBACK_STORAGES"):
        del settings.FALLBACK_STORAGES
    assert check({"media": {"BACKEND": "storage_mixins.FallbackStorage"}}) == [
        "storage_mixins.E001"
    ]
    assert (
        check(
            {"media": {"BACKEND": "storage_mixins.FallbackStorage"}, "local": LOCAL},
            FALLBACK_STORAGES=["local"],
        )
        == []
    )


@pytest.mark.parametrize(
    "config",
    [
        {"media": {"BACKEND": "storage_mixins.ReadOnly", "OPTIONS": {"storage": "nope"}}},
        {"media": {"BACKEND": "storage_mixins.Fallback", "OPTIONS": {"layers": ["local", "x"]}}},
        {
            "media": {
                "BACKEND": "storage_mixins.FallbackStorage",
                "OPTIONS": {"backends": ["local", "no.such.Storage"]},
            }
        },
        {
            "media": {
                "BACKEND": "storage_mixins.FallbackStorage",
                "OPTIONS": {"backends": ["local", {"BACKEND": "no.such.Storage"}]},
            }
        },
        {
            "media": {
                "BACKEND": "storage_mixins.Caching",
                "OPTIONS": {"storage": "local", "cache": "nope"},
            }
        },
        {
            "media": {
                "BACKEND": "storage_mixins.Caching",
                "OPTIONS": {"storage": "local", "contents": "nope"},
            }
        },
    ],
    ids=["alias", "layer", "dotted-path", "dict", "cache", "contents"],
)
def test_e002_unresolved_references(check: Any, config: dict[str, Any]) -> None:
    assert check({**config, "local": LOCAL}) == ["storage_mixins.E002"]


def test_e003_a_stack_that_cannot_be_built(check: Any) -> None:
    assert check(
        {
            "media": {"BACKEND": "storage_mixins.Fallback", "OPTIONS": {"layers": ["local"]}},
            "local": {"BACKEND": "django.core.files.storage.FileSystemStorage",
                      "OPTIONS": {"no_such_option": 1}},
        }
    ) == ["storage_mixins.E003"]  # fmt: skip


def test_w001_every_layer_read_only(check: Any) -> None:
    assert check(
        {
            "media": {
                "BACKEND": "storage_mixins.Fallback",
                "OPTIONS": {"layers": ["archive", "archive"]},
            },
            "archive": {"BACKEND": "storage_mixins.ReadOnly", "OPTIONS": {"storage": LOCAL}},
        }
    ) == ["storage_mixins.W001"]


def test_w002_caching_on_a_dummy_cache(check: Any) -> None:
    assert check(
        {
            "media": {
                "BACKEND": "storage_mixins.Caching",
                "OPTIONS": {"storage": "local", "cache": "dummy"},
            },
            "local": LOCAL,
        }
    ) == ["storage_mixins.W002"]


def test_manage_py_check_reports_them(check: Any) -> None:
    check({"media": {"BACKEND": "storage_mixins.ReadOnly", "OPTIONS": {"storage": "nope"}}})
    with pytest.raises(SystemCheckError, match=r"(?s)storage_mixins\.E002.*'nope'.*HINT"):
        call_command("check")


def test_every_message_has_a_hint(check: Any, settings: Any) -> None:
    if hasattr(settings, "FALLBACK_STORAGES"):
        del settings.FALLBACK_STORAGES
    check(
        {
            "a": {"BACKEND": "storage_mixins.FallbackStorage"},
            "b": {"BACKEND": "storage_mixins.ReadOnly", "OPTIONS": {"storage": "nope"}},
            "c": {"BACKEND": "storage_mixins.Caching",
                  "OPTIONS": {"storage": "local", "cache": "dummy"}},
            "local": LOCAL,
        }
    )  # fmt: skip
    messages = checks.run_checks(tags=["storage_mixins"])
    assert len(messages) == 3
    assert all(message.hint for message in messages)


def messages_of(check_id: str) -> list[checks.CheckMessage]:
    return [m for m in checks.run_checks(tags=["storage_mixins"]) if m.id == check_id]


# -- W003: production reachable writable beside the stack ----------------------


# The quick start of 0.1.0: only the copy inside FallbackStorage was read-only.
WRITABLE_BESIDE = {
    "default": {"BACKEND": FALLBACK, "OPTIONS": {"backends": ["production", "local"],
                                                 "writable": "local"}},
    "production": {"BACKEND": "storage_mixins.Caching", "OPTIONS": {"storage": "production-s3"}},
    "production-s3": S3,
    "local": LOCAL,
}  # fmt: skip

# Read-only by construction: the bucket is nested in the read-only alias.
READ_ONLY_ALIAS = {
    "default": {"BACKEND": FALLBACK, "OPTIONS": {"backends": ["production", "local"],
                                                 "writable": "local"}},
    "production": {"BACKEND": "storage_mixins.ReadOnly", "OPTIONS": {"storage": {
        "BACKEND": "storage_mixins.Caching", "OPTIONS": {"storage": S3}}}},
    "local": LOCAL,
}  # fmt: skip


def test_w003_a_production_alias_writable_beside_the_stack(check: Any) -> None:
    assert check(WRITABLE_BESIDE) == ["storage_mixins.W003"] * 2
    caching, message = messages_of("storage_mixins.W003")
    assert (caching.obj, message.obj) == ("production", "production-s3")
    assert "STORAGES['production-s3'] can write to" in message.msg
    assert "S3Storage('production-media')" in message.msg
    assert "STORAGES['default'] reads as read-only" in message.msg
    assert "storage_mixins.ReadOnly" in message.hint


def test_w003_the_read_only_alias_passes(check: Any) -> None:
    assert check(READ_ONLY_ALIAS) == []
    assert check({**READ_ONLY_ALIAS, "cached": {"BACKEND": "storage_mixins.Caching",
                                                "OPTIONS": {"storage": "production"}}}) == []  # fmt: skip


def test_w003_caching_over_read_only_passes_too(check: Any) -> None:
    production = {"BACKEND": "storage_mixins.Caching", "OPTIONS": {"storage": {
        "BACKEND": "storage_mixins.ReadOnly", "OPTIONS": {"storage": S3}}}}  # fmt: skip
    assert check({**READ_ONLY_ALIAS, "production": production}) == []


@pytest.mark.parametrize(
    "writable",
    [
        S3,
        {"BACKEND": "storage_mixins.Logging", "OPTIONS": {"storage": "production-s3"}},
        {"BACKEND": "storage_mixins.Caching", "OPTIONS": {"storage": "production-s3"}},
    ],
    ids=["the-backend", "logging", "caching"],
)
def test_w003_a_read_only_alias_over_a_writable_one(check: Any, writable: Any) -> None:
    # docs/recipes.rst of 0.1.0: STORAGES["default"] = ReadOnly("production").
    config = {
        "default": {"BACKEND": "storage_mixins.ReadOnly", "OPTIONS": {"storage": "production"}},
        "production": writable,
        "production-s3": S3,
    }
    assert "storage_mixins.W003" in check(config)
    # "production-s3" too: an alias of the same bucket, whether built or not.
    assert [m.obj for m in messages_of("storage_mixins.W003")] == ["production", "production-s3"]


def test_w003_an_alias_configured_as_a_read_only_layer_is(check: Any, settings: Any) -> None:
    # The layers are built apart from the aliases, but the same bucket:
    # django-fallback-storage's dotted paths, or a dict.
    assert check(
        {"default": {"BACKEND": FALLBACK}, "local": LOCAL,
         "s3": {"BACKEND": "storages.backends.s3.S3Storage"}},
        FALLBACK_STORAGES=["local", "storages.backends.s3.S3Storage"],
    ) == ["storage_mixins.W003"]  # fmt: skip
    assert check(
        {"default": {"BACKEND": FALLBACK, "OPTIONS": {"backends": ["local", S3]}},
         "local": LOCAL, "s3": S3},
        FALLBACK_STORAGES=None,
    ) == ["storage_mixins.W003"]  # fmt: skip
    # Another bucket is another store; in-memory storages never share files.
    other = {**S3, "OPTIONS": {"bucket_name": "elsewhere"}}
    assert check(
        {"default": {"BACKEND": FALLBACK, "OPTIONS": {"backends": ["local", S3, MEMORY]}},
         "local": LOCAL, "s3": other, "mem": MEMORY},
    ) == []  # fmt: skip


def test_w003_a_write_layer_on_the_directory_of_a_read_only_layer(
    check: Any, tmp_path: Path
) -> None:
    media = {**LOCAL, "OPTIONS": {"location": str(tmp_path / "media")}}
    assert check(
        {"default": {"BACKEND": FALLBACK, "OPTIONS": {"backends": ["local", {**media}]}},
         "local": media}
    ) == ["storage_mixins.W003"] * 2  # fmt: skip
    assert [m.obj for m in messages_of("storage_mixins.W003")] == ["default", "local"]


def test_w003_a_model_fields_stack(check: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    check({"local": LOCAL, "production-s3": S3})
    field = apps.get_model("testapp", "Photo")._meta.get_field("original")
    monkeypatch.setattr(field, "storage", FallbackStorage(["local", "production-s3"]))
    [message] = messages_of("storage_mixins.W003")
    assert message.obj == "production-s3"
    assert "testapp.Photo.original reads as read-only" in message.msg


def test_w003_sends_no_request_and_builds_no_unreferenced_alias(
    check: Any, s3: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    built: list[str] = []

    class Recorded(Storage):
        def __init__(self, **options: Any) -> None:
            built.append("built")  # a manifest storage reads its manifest here

    monkeypatch.setattr("tests.test_checks.Recorded", Recorded, raising=False)
    production = s3.settings()
    s3.server.clear_requests()
    assert check(
        {**WRITABLE_BESIDE, "production-s3": production,
         "manifest": {"BACKEND": "tests.test_checks.Recorded"}}
    ) == ["storage_mixins.W003"] * 2  # fmt: skip
    assert check({**READ_ONLY_ALIAS, "production": {"BACKEND": "storage_mixins.ReadOnly",
                  "OPTIONS": {"storage": production}}}) == []  # fmt: skip
    assert s3.server.requests() == []
    assert built == []


def test_every_stack_of_the_configuration_reference_passes(
    check: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """docs/configuration.rst's settings, as written: no alias writes to a
    storage that a stack reads as read-only."""
    checked = 0
    for source in _sources(ROOT / "docs" / "configuration.rst"):
        namespace: dict[str, Any] = {"tmp_path": tmp_path}
        exec(compile(source, "configuration.rst", "exec"), namespace)
        if "STORAGES" in namespace:
            ids = check(namespace["STORAGES"], FALLBACK_STORAGES=namespace.get("FALLBACK_STORAGES"))
            assert ids == [], source
            checked += 1
    assert checked >= 3


# -- nested storage dicts ------------------------------------------------------


def test_e002_inside_a_nested_storage_dict(check: Any) -> None:
    nested = {"BACKEND": "storage_mixins.Caching", "OPTIONS": {"storage": "local", "cache": "nope"}}
    assert check(
        {"media": {"BACKEND": "storage_mixins.ReadOnly", "OPTIONS": {"storage": nested}},
         "local": LOCAL}
    ) == ["storage_mixins.E002"]  # fmt: skip


def test_w002_inside_a_nested_storage_dict(check: Any) -> None:
    nested = {"BACKEND": "storage_mixins.Caching", "OPTIONS": {"storage": LOCAL, "cache": "dummy"}}
    assert check(
        {"media": {"BACKEND": "storage_mixins.ReadOnly", "OPTIONS": {"storage": nested}}}
    ) == ["storage_mixins.W002"]  # fmt: skip


# -- W004: storage settings Django ignores ---------------------------------------


@pytest.mark.parametrize(
    ("setting", "value", "fix"),
    [
        ("DEFAULT_FILE_STORAGE", "fallback_storage.storage.FallbackStorage",
         "storage_mixins.FallbackStorage"),
        ("DEFAULT_FILE_STORAGE", "storage_mixins.FallbackStorage", "storage_mixins.FallbackStorage"),
        ("STATICFILES_STORAGE", "myproject.storages.Static", "myproject.storages.Static"),
    ],
)  # fmt: skip
def test_w004_a_storage_setting_django_ignores(
    check: Any, setting: str, value: str, fix: str
) -> None:
    assert check({}, **{setting: value}) == ["storage_mixins.W004"]
    [message] = messages_of("storage_mixins.W004")
    assert message.obj == setting
    assert "ignored" in message.msg and "Django 5.1" in message.msg
    assert "InMemoryStorage" in message.msg  # what runs instead
    assert f"Delete {setting}" in message.hint and repr(fix) in message.hint


# -- W005: FALLBACK_STORAGES that nothing reads --------------------------------


def test_w005_fallback_storages_that_nothing_reads(check: Any) -> None:
    explicit = {"BACKEND": FALLBACK, "OPTIONS": {"backends": ["local", {**MEMORY}]}}
    assert check(
        {"media": explicit, "local": LOCAL}, FALLBACK_STORAGES=["local"]
    ) == ["storage_mixins.W005"]  # fmt: skip
    [message] = messages_of("storage_mixins.W005")
    assert message.obj == "FALLBACK_STORAGES"
    assert "Delete FALLBACK_STORAGES" in message.hint
    # Read by an alias, nested or not.
    assert (
        check({"media": {"BACKEND": FALLBACK}, "local": LOCAL}, FALLBACK_STORAGES=["local"]) == []
    )
    nested = {"BACKEND": "storage_mixins.Caching", "OPTIONS": {"storage": {"BACKEND": FALLBACK}}}
    assert check({"media": nested, "local": LOCAL}, FALLBACK_STORAGES=["local"]) == []


def test_w005_a_model_field_reads_it(check: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    check({"local": LOCAL}, FALLBACK_STORAGES=["local"])
    field = apps.get_model("testapp", "Document")._meta.get_field("file")
    monkeypatch.setattr(field, "storage", ReadOnly(FallbackStorage()))
    assert messages_of("storage_mixins.W005") == []


# -- W006: sorl-thumbnail without the store that records aliases ---------------


@pytest.fixture
def sorl_installed(monkeypatch: pytest.MonkeyPatch) -> None:
    """sorl-thumbnail in INSTALLED_APPS (its real test is in tests_apps)."""
    installed = apps.is_installed
    monkeypatch.setattr(
        apps, "is_installed", lambda name: name == "sorl.thumbnail" or installed(name)
    )


@pytest.mark.usefixtures("sorl_installed")
def test_w006_sorl_thumbnail_without_the_kvstore(check: Any, settings: Any) -> None:
    stack = {
        "media": {"BACKEND": FALLBACK, "OPTIONS": {"backends": ["local", MEMORY]}},
        "local": LOCAL,
    }
    assert check(stack) == ["storage_mixins.W006"]
    [message] = messages_of("storage_mixins.W006")
    assert "THUMBNAIL_KVSTORE = 'storage_mixins.contrib.sorl.KVStore'" in message.hint
    assert check(stack, THUMBNAIL_KVSTORE="sorl.thumbnail.kvstores.cached_db_kvstore.KVStore") == [
        "storage_mixins.W006"
    ]
    assert check(stack, THUMBNAIL_KVSTORE="storage_mixins.contrib.sorl.KVStore") == []
    del settings.THUMBNAIL_KVSTORE
    assert check({"local": LOCAL}) == []  # no stack: sorl's own store records it well


def test_w006_not_without_sorl(check: Any) -> None:
    assert (
        check({"media": {"BACKEND": FALLBACK, "OPTIONS": {"backends": ["local"]}}, "local": LOCAL})
        == []
    )
