"""The demo site in a real browser: Debian's Chromium, driven by Playwright.

Starts ``example/run.py`` (the site and its embedded S3 server) on free ports,
loads the gallery, checks that every image actually rendered from both
layers and that the rows whose files are nowhere show placeholders drawn at
the sizes their rows record, uploads a file through the form, and confirms that the production
bucket's keys and bytes did not change. A screenshot is saved to
``test-artifacts/``. Playwright drives the machine's Chromium; it downloads no
browser.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import require_component, require_module
from tests.demo_process import Demo, running_demo

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM_FLAGS = [
    "--headless=new",
    "--no-sandbox",  # the tests run as root in CI
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

pytestmark = pytest.mark.heavy


@pytest.fixture(scope="module")
def chromium() -> str:
    return require_component("chromium", "apt-get install chromium chromium-driver")


@pytest.fixture
def demo() -> Iterator[Demo]:
    yield from running_demo()


def bucket(endpoint: str) -> dict[str, bytes]:
    import boto3

    client = boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="demo",
        aws_secret_access_key="demo",
    )
    listing = client.list_objects_v2(Bucket="production-media").get("Contents", [])
    return {
        entry["Key"]: client.get_object(Bucket="production-media", Key=entry["Key"])["Body"].read()
        for entry in listing
    }


def all_images_rendered(page: Any) -> bool:
    return page.evaluate("Array.from(document.images).every(i => i.complete && i.naturalWidth > 0)")


def test_gallery_upload_and_bucket_untouched(chromium: str, demo: Demo) -> None:
    playwright_api = require_module("playwright.sync_api", "the browser dependency group")
    from example.sample_images import LOST, png

    before = bucket(demo.s3)
    assert len(before) == 5
    with playwright_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_FLAGS)
        try:
            page = browser.new_page()
            page.goto(demo.url)
            page.wait_for_function(
                "Array.from(document.images).every(i => i.complete)", timeout=20_000
            )
            assert all_images_rendered(page)
            production = page.locator(".card:has(.badge.production) img")
            local = page.locator(".card:has(.badge.local) img")
            assert production.count() == 5
            assert local.count() == 1
            widths = page.evaluate(
                "Array.from(document.querySelectorAll('.card img')).map(i => i.naturalWidth)"
            )
            assert widths == [240] * 6
            drawn = page.evaluate(
                "Array.from(document.querySelectorAll('.lost-card img'))"
                ".map(i => [i.alt, i.naturalWidth, i.naturalHeight])"
            )
            assert drawn == [[name, *size] for name, size in LOST.items()]
            assert page.locator(".lost-card .badge.placeholder").count() == 3
            ARTIFACTS.mkdir(exist_ok=True)
            page.locator(".lost").screenshot(path=str(ARTIFACTS / "demo-placeholders.png"))
            assert "storage_mixins.placeholders: placeholder for 'photos/lighthouse.jpg': " in (
                page.inner_text("#log")
            )
            assert "storage_mixins.production: url(" in page.inner_text("#log")

            page.set_input_files(
                "#upload input[type=file]",
                files=[
                    {
                        "name": "from-the-browser.png",
                        "mimeType": "image/png",
                        "buffer": png(240, 160, (0, 0, 0), (255, 0, 128)),
                    }
                ],
            )
            with page.expect_navigation():
                page.click("#upload button")
            assert "Saved as uploads/from-the-browser.png on the local disk" in page.inner_text(
                "#notice"
            )
            card = page.locator('.card[data-name="uploads/from-the-browser.png"]')
            assert card.locator(".badge.local").count() == 1
            page.wait_for_function(
                "Array.from(document.images).every(i => i.complete)", timeout=20_000
            )
            assert all_images_rendered(page)

            with page.expect_navigation():
                page.click('.card[data-name="photos/beach.png"] button')
            assert "Hidden photos/beach.png: delete policy 'hide'" in page.inner_text("#notice")
            assert page.locator('.card[data-name="photos/beach.png"]').count() == 0

            ARTIFACTS.mkdir(exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / "demo-gallery.png"), full_page=True)
        finally:
            browser.close()

    assert bucket(demo.s3) == before  # keys and bytes
    output = demo.stop()
    assert demo.process.returncode == 0
    assert "Stopped the site and the embedded S3 server." in output


def test_storage_panel_shows_the_calls_of_the_gallery(chromium: str, demo: Demo) -> None:
    """django-debug-toolbar's Storage panel on a page that renders production images."""
    playwright_api = require_module("playwright.sync_api", "the browser dependency group")
    with playwright_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_FLAGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            response = page.goto(demo.url)
            assert response is not None
            timing = response.headers["server-timing"]
            entry = re.search(r'storage;dur=[\d.]+;desc="(\d+) calls, (\d+) S3 requests', timing)
            assert entry, timing
            page.wait_for_function(
                "Array.from(document.images).every(i => i.complete)", timeout=20_000
            )
            assert page.locator(".card:has(.badge.production) img").count() == 5
            # The toolbar starts collapsed to its handle, off the gallery.
            assert not page.locator("#djDebugToolbar").is_visible()
            page.click("#djShowToolBarButton")
            page.click("#djDebugToolbar a.StoragePanel")
            rows = page.locator("#StoragePanel tr.storage-mixins-call")
            rows.first.wait_for(timeout=20_000)
            assert rows.count() == int(entry.group(1))
            answered = page.locator("#StoragePanel td.storage-mixins-answered-by").all_inner_texts()
            assert any("S3Storage('production-media')" in text for text in answered)
            assert any("FileSystemStorage(" in text for text in answered)
            stacks = "\n".join(
                page.locator("#StoragePanel pre.storage-mixins-stack").all_inner_texts()
            )
            assert "FallbackStorage  (writes go to [1]" in stacks  # production first
            assert "S3Storage('production-media')" in stacks
            summary = page.inner_text("#StoragePanel table.storage-mixins-summary")
            assert f"{entry.group(2)} S3" in summary
            ARTIFACTS.mkdir(exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / "demo-storage-panel.png"), full_page=False)
        finally:
            browser.close()
    demo.stop()
    assert demo.process.returncode == 0
