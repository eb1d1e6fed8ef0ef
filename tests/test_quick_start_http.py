"""The README's quick start without credentials, as written: its settings are
parsed out of README.rst and run with production's media on nginx, named in
the environment. Nothing can write to production; a page costs a HEAD per
local file cold and nothing warm; a file read twice is one GET; nginx sees
nothing but GET and HEAD."""

from __future__ import annotations

import re
import textwrap
from pathlib import Path
from typing import Any

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import storages

from storage_mixins import HTTPStorage, ReadOnlyError
from storage_mixins.core.stack import is_read_only, leaves
from tests.test_documentation import STARTPROJECT_APPS
from tests.writable_aliases import writable_aliases

ROOT = Path(__file__).resolve().parent.parent
BLOCK = re.compile(r"^\.\. code-block:: python\n\n((?:    .*\n|\n)+)", re.MULTILINE)
TITLE = "Quick start without credentials: production media over HTTP\n"


def quick_start(document: Path) -> str:
    """The settings block of ``document``'s quick start without credentials."""
    text = document.read_text()
    start = text.index(TITLE)
    end = re.compile(r"^\S.*\n[-=]{3,}\n", re.MULTILINE).search(text, start + 100)
    section = text[start : end.start() if end else len(text)]
    return textwrap.dedent(BLOCK.search(section).group(1))  # type: ignore[union-attr]


SETTINGS = quick_start(ROOT / "README.rst")
PHOTOS = [f"photos/{number:03d}.jpg" for number in range(20)]
UPLOADS = [f"uploads/{number:02d}.jpg" for number in range(5)]


@pytest.fixture
def settings_as_written(
    nginx: Any, settings: Any, use_storages: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> dict[str, Any]:
    monkeypatch.setenv("PRODUCTION_MEDIA_URL", nginx.media_url)
    namespace: dict[str, Any] = {"BASE_DIR": tmp_path, "INSTALLED_APPS": list(STARTPROJECT_APPS)}
    exec(compile(SETTINGS, "README.rst (quick start without credentials)", "exec"), namespace)
    settings.MEDIA_URL = namespace["MEDIA_URL"]
    settings.MEDIA_ROOT = namespace["MEDIA_ROOT"]
    use_storages(namespace["STORAGES"])
    for name in PHOTOS:
        nginx.put(name, b"production photo")
    for name in UPLOADS:
        path = Path(namespace["MEDIA_ROOT"]) / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"local upload")
    nginx.clear_requests()
    return namespace


def test_the_readme_and_the_docs_give_one_quick_start_without_credentials() -> None:
    assert quick_start(ROOT / "docs" / "index.rst") == SETTINGS
    assert "storage_mixins" in SETTINGS and "secret" not in SETTINGS.lower()


def test_nothing_can_write_to_production(settings_as_written: dict[str, Any], nginx: Any) -> None:
    aliases = settings_as_written["STORAGES"]
    assert writable_aliases(aliases) == []
    production = storages["production"]
    assert is_read_only(production)
    assert [type(leaf) for leaf in leaves(production)] == [HTTPStorage]
    for write in (
        lambda: production.save("photos/000.jpg", ContentFile(b"dev")),
        lambda: production.delete("photos/000.jpg"),
        lambda: production.open("photos/000.jpg", "wb"),
    ):
        with pytest.raises(ReadOnlyError):
            write()
    media = storages["default"]
    name = media.save("photos/000.jpg", ContentFile(b"dev"))  # a free name, locally
    assert name != "photos/000.jpg" and media.which(name) is storages["local"]
    media.delete("photos/001.jpg")  # production's: nothing happens
    assert (nginx.root / "media" / "photos" / "001.jpg").exists()
    assert set(nginx.counts()) <= {"GET", "HEAD"}


def test_a_page_costs_a_head_per_local_file_cold_and_nothing_warm(
    settings_as_written: dict[str, Any], nginx: Any
) -> None:
    media = storages["default"]

    def render() -> dict[str, int]:
        nginx.clear_requests()
        for name in PHOTOS:
            assert media.url(name) == f"{nginx.media_url}{name}"
        for name in UPLOADS:
            assert media.url(name) == f"/media/{name}"
        return dict(nginx.counts())

    assert render() == {"HEAD": len(UPLOADS)}  # does production shadow them?
    assert render() == {}


def test_a_file_read_twice_is_one_get(settings_as_written: dict[str, Any], nginx: Any) -> None:
    media = storages["default"]
    for _ in range(2):
        assert media.exists(PHOTOS[0]) and media.size(PHOTOS[0]) == 16
        with media.open(PHOTOS[0]) as handle:
            assert handle.read() == b"production photo"
    assert nginx.counts() == {"HEAD": 1, "GET": 1}
