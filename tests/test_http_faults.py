"""HTTPStorage when production misbehaves: the fault proxy (tests/faultproxy.py)
in front of nginx, for a slow server, a reset connection, a 503, a hang and a
read that stops midway; and a server that is not there at all.

Every error is one that ``is_transport_error`` reads as the layer being down,
so ``Fallback(..., on_error="skip")`` and its circuit breaker serve the other
layers. Requests are counted at the proxy, and by a recording.
"""

from __future__ import annotations

import socket
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
from django.core.files.base import ContentFile
from urllib3.exceptions import NewConnectionError, ProtocolError, ReadTimeoutError

from storage_mixins import Fallback, HTTPStorage
from storage_mixins.backends.errors import HTTPStatusError, is_transport_error
from storage_mixins.observability.recording import record
from tests.faultproxy import FaultProxy

JPEG = b"\xff\xd8\xff\xe0" + b"jpeg" * 1000


@pytest.fixture
def proxy(nginx: Any) -> Iterator[FaultProxy]:
    nginx.put("photos/a.jpg", JPEG)
    with FaultProxy(nginx.media_url.removesuffix("/media/")) as proxy:
        yield proxy


def storage_behind(proxy: FaultProxy, **options: Any) -> HTTPStorage:
    """Short timeouts and backoff: the tests wait for nothing."""
    options = {"timeout": 0.3, "connect_timeout": 0.3, "backoff": 0.01, **options}
    return HTTPStorage(f"{proxy.endpoint_url}/media/", **options)


def test_a_slow_server_answers(proxy: FaultProxy) -> None:
    proxy.delay_seconds = 0.05
    proxy.set_mode("delay")
    storage = storage_behind(proxy)
    assert storage.exists("photos/a.jpg")
    with storage.open("photos/a.jpg") as handle:
        assert handle.read() == JPEG
    assert proxy.counts() == Counter({"delay": 2})


def test_a_reset_connection_is_tried_again_then_is_a_transport_error(proxy: FaultProxy) -> None:
    proxy.set_mode("reset")
    storage = storage_behind(proxy, retries=2)
    with record() as recording, pytest.raises(ProtocolError) as caught:
        storage.exists("photos/a.jpg")
    assert is_transport_error(caught.value)
    assert "HTTPStorage: HEAD" in "".join(caught.value.__notes__)
    assert proxy.counts() == Counter({"reset": 3})
    assert recording.requests == {"HTTP": 3}  # each attempt, as the server got it


def test_a_503_is_tried_again_and_may_recover(proxy: FaultProxy, nginx: Any) -> None:
    proxy.set_mode("503")
    storage = storage_behind(proxy, retries=1)
    with pytest.raises(HTTPStatusError) as caught:
        storage.exists("photos/a.jpg")
    assert caught.value.status == 503 and is_transport_error(caught.value)
    assert proxy.counts() == Counter({"503": 2})
    # The second attempt finds the server back.
    proxy.reset_counts()
    arrived: list[str] = []

    def recover(method: str, path: str) -> None:
        arrived.append(method)
        if len(arrived) == 2:
            proxy.set_mode("ok")

    proxy.on_request = recover
    with record() as recording:
        assert storage.size("photos/a.jpg") == len(JPEG)
    assert proxy.counts() == Counter({"503": 1, "ok": 1})
    assert recording.requests == {"HTTP": 2}
    assert set(nginx.counts()) <= {"GET", "HEAD"}


def test_a_server_that_hangs_ends_within_the_timeout_without_retrying(proxy: FaultProxy) -> None:
    proxy.set_mode("hang")
    storage = storage_behind(proxy, retries=2)
    with pytest.raises(ReadTimeoutError) as caught:
        storage.exists("photos/a.jpg")
    assert is_transport_error(caught.value)
    assert proxy.counts() == Counter({"hang": 1})  # a timeout is not tried again
    with pytest.raises(ReadTimeoutError):
        storage.open("photos/a.jpg")


def test_a_read_that_stops_midway_ends_within_the_timeout(proxy: FaultProxy) -> None:
    proxy.set_mode("stall")
    storage = storage_behind(proxy)
    handle = storage.open("photos/a.jpg")  # the status and headers came
    with pytest.raises(ReadTimeoutError) as caught:
        handle.read()
    assert is_transport_error(caught.value)
    handle.close()


def test_a_server_that_is_not_there(proxy: FaultProxy) -> None:
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    storage = HTTPStorage(f"http://127.0.0.1:{port}/media/", backoff=0.01)
    with record() as recording, pytest.raises(NewConnectionError) as caught:
        storage.exists("photos/a.jpg")
    assert is_transport_error(caught.value)
    assert recording.requests == {"HTTP": 3}  # refused: tried again


@pytest.mark.parametrize("mode", ["reset", "503", "hang"])
def test_a_stack_skips_production_while_it_is_down(proxy: FaultProxy, fs: Any, mode: Any) -> None:
    fs.save("uploads/mine.jpg", ContentFile(b"local"))
    production = storage_behind(proxy, retries=0)
    stack = Fallback(production, fs, on_error="skip", failures=2, retry_after=60)
    proxy.set_mode(mode)
    assert stack.exists("uploads/mine.jpg")  # production asked first, skipped
    assert not stack.exists("photos/a.jpg")  # skipped: as if it had no such file
    assert proxy.counts() == Counter({mode: 2})
    # The circuit is open: production is not asked again for retry_after seconds.
    assert stack.exists("uploads/mine.jpg")
    with stack.open("uploads/mine.jpg") as handle:
        assert handle.read() == b"local"
    assert proxy.counts() == Counter({mode: 2})
    assert "open" in dict(stack.breaker_states())[production]
