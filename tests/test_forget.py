"""``manage.py storage_forget``: after a new dump, forget what the caches know
(issue 23, item 8).

A listing cached before production gained a file answers "missing" for it
until it expires (``missing_timeout``). The command forgets, under prefixes or
everywhere, in every ``Caching`` over the stack's backends and in every process
sharing their cache.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.files.storage import storages
from django.core.management import call_command
from django.core.management.base import CommandError

from storage_mixins import Caching


@pytest.fixture
def configure(s3: Any, settings: Any, use_storages: Any, tmp_path: Path) -> Any:
    """The recommended stack, production first, cached per layer
    (``"production"``) and as a whole (``"media"``), on the cache ``cache``."""

    def configure(cache: str = "default") -> dict[str, Any]:
        s3.put("photos/old.jpg", b"old")
        s3.put("docs/old.pdf", b"old")
        config = {
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
                "BACKEND": "storage_mixins.Caching",
                "OPTIONS": {"storage": "production-s3", "cache": cache, "timeout": 3600},
            },
            "production-s3": s3.settings(),
            "local": {
                "BACKEND": "django.core.files.storage.FileSystemStorage",
                "OPTIONS": {"location": str(tmp_path / "local")},
            },
        }
        use_storages(config)
        return config

    return configure


def forget(*args: str) -> str:
    out = StringIO()
    call_command("storage_forget", *args, stdout=out)
    return out.getvalue()


def test_a_new_dump_is_seen_once_forgotten(configure: Any, s3: Any) -> None:
    configure()
    default, media = storages["default"], storages["media"]
    for stack in (default, media):  # listings cached: the new files are "missing"
        assert stack.exists("photos/old.jpg")
        assert not stack.exists("photos/new.jpg")
        assert stack.listdir("photos") == ([], ["old.jpg"])
    s3.put("photos/new.jpg", b"new")  # production gains a file; the dump refers to it
    assert not default.exists("photos/new.jpg")  # stale, for up to missing_timeout
    assert not media.exists("photos/new.jpg")
    s3.server.clear_requests()
    output = forget()
    assert output == (
        "Forgot 4 name(s) under '' in 2 Caching(s) (cache 'default'), for every process "
        "that shares them\n"
    )
    # One listing of production, and nothing written.
    assert s3.server.counts() == {"GET": 1}
    for stack in (default, media):
        assert stack.exists("photos/new.jpg")
        assert sorted(stack.listdir("photos")[1]) == ["new.jpg", "old.jpg"]


def test_a_prefix_forgets_that_prefix_only(configure: Any, s3: Any) -> None:
    configure()
    media = storages["media"]
    assert not media.exists("photos/new.jpg")
    assert not media.exists("docs/new.pdf")
    s3.put("photos/new.jpg", b"new")
    s3.put("docs/new.pdf", b"new")
    assert "Forgot 3 name(s) under 'photos'" in forget("photos/")
    assert media.exists("photos/new.jpg")
    assert not media.exists("docs/new.pdf")  # still cached, until forgotten or expired
    forget("docs")
    assert media.exists("docs/new.pdf")


def test_a_prefix_that_names_a_file(configure: Any, s3: Any) -> None:
    configure()
    media = storages["media"]
    assert not media.exists("photos/new.jpg")
    s3.put("photos/new.jpg", b"new")
    forget("photos/new.jpg")
    assert media.exists("photos/new.jpg")


def test_every_process_sharing_the_cache_forgets(
    configure: Any, s3: Any, redis_cache: str, tmp_path: Path
) -> None:
    """The command runs in a process of its own; this one sees the change."""
    config = configure(cache=redis_cache)
    media = storages["media"]
    assert not media.exists("photos/new.jpg")
    s3.put("photos/new.jpg", b"new")
    assert not media.exists("photos/new.jpg")
    from django.conf import settings

    module = tmp_path / "forget_settings.py"
    module.write_text(
        textwrap.dedent(
            f"""
            from tests.settings import *  # noqa: F403
            STORAGES = {config!r}
            CACHES = {settings.CACHES!r}
            """
        )
    )
    finished = subprocess.run(
        [sys.executable, "-m", "django", "storage_forget", "photos", "--storage", "media"],
        env={
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "forget_settings",
            "PYTHONPATH": os.pathsep.join([str(tmp_path), os.getcwd()]),
        },
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert finished.returncode == 0, finished.stderr
    assert "Forgot 3 name(s) under 'photos' in 2 Caching(s) (cache 'redis')" in finished.stdout
    assert media.exists("photos/new.jpg")


def test_a_caching_built_outside_storages_is_told_by_invalidate_many(
    configure: Any, s3: Any
) -> None:
    configure()
    own = Caching(storages["production-s3"], timeout=3600)
    assert not own.exists("photos/new.jpg")
    s3.put("photos/new.jpg", b"new")
    own.invalidate_many(["photos/new.jpg"])
    assert own.exists("photos/new.jpg")


def test_nothing_to_forget_without_caching(configure: Any, use_storages: Any) -> None:
    config = configure()
    use_storages({k: v for k, v in config.items() if k not in ("media", "production")}
                 | {"production": config["production-s3"]})  # fmt: skip
    assert forget() == "No Caching keeps facts of the files of 'default': nothing to forget\n"


def test_a_hostile_prefix_is_refused(configure: Any) -> None:
    configure()
    with pytest.raises(CommandError, match=r"'\.\./x': "):
        forget("../x")


def test_a_bucket_that_cannot_be_listed_is_one_line(configure: Any, use_storages: Any) -> None:
    config = configure()
    config["production-s3"]["OPTIONS"]["bucket_name"] = "no-such-bucket"
    use_storages(config)
    with pytest.raises(CommandError, match="NoSuchBucket from ListObjectsV2"):
        forget()
