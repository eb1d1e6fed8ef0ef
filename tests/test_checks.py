"""System checks, asserted by id."""

from __future__ import annotations

from typing import Any

import pytest
from django.core import checks
from django.core.management import call_command
from django.core.management.base import SystemCheckError

LOCAL = {"BACKEND": "django.core.files.storage.FileSystemStorage"}
MEMORY = {"BACKEND": "django.core.files.storage.InMemoryStorage"}


@pytest.fixture
def check(settings: Any, use_storages: Any) -> Any:
    def run(storages: dict[str, Any], **other_settings: Any) -> list[str]:
        for name, value in other_settings.items():
            setattr(settings, name, value)
        use_storages({"default": MEMORY, "staticfiles": MEMORY, **storages})
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
                "archive": {"BACKEND": "storage_mixins.ReadOnly", "OPTIONS": {"storage": "prod"}},
                "cached": {"BACKEND": "storage_mixins.Caching", "OPTIONS": {"storage": "media"}},
                "local": LOCAL,
                "prod": MEMORY,
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
    "storages",
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
def test_e002_unresolved_references(check: Any, storages: dict[str, Any]) -> None:
    assert check({**storages, "local": LOCAL}) == ["storage_mixins.E002"]


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
            "archive": {"BACKEND": "storage_mixins.ReadOnly", "OPTIONS": {"storage": "local"}},
            "local": LOCAL,
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
