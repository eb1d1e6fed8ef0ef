"""collectstatic into a stack whose production layer is S3 (key prefix
``static/`` of the production bucket): plain, with manifests, ``--clear`` and
``--link``."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import pytest
from django.core.files.storage import storages
from django.core.management import CommandError, call_command
from django.template import engines

from storage_mixins import ReadOnlyError
from tests_apps.conftest import CDN

PRODUCTION_STATIC = {
    "static/img/logo.png": b"production logo",  # the app ships its own logo too
    "static/img/banner.png": b"production banner",  # only production has it
}
MANIFEST = {
    "version": "1.1",
    "paths": {"img/banner.png": "img/banner.0a1b2c3d4e5f.png"},
    "hash": "0123456789ab",
}


@pytest.fixture
def static(media: Any, settings: Any, tmp_path: Path) -> Any:
    """App static files, a production static root on S3, and a function that
    installs STORAGES["staticfiles"] as a stack in the media's layer order."""
    source = tmp_path / "static-source"
    (source / "css").mkdir(parents=True)
    (source / "css" / "site.css").write_text("body { background: url('../img/logo.png') }")
    (source / "img").mkdir()
    (source / "img" / "logo.png").write_bytes(b"dev logo")
    newer = time.time() + 3600  # the app's logo is newer than production's
    os.utime(source / "img" / "logo.png", (newer, newer))
    settings.STATICFILES_DIRS = [str(source)]
    settings.STATICFILES_FINDERS = ["django.contrib.staticfiles.finders.FileSystemFinder"]
    for key, body in PRODUCTION_STATIC.items():
        media.production.put(key, body)
    local_root = tmp_path / "static"

    def install(manifest: bool = False) -> Path:
        production = media.production.s3.settings(
            location="static", custom_domain=CDN.removeprefix("https://")
        )
        if manifest:
            production["BACKEND"] = "storages.backends.s3.S3ManifestStaticStorage"
        if media.order == "local-first":
            options = {"backends": ["static-local", "static-production"]}
        else:
            options = {"backends": ["static-production", "static-local"], "writable": 1}
        kind = "ManifestStaticFilesStorage" if manifest else "StaticFilesStorage"
        settings.STORAGES = {
            **settings.STORAGES,
            "staticfiles": {
                "BACKEND": "storage_mixins.FallbackStorage",
                "OPTIONS": {**options, "shadow": True},
            },
            "static-local": {
                "BACKEND": f"django.contrib.staticfiles.storage.{kind}",
                "OPTIONS": {"location": str(local_root), "base_url": "/static/"},
            },
            "static-production": production,
        }
        return local_root

    return install


def static_url(path: str) -> str:
    return (
        engines["django"].from_string("{% load static %}{% static path %}").render({"path": path})
    )


def local_tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def test_collectstatic(media: Any, static: Any, settings: Any) -> None:
    local = static()
    if media.order == "production-first":
        # Production serves img/logo.png before the local layer: a newer local
        # copy would never be seen, so the write is refused, before any I/O.
        with (
            media.production.operation("collectstatic (production-first)", "4 HEAD"),
            pytest.raises(ReadOnlyError, match="comes before the write layer"),
        ):
            call_command("collectstatic", interactive=False, verbosity=0)
        # An app file older than production's is skipped, as Django skips it.
        source = Path(settings.STATICFILES_DIRS[0]) / "img" / "logo.png"
        os.utime(source, (1_600_000_000, 1_600_000_000))
        with media.production.operation(
            "collectstatic (production-first, production newer)", "4 HEAD"
        ):
            call_command("collectstatic", interactive=False, verbosity=0)
        assert set(local_tree(local)) == {"css/site.css"}
        assert static_url("img/logo.png") == f"{CDN}/static/img/logo.png"
        assert static_url("css/site.css") == "/static/css/site.css"
        media.production.assert_untouched()
        return
    with media.production.operation("collectstatic", "4 HEAD"):
        call_command("collectstatic", interactive=False, verbosity=0)
    assert local_tree(local) == {
        "css/site.css": b"body { background: url('../img/logo.png') }",
        "img/logo.png": b"dev logo",  # shadows production's, under its own name
    }
    assert static_url("img/logo.png") == "/static/img/logo.png"
    assert static_url("img/banner.png") == f"{CDN}/static/img/banner.png"
    with media.production.operation("collectstatic again (nothing to do)", "none"):
        call_command("collectstatic", interactive=False, verbosity=0)
    media.production.assert_untouched()


def test_collectstatic_with_manifests(media: Any, static: Any) -> None:
    media.production.put("static/staticfiles.json", json.dumps(MANIFEST).encode())
    media.production.put("static/img/banner.0a1b2c3d4e5f.png", b"production banner")
    local = static(manifest=True)
    if media.order == "production-first":
        # As without manifests: production's img/logo.png comes first.
        with pytest.raises(ReadOnlyError, match="comes before the write layer"):
            call_command("collectstatic", interactive=False, verbosity=0)
        media.production.assert_untouched()
        return
    with media.production.operation("collectstatic, manifests", "6 HEAD, 1 GET"):
        call_command("collectstatic", interactive=False, verbosity=0)
    manifest = json.loads((local / "staticfiles.json").read_text())["paths"]
    assert set(manifest) == {"css/site.css", "img/logo.png"}
    assert (local / manifest["img/logo.png"]).read_bytes() == b"dev logo"
    with media.production.operation("{% static %} with manifests", "none"):
        urls = {path: static_url(path) for path in ("img/logo.png", "css/site.css")}
        banner = static_url("img/banner.png")
    assert urls == {path: f"/static/{manifest[path]}" for path in urls}
    # Production's own manifest names production's file.
    assert banner == f"{CDN}/static/img/banner.0a1b2c3d4e5f.png"
    media.production.assert_untouched()


def test_collectstatic_clear(media: Any, static: Any, settings: Any) -> None:
    local = static()
    expected = {"css/site.css", "img/logo.png"}
    if media.order == "production-first":  # production's logo wins: test_collectstatic
        source = Path(settings.STATICFILES_DIRS[0]) / "img" / "logo.png"
        os.utime(source, (1_600_000_000, 1_600_000_000))
        expected = {"css/site.css"}
    call_command("collectstatic", interactive=False, verbosity=0)
    (local / "stale.txt").write_text("left over from an earlier run")
    with media.production.operation(
        "collectstatic --clear", "6 HEAD, 3 LIST", production_first="8 HEAD, 2 LIST"
    ):
        call_command("collectstatic", interactive=False, verbosity=0, clear=True)
    assert set(local_tree(local)) == expected
    assert storages["staticfiles"].exists("img/banner.png")  # production's: left alone
    media.production.assert_untouched()


def test_collectstatic_link_is_refused(media: Any, static: Any) -> None:
    local = static()
    with (
        media.production.operation("collectstatic --link", "none"),
        pytest.raises(CommandError, match="Can't symlink to a remote destination"),
    ):
        call_command("collectstatic", interactive=False, verbosity=0, link=True)
    assert not local.exists() or not any(p.is_symlink() for p in local.rglob("*"))
    media.production.assert_untouched()
