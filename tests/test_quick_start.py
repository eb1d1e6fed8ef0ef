"""The README's quick start, as written: its settings are parsed out of
README.rst and run with production's bucket on moto's S3 server, named in the
environment as the quick start says. No alias can write to production, the
local layer's files are served by its urls.py line, production's URLs are
signed, and its LOGGING shows a ``Logging`` wrapper's lines."""

from __future__ import annotations

import contextlib
import re
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import storages
from django.test import Client

from storage_mixins import ReadOnlyError
from storage_mixins.backends.s3.client import is_s3
from storage_mixins.core.stack import is_read_only, leaves
from tests.conftest import PRODUCTION_BUCKET
from tests.test_documentation import STARTPROJECT_APPS
from tests.writable_aliases import writable_aliases

ROOT = Path(__file__).resolve().parent.parent
BLOCK = re.compile(r"^\.\. code-block:: python\n\n((?:    .*\n|\n)+)", re.MULTILINE)


def quick_start(document: Path) -> list[str]:
    """The first two Python blocks of ``document``'s quick start section: the
    settings and urls.py."""
    text = document.read_text()
    start = text.index("Quick start: production media in development\n")
    end = re.compile(r"^\S.*\n[-=]{3,}\n", re.MULTILINE).search(text, start + 100)
    section = text[start : end.start() if end else len(text)]
    return [textwrap.dedent(match.group(1)) for match in BLOCK.finditer(section)][:2]


SETTINGS, URLS = quick_start(ROOT / "README.rst")


@pytest.fixture
def settings_as_written(
    s3: Any, settings: Any, use_storages: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> dict[str, Any]:
    """The quick start's settings, run after startproject's, with production's
    bucket and endpoint in the environment; its STORAGES and MEDIA_* in use."""
    monkeypatch.setenv("AWS_STORAGE_BUCKET_NAME", s3.bucket(PRODUCTION_BUCKET))
    monkeypatch.setenv("AWS_S3_ENDPOINT_URL", s3.server.endpoint_url)
    monkeypatch.setenv("AWS_S3_REGION_NAME", "us-east-1")
    namespace: dict[str, Any] = {"BASE_DIR": tmp_path, "INSTALLED_APPS": list(STARTPROJECT_APPS)}
    exec(compile(SETTINGS, "README.rst (quick start)", "exec"), namespace)
    settings.MEDIA_URL = namespace["MEDIA_URL"]
    settings.MEDIA_ROOT = namespace["MEDIA_ROOT"]
    use_storages(namespace["STORAGES"])
    return namespace


def test_the_readme_and_the_docs_give_one_quick_start() -> None:
    assert quick_start(ROOT / "docs" / "index.rst") == [SETTINGS, URLS]


def test_the_quick_start_is_complete(settings_as_written: dict[str, Any]) -> None:
    assert "storage_mixins" in settings_as_written["INSTALLED_APPS"]
    assert "static(settings.MEDIA_URL, document_root=settings.MEDIA_ROOT)" in URLS
    options = settings_as_written["production_s3"]["OPTIONS"]
    assert "querystring_auth" not in options  # signed URLs: a private bucket works
    assert not {"access_key", "secret_key"} & set(options)  # from the environment
    assert settings_as_written["LOGGING"]["loggers"]["storage_mixins"]["level"] == "DEBUG"


WRITES = {
    "save over": lambda storage: storage.save("photos/dog.jpg", ContentFile(b"dev")),
    "save new": lambda storage: storage.save("photos/new.jpg", ContentFile(b"dev")),
    "delete": lambda storage: storage.delete("photos/dog.jpg"),
    "open wb": lambda storage: storage.open("photos/dog.jpg", "wb").close(),
}


@pytest.mark.parametrize("write", WRITES.values(), ids=WRITES.keys())
def test_no_alias_of_the_quick_start_writes_to_production(
    settings_as_written: dict[str, Any], s3: Any, write: Any
) -> None:
    """The first run of issue 23: ``storages["production"].delete(...)``
    deleted the object, through the alias the quick start gave it."""
    s3.put("photos/dog.jpg", b"production dog")
    aliases = settings_as_written["STORAGES"]
    assert writable_aliases(aliases) == []
    assert is_read_only(storages["production"])
    with pytest.raises(ReadOnlyError):
        write(storages["production"])
    reaching_s3 = [alias for alias in aliases if any(map(is_s3, leaves(storages[alias])))]
    assert reaching_s3 == ["default", "production"]
    for alias in reaching_s3:
        with contextlib.suppress(ReadOnlyError):  # or written locally
            write(storages[alias])
    assert s3.server.mutations(PRODUCTION_BUCKET) == []
    assert s3.snapshot() == {"photos/dog.jpg": b"production dog"}


def test_the_quick_starts_page_costs_a_listing_cold_and_nothing_warm(
    settings_as_written: dict[str, Any], s3: Any
) -> None:
    """``Caching`` answers through ``ReadOnly``: one listing of ``photos/`` for a
    page of its files, then nothing."""
    names = [f"photos/{number:03d}.jpg" for number in range(20)]
    for name in names:
        s3.put(name, b"production photo")
    media = storages["default"]

    def render() -> dict[str, int]:
        s3.server.clear_requests()
        for name in names:
            assert media.exists(name) and media.size(name) == 16
            assert media.which(name) is media.layers[0]
            media.url(name)
        return dict(s3.server.counts())

    assert render() == {"GET": 1}  # ListObjectsV2 of photos/
    assert render() == {}


def test_the_quick_start_serves_both_layers(
    settings_as_written: dict[str, Any], s3: Any, settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Production's file by a signed URL; an upload saved under MEDIA_ROOT and
    served by the urls.py line, while DEBUG is on."""
    s3.put("photos/dog.jpg", b"production dog")
    media = storages["default"]
    assert "Signature=" in media.url("photos/dog.jpg")
    name = media.save("uploads/cat.txt", ContentFile(b"dev cat"))
    assert (Path(settings.MEDIA_ROOT) / name).read_bytes() == b"dev cat"

    urls = type(sys)("quick_start_urls")
    settings.DEBUG = True  # static() reads it when urls.py is imported
    exec(compile(URLS, "README.rst (urls.py)", "exec"), urls.__dict__)
    monkeypatch.setitem(sys.modules, "quick_start_urls", urls)
    settings.ROOT_URLCONF = "quick_start_urls"
    response = Client().get(media.url(name))
    assert response.status_code == 200
    # Consumed, the response is closed by the test client (its file too).
    assert b"".join(response.streaming_content) == b"dev cat"  # type: ignore[attr-defined]


def test_the_quick_starts_logging_shows_the_lines_of_logging(
    settings_as_written: dict[str, Any],
) -> None:
    """Django applies LOGGING at setup: a ``Logging`` wrapper's DEBUG line shows."""
    script = f"""
import django
from django.conf import settings
settings.configure(INSTALLED_APPS=["storage_mixins"], LOGGING={settings_as_written["LOGGING"]!r})
django.setup()
from django.core.files.storage import InMemoryStorage
from storage_mixins import Logging
Logging(InMemoryStorage()).exists("photos/dog.jpg")
"""
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True
    )
    assert "exists('photos/dog.jpg') -> False in " in result.stderr
