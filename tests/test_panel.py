"""StoragePanel in the real django-debug-toolbar."""

from __future__ import annotations

import html as html_module
import re
from typing import Any

import pytest
from django.core.files.base import ContentFile
from django.test import AsyncClient, Client

from tests.conftest import require_module

require_module("debug_toolbar", "the debug-toolbar extra")

from storage_mixins.observability import recording as recording_module  # noqa: E402
from storage_mixins.panels import StoragePanel  # noqa: E402

PANEL = "storage_mixins.panels.StoragePanel"


@pytest.fixture
def toolbar(settings: Any, use_storages: Any) -> None:
    settings.INSTALLED_APPS = [*settings.INSTALLED_APPS, "debug_toolbar"]
    settings.DEBUG = True
    settings.INTERNAL_IPS = ["127.0.0.1"]
    settings.ROOT_URLCONF = "tests.testapp.toolbar_urls"
    settings.TEMPLATES = [
        {
            "BACKEND": "django.template.backends.django.DjangoTemplates",
            "APP_DIRS": True,
            "OPTIONS": {"context_processors": ["django.template.context_processors.request"]},
        }
    ]
    settings.MIDDLEWARE = [
        "storage_mixins.middleware.StorageTimingMiddleware",
        "debug_toolbar.middleware.DebugToolbarMiddleware",
    ]
    settings.DEBUG_TOOLBAR_PANELS = ["debug_toolbar.panels.timer.TimerPanel", PANEL]
    settings.DEBUG_TOOLBAR_CONFIG = {
        "RENDER_PANELS": True,  # the panels' HTML comes with the page
        "IS_RUNNING_TESTS": False,
        "SHOW_TOOLBAR_CALLBACK": "debug_toolbar.middleware.show_toolbar",
    }
    use_storages(
        {
            **settings.STORAGES,
            "default": {
                "BACKEND": "storage_mixins.Caching",
                "OPTIONS": {"storage": "stack"},
            },
            "stack": {
                "BACKEND": "storage_mixins.FallbackStorage",
                "OPTIONS": {"backends": ["local", "production"]},
            },
        }
    )
    from django.core.files.storage import storages

    storages["production"].save("photos/a.jpg", ContentFile(b"a" * 10))
    storages["local"].save("photos/b.jpg", ContentFile(b"b" * 20))


def _panel_html(content: str) -> str:
    start = content.find('id="StoragePanel"')
    assert start != -1, "the storage panel is not in the page"
    return html_module.unescape(content[start : content.index("</pre>", start)])


def _rows(html: str) -> list[tuple[str, ...]]:
    rows = re.findall(r'<tr class="storage-mixins-call".*?</tr>', html, re.S)
    cells = [re.findall(r"<td[^>]*>(.*?)</td>", row, re.S) for row in rows]
    return [
        tuple(html_module.unescape(re.sub(r"<[^>]+>", "", cell)).strip() for cell in row)
        for row in cells
    ]


@pytest.mark.usefixtures("toolbar")
@pytest.mark.parametrize("path", ["/page/", "/async-page/"])
def test_the_panel_lists_the_calls_and_draws_the_stack(path: str) -> None:
    response = Client().get(path)
    content = response.content.decode()
    assert 'id="djDebug"' in content
    html = _panel_html(content)
    rows = _rows(html)
    assert [(row[1], row[2], row[5]) for row in rows] == [
        ("exists", "photos/a.jpg", "found"),
        ("url", "photos/a.jpg", "ok"),
        ("size", "photos/a.jpg", "ok"),
        ("exists", "photos/b.jpg", "found"),
        ("url", "photos/b.jpg", "ok"),
        ("size", "photos/b.jpg", "ok"),
        ("exists", "photos/missing.jpg", "missing"),
    ]
    assert {row[3] for row in rows} == {"default"}  # the STORAGES alias
    answered = {row[2]: row[4] for row in rows if row[1] == "exists"}
    assert answered["photos/a.jpg"] == "[1] ReadOnly(InMemoryStorage())"
    assert answered["photos/b.jpg"].startswith("[0] FileSystemStorage(")
    assert "STORAGES[default]" in html
    assert "Caching  (cache='default', timeout=300)" in html
    assert "└── FallbackStorage  (writes go to [0])" in html
    assert "7 calls" in content  # the subtitle
    # A second visit: Caching answers, the layers are not asked.
    rows = _rows(_panel_html(Client().get(path).content.decode()))
    assert {row[4] for row in rows} == {"Caching"}


