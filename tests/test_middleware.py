"""StorageTimingMiddleware: Server-Timing and a log line per request, WSGI and ASGI."""

from __future__ import annotations

import logging
import re
import threading
from typing import Any

import pytest
from django.core.files.base import ContentFile
from django.test import AsyncClient, Client

from storage_mixins.middleware import server_timing
from storage_mixins.observability.recording import Recording

ENTRY = re.compile(r'storage;dur=(?P<dur>\d+\.\d);desc="(?P<desc>[^"]*)"')


@pytest.fixture
def site(settings: Any, use_storages: Any, tmp_path: Any) -> None:
    """A FallbackStorage over the local disk and "production" (in memory)."""
    settings.ROOT_URLCONF = "tests.testapp.urls"
    settings.MIDDLEWARE = ["storage_mixins.middleware.StorageTimingMiddleware"]
    use_storages(
        {
            **settings.STORAGES,
            "default": {
                "BACKEND": "storage_mixins.FallbackStorage",
                "OPTIONS": {"backends": ["local", "production"]},
            },
        }
    )
    from django.core.files.storage import storages

    storages["production"].save("photos/a.jpg", ContentFile(b"a" * 10))
    storages["local"].save("photos/b.jpg", ContentFile(b"b" * 20))


def _entry(response: Any) -> dict[str, str]:
    match = ENTRY.search(response.headers["Server-Timing"])
    assert match, response.headers["Server-Timing"]
    return match.groupdict()


# three exists(), two url() and two size()
PAGE_CALLS = "7 calls"


@pytest.mark.usefixtures("site")
def test_a_page_has_a_server_timing_entry_and_a_log_line(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.DEBUG, logger="storage_mixins.middleware"):
        response = Client().get("/page/?x=1")
    assert response.status_code == 200
    entry = _entry(response)
    assert entry["desc"] == PAGE_CALLS
    (record,) = _lines(caplog)
    assert re.fullmatch(r"GET /page/\?x=1: 7 storage calls in \d+\.\d ms", record.getMessage())
    assert record.storage_calls == 7
    assert f"{record.duration_ms:.1f}" == entry["dur"]


@pytest.mark.usefixtures("site")
def test_an_async_view_under_asgi() -> None:
    response = _run(AsyncClient().get("/async-page/"))
    assert response.status_code == 200
    assert _entry(response)["desc"] == PAGE_CALLS


@pytest.mark.usefixtures("site")
def test_a_sync_view_under_asgi() -> None:
    response = _run(AsyncClient().get("/page/"))
    assert _entry(response)["desc"] == PAGE_CALLS


@pytest.mark.usefixtures("site")
def test_a_streaming_response(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG, logger="storage_mixins.middleware"):
        response = Client().get("/stream/")
        # Headers go first: they count the view's exists() only.
        assert _entry(response)["desc"] == "1 call"
        assert _lines(caplog) == []
        body = b"".join(response.streaming_content)
    assert body == b"a" * 10 + b"b" * 20
    (record,) = _lines(caplog)
    assert record.storage_calls == 3  # and the two opens made while streaming


@pytest.mark.usefixtures("site")
def test_an_async_streaming_response_under_asgi(caplog: pytest.LogCaptureFixture) -> None:
    async def fetch() -> tuple[Any, bytes]:
        response = await AsyncClient().get("/async-stream/")
        body = b"".join([chunk async for chunk in response])
        return response, body

    with caplog.at_level(logging.DEBUG, logger="storage_mixins.middleware"):
        response, body = _run(fetch())
    assert body == b"1020"
    assert _entry(response)["desc"] == "1 call"
    assert [record.storage_calls for record in _lines(caplog)] == [3]


@pytest.mark.usefixtures("site")
def test_other_server_timing_entries_are_kept(settings: Any) -> None:
    settings.MIDDLEWARE = [
        "storage_mixins.middleware.StorageTimingMiddleware",
        "tests.test_middleware.OtherTiming",
    ]
    header = Client().get("/page/").headers["Server-Timing"]
    assert header.startswith("db;dur=1.0, storage;dur=")


class OtherTiming:
    def __init__(self, get_response: Any) -> None:
        self.get_response = get_response

    def __call__(self, request: Any) -> Any:
        response = self.get_response(request)
        response.headers["Server-Timing"] = "db;dur=1.0"
        return response


@pytest.fixture
def s3_site(settings: Any, use_storages: Any, s3: Any) -> None:
    """The same stack over S3: Caching(FallbackStorage(local, production))."""
    settings.ROOT_URLCONF = "tests.testapp.urls"
    settings.MIDDLEWARE = ["storage_mixins.middleware.StorageTimingMiddleware"]
    use_storages(
        {
            **settings.STORAGES,
            "production": s3.settings(),
            "stack": {
                "BACKEND": "storage_mixins.FallbackStorage",
                "OPTIONS": {"backends": ["local", "production"]},
            },
            "default": {"BACKEND": "storage_mixins.Caching", "OPTIONS": {"storage": "stack"}},
        }
    )
    s3.put("photos/a.jpg", b"a" * 10)
    s3.put("photos/b.jpg", b"b" * 20)


def warm_up_in_a_thread_of_its_own() -> None:
    """A thread that records nothing uses the storage first: the S3 client that
    listings and streamed reads share is made there. The cache is then cleared,
    so that a request asks S3 again."""
    from django.core.cache import caches

    from tests.testapp.views import read_everything

    worker = threading.Thread(target=read_everything)
    worker.start()
    worker.join()
    caches["default"].clear()


def test_s3_requests_are_counted_whichever_thread_made_the_client(s3_site: None, s3: Any) -> None:
    warm_up_in_a_thread_of_its_own()
    s3.server.clear_requests()
    response = Client().get("/read/")
    assert b"30 bytes" in response.content
    received = s3.server.requests()
    assert [request.method for request in received] == ["GET"] * 3  # a listing, two reads
    assert _entry(response)["desc"] == f"5 calls, {len(received)} S3 requests"


def test_the_entry_quotes_its_description() -> None:
    recording = Recording()
    recording.call_count = 14
    recording.seconds = 0.0123
    recording.requests.update({"S3": 3})
    assert server_timing(recording) == 'storage;dur=12.3;desc="14 calls, 3 S3 requests"'
    recording.requests.clear()
    recording.requests['Odd"Storage\\'] = 1
    assert server_timing(recording).endswith('desc="14 calls, 1 Odd\\"Storage\\\\ request"')


def test_no_log_line_when_debug_is_off(site: None, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="storage_mixins.middleware"):
        response = Client().get("/page/")
    assert _lines(caplog) == []
    assert "storage;dur=" in response.headers["Server-Timing"]


def _run(coroutine: Any) -> Any:
    from asgiref.sync import async_to_sync

    async def run() -> Any:
        return await coroutine

    return async_to_sync(run)()


def _lines(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    """The middleware's own log lines: under PYTHONDEVMODE asyncio's debug mode
    also logs slow callbacks, which a busy machine has."""
    return [record for record in caplog.records if record.name == "storage_mixins.middleware"]
