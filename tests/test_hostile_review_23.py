"""Hostile review of issue 23: attacks on what it added (``storage_forget``,
offline names under ``on_error="skip"``, ``storage_stack --check``'s probes,
the error notes, check W003). Each test here is an attack: those that found a
bug failed before its fix; the others stand as regression tests."""

from __future__ import annotations

from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.cache.backends.locmem import LocMemCache
from django.core.files.storage import storages
from django.core.management import call_command
from django.core.management.base import CommandError


class FlakyCache(LocMemCache):
    """A local-memory cache whose ``set_many`` fails while ``failing`` is set
    (a Redis that goes away in the middle of a command)."""

    failing = False

    def set_many(self, *args: Any, **kwargs: Any) -> Any:
        if FlakyCache.failing:
            raise ConnectionError("the cache went away")
        return super().set_many(*args, **kwargs)


# -- storage_forget ----------------------------------------------------------------


@pytest.fixture
def forgetting(s3: Any, settings: Any, use_storages: Any, tmp_path: Path) -> Any:
    """The recommended stack, production first and cached as a whole
    (``"media"``); production has ``photos/old.jpg``."""

    def configure(cache: str = "default") -> None:
        s3.put("photos/old.jpg", b"old")
        use_storages(
            {
                **settings.STORAGES,
                "default": {
                    "BACKEND": "storage_mixins.FallbackStorage",
                    "OPTIONS": {"backends": ["production", "local"], "writable": "local"},
                },
                "media": {
                    "BACKEND": "storage_mixins.Caching",
                    "OPTIONS": {"storage": "default", "cache": cache, "timeout": 3600},
                },
                "production": {
                    "BACKEND": "storage_mixins.ReadOnly",
                    "OPTIONS": {"storage": s3.settings()},
                },
                "local": {
                    "BACKEND": "django.core.files.storage.FileSystemStorage",
                    "OPTIONS": {"location": str(tmp_path / "local")},
                },
            }
        )

    return configure


def forget(*args: str) -> str:
    out = StringIO()
    call_command("storage_forget", *args, "--storage", "media", stdout=out)
    return out.getvalue()


@pytest.mark.parametrize("prefix", [".", "./photos", "photos//", "./photos/"])
def test_forget_a_prefix_spelled_another_way(forgetting: Any, s3: Any, prefix: str) -> None:
    """``.`` is the root and ``./photos`` is ``photos`` to the caches; S3 read
    them as key prefixes no key has, and forgot none of the files."""
    forgetting()
    media = storages["media"]
    assert not media.exists("photos/new.jpg")
    s3.put("photos/new.jpg", b"new")
    forget(prefix)
    assert media.exists("photos/new.jpg")


def test_forget_while_the_cache_fails_is_not_a_success(
    forgetting: Any, s3: Any, settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An invalidation that did not reach the cache is lost when the command's
    process exits: the command must say so, and exit non-zero."""
    settings.CACHES = {
        **settings.CACHES,
        "flaky": {"BACKEND": "tests.test_hostile_review_23.FlakyCache", "LOCATION": "flaky"},
    }
    forgetting(cache="flaky")
    media = storages["media"]
    assert not media.exists("photos/new.jpg")
    s3.put("photos/new.jpg", b"new")
    monkeypatch.setattr(FlakyCache, "failing", True)
    with pytest.raises(CommandError, match=r"did not reach cache 'flaky'"):
        forget()