@pytest.mark.usefixtures("toolbar")
def test_the_panel_counts_every_s3_request_the_server_received(
    settings: Any, use_storages: Any, s3: Any
) -> None:
    """As the header does, whichever thread made the S3 client (see
    tests/test_middleware.py)."""
    from tests.test_middleware import warm_up_in_a_thread_of_its_own

    use_storages({**settings.STORAGES, "production": s3.settings()})
    s3.put("photos/a.jpg", b"a" * 10)
    s3.put("photos/b.jpg", b"b" * 20)
    warm_up_in_a_thread_of_its_own()
    s3.server.clear_requests()
    response = Client().get("/read/")
    received = len(s3.server.requests())
    assert received == 2  # a listing, a.jpg's read (the fixture put b.jpg on the local disk)
    summary = f"5 calls, {received} S3 requests"
    assert f'desc="{summary}"' in response.headers["Server-Timing"]
    content = response.content.decode()
    assert f"{summary} in " in content  # the panel's subtitle
    rows = _rows(_panel_html(content))
    assert sum(int(row[7].split()[0]) for row in rows) == received  # inside the calls


@pytest.mark.usefixtures("toolbar")
def test_the_panel_counts_every_http_request_the_server_received(
    settings: Any, use_storages: Any, nginx: Any
) -> None:
    """Production over HTTP (HTTPStorage): the panel shows the requests nginx got."""
    use_storages(
        {
            **settings.STORAGES,
            "production": {
                "BACKEND": "storage_mixins.HTTPStorage",
                "OPTIONS": {"base_url": nginx.media_url},
            },
        }
    )
    nginx.put("photos/a.jpg", b"a" * 10)
    response = Client().get("/read/")
    received = [(r.method, r.uri) for r in nginx.requests()]
    assert received == [
        ("HEAD", "/media/photos/a.jpg"),
        ("GET", "/media/photos/a.jpg"),
        ("HEAD", "/media/photos/missing.jpg"),
    ]  # the local layer has b.jpg
    summary = f"5 calls, {len(received)} HTTP requests"
    assert f'desc="{summary}"' in response.headers["Server-Timing"]
    content = response.content.decode()
    assert f"{summary} in " in content  # the panel's subtitle
    rows = _rows(_panel_html(content))
    assert sum(int(row[7].split()[0]) for row in rows) == len(received)  # inside the calls


@pytest.mark.usefixtures("toolbar")
def test_under_asgi() -> None:
    from asgiref.sync import async_to_sync

    response = async_to_sync(AsyncClient().get)("/async-page/")
    rows = _rows(_panel_html(response.content.decode()))
    assert len(rows) == 7


@pytest.mark.usefixtures("toolbar")
def test_a_disabled_panel_records_no_detail(monkeypatch: pytest.MonkeyPatch) -> None:
    started: list[Any] = []
    real = recording_module.Recording

    class Spy(real):  # type: ignore[misc,valid-type]
        def __init__(self, **kwargs: Any) -> None:
            super().__init__(**kwargs)
            started.append(self)

    monkeypatch.setattr(recording_module, "Recording", Spy)
    client = Client()
    client.cookies["djdtStoragePanel"] = "off"
    response = client.get("/page/")
    assert 'id="StoragePanel"' not in response.content.decode()
    (recording,) = started  # the middleware's
    assert recording.call_count == 7
    assert not recording.detail
    assert recording.calls == []
    assert "storage;dur=" in response.headers["Server-Timing"]


@pytest.mark.usefixtures("toolbar")
def test_the_panel_works_without_the_middleware(settings: Any) -> None:
    settings.MIDDLEWARE = ["debug_toolbar.middleware.DebugToolbarMiddleware"]
    response = Client().get("/page/")
    assert len(_rows(_panel_html(response.content.decode()))) == 7


def test_the_panel_is_named_storage() -> None:
    assert str(StoragePanel.title) == "Storage"
    assert StoragePanel.is_async


@pytest.mark.django_db  # the size a row records
@pytest.mark.usefixtures("toolbar")
def test_the_panel_and_the_header_mark_what_a_placeholder_answered(
    settings: Any, use_storages: Any
) -> None:
    """photos/missing.jpg is in no layer: the placeholders last in the stack
    answer for it, and the panel's rows, its subtitle and Server-Timing say so."""
    stack = settings.STORAGES["stack"]
    options = {**stack["OPTIONS"], "placeholders": {"serves": "any"}}
    use_storages({**settings.STORAGES, "stack": {**stack, "OPTIONS": options}})
    from django.core.files.storage import storages

    storages["production"].save("photos/a.jpg", ContentFile(b"a" * 10))  # a new instance
    for _visit in range(2):  # Caching keeps no placeholder's answer: the same each time
        response = Client().get("/page/")
        content = response.content.decode()
        rows = _rows(_panel_html(content))
        missing = [row[4] for row in rows if row[2] == "photos/missing.jpg"]
        assert missing == ["[2] Placeholders(): a placeholder"] * 3  # exists, url, size
        assert 'desc="9 calls, 3 placeholders"' in response.headers["Server-Timing"]
        assert "9 calls, 3 placeholders in " in content  # the subtitle
