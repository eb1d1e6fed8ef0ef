"""The examples work, and say what they show: the command-line tour
(example/tour.py) and the demo site (example/run.py, ``make demo``)."""

from __future__ import annotations

import re
import runpy
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.demo_process import Demo, running_demo
from tests.writable_aliases import writable_aliases

EXAMPLE = Path(__file__).resolve().parent.parent / "example"
TOUR = EXAMPLE / "tour.py"


@pytest.fixture
def demo() -> Iterator[Demo]:
    yield from running_demo()


def test_tour_runs() -> None:
    result = subprocess.run(
        [sys.executable, str(TOUR)], capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    output = result.stdout
    assert "FallbackStorage(ReadOnly(Caching(S3Storage('production-media'))), " in output
    assert "S3 requests for 3 urls: 0" in output
    assert "in local" in output
    assert "ReadOnlyError: save('photos/new.jpg') refused" in output  # storages["production"]
    assert "bytes identical: True" in output


def gallery(url: str) -> tuple[int, str]:
    """The S3 requests that rendering the gallery at ``url`` sent (from its
    Server-Timing header), and the page."""
    with urllib.request.urlopen(url, timeout=30) as response:  # a loopback URL
        timing = response.headers["Server-Timing"]
        page = response.read().decode()
    entry = re.search(
        r'storage;dur=[\d.]+;desc="(\d+) calls?(?:, (\d+) S3 requests?)?(?:, \d+ placeholders?)?"',
        timing,
    )
    assert entry, timing
    return int(entry.group(2) or 0), page


def test_demo_runs_the_recommended_stack(demo: Demo) -> None:
    """``make demo`` shows the README's stack at work: production first, with
    ``Caching`` and its listings, so the gallery costs two S3 requests (one
    listing per directory it shows) cold, and none warm; the rows whose files
    are nowhere cost none: placeholders draw them."""
    cold, page = gallery(demo.url)
    warm, _ = gallery(demo.url)
    output = demo.stop()
    assert (cold, warm) == (2, 0), output
    assert page.count('<div class="card"') == 6  # 5 production images, 1 upload
    assert page.count('<div class="lost-card"') == 3  # rows whose files are nowhere
    assert page.count('<span class="badge placeholder">placeholder · ') == 3
    assert re.search(r'<p id="cost">This page: \d+ calls, 2 S3 requests, 9 placeholders\.', page)
    placeholders = ", 9 placeholders"  # url, size and which of each row nowhere
    assert re.search(
        rf"GET /: \d+ storage calls in [\d.]+ ms, 2 S3 requests{placeholders}\n", output
    )
    assert re.search(rf"GET /: \d+ storage calls in [\d.]+ ms{placeholders}\n", output), output


def test_demo_toolbar_starts_collapsed(demo: Demo) -> None:
    """django-debug-toolbar starts as its handle: open, it covers the gallery."""
    _, page = gallery(demo.url)
    demo.stop()
    assert 'id="djDebug"' in page
    assert 'data-default-show="false"' in page


@pytest.mark.parametrize("settings_file", ["settings.py", "demo_site/settings.py"])
def test_example_settings_have_no_writable_production_alias(
    settings_file: str, use_storages: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The tour's and the demo's production is read-only by construction."""
    monkeypatch.setenv("DEMO_S3_ENDPOINT", "http://127.0.0.1:9")  # never asked
    monkeypatch.setenv("DEMO_MEDIA_ROOT", str(tmp_path))
    config = runpy.run_path(str(EXAMPLE / settings_file))["STORAGES"]
    use_storages(config)
    assert writable_aliases(config) == []
