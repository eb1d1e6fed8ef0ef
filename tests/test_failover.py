"""Failover: a layer that is down is a miss under on_error="skip", and costs nothing."""

from __future__ import annotations

import errno
import logging
import re
import socket
import threading
import time
from collections.abc import Iterator
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.exceptions import SuspiciousFileOperation
from django.core.files.base import ContentFile
from django.core.files.storage import FileSystemStorage
from django.core.management.base import CommandError

from storage_mixins import Caching, Fallback, ReadOnly, describe
from storage_mixins.backends.errors import is_transport_error
from tests.conformance import read


def s3_storage(endpoint: str, timeout: float = 1) -> Any:
    from botocore.config import Config
    from storages.backends.s3 import S3Storage

    return S3Storage(
        bucket_name="production-media",
        endpoint_url=endpoint,
        access_key="testing",
        secret_key="testing",
        region_name="us-east-1",
        client_config=Config(
            connect_timeout=timeout,
            read_timeout=timeout,
            retries={"mode": "standard", "total_max_attempts": 1},
        ),
    )


@pytest.fixture
def server(s3: Any) -> Iterator[Any]:
    """An S3 server of this test's own, to stop and restart (on the same port)."""
    from tests.s3server import S3Server

    own = S3Server()
    own.start()
    s3.put("photos/remote.jpg", b"production")
    yield own
    own.stop()


@pytest.fixture
def local(tmp_path: Path) -> FileSystemStorage:
    storage = FileSystemStorage(location=tmp_path / "local")
    storage.save("photos/local.jpg", ContentFile(b"local"))
    return storage


# -- what counts as "down" ---------------------------------------------------------


def client_error(status: int, code: str) -> Exception:
    from botocore.exceptions import ClientError

    return ClientError(
        {"Error": {"Code": code}, "ResponseMetadata": {"HTTPStatusCode": status}}, "HeadObject"
    )


@pytest.mark.parametrize(
    ("error", "transport"),
    [
        (ConnectionRefusedError(errno.ECONNREFUSED, "refused"), True),
        (ConnectionResetError(errno.ECONNRESET, "reset"), True),
        (TimeoutError("timed out"), True),
        (socket.gaierror(-2, "Name or service not known"), True),
        (client_error(500, "InternalError"), True),
        (client_error(503, "SlowDown"), True),
        (client_error(404, "404"), False),
        (client_error(403, "403"), False),  # a missing key without s3:ListBucket, too
        (PermissionError(errno.EACCES, "denied"), False),
        (FileNotFoundError(errno.ENOENT, "missing"), False),
        (SuspiciousFileOperation("traversal"), False),
        (ValueError("bad"), False),
    ],
    ids=repr,
)
def test_transport_errors(error: Exception, transport: bool) -> None:
    assert is_transport_error(error) is transport


def test_botocore_transport_errors() -> None:
    from botocore.exceptions import (
        ConnectionClosedError,
        ConnectTimeoutError,
        EndpointConnectionError,
        ReadTimeoutError,
    )

    for error in (
        EndpointConnectionError(endpoint_url="http://x"),
        ConnectTimeoutError(endpoint_url="http://x"),
        ReadTimeoutError(endpoint_url="http://x"),
        ConnectionClosedError(endpoint_url="http://x"),
    ):
        assert is_transport_error(error)


# -- a server that stops -------------------------------------------------------------


def test_raise_propagates_the_transport_error(server: Any, local: Any) -> None:
    from botocore.exceptions import EndpointConnectionError

    stack = Fallback(local, ReadOnly(s3_storage(server.endpoint_url)))
    assert read(stack, "photos/remote.jpg") == b"production"
    server.stop()
    assert read(stack, "photos/local.jpg") == b"local"  # local files still served
    with pytest.raises(EndpointConnectionError, match="Could not connect to the endpoint URL"):
        stack.open("photos/remote.jpg")
    with pytest.raises(EndpointConnectionError):
        stack.exists("photos/nowhere.jpg")


def test_skip_makes_a_down_layer_a_miss_and_recovers(
    server: Any, local: Any, caplog: pytest.LogCaptureFixture
) -> None:
    stack = Fallback(
        local, ReadOnly(s3_storage(server.endpoint_url)), on_error="skip", retry_after=0.5
    )
    assert read(stack, "photos/remote.jpg") == b"production"
    port = server.port
    server.stop()
    with caplog.at_level(logging.WARNING, logger="storage_mixins"):
        for _ in range(5):
            assert read(stack, "photos/local.jpg") == b"local"
            assert not stack.exists("photos/remote.jpg")
            with pytest.raises(FileNotFoundError, match="Not found in any layer"):
                stack.open("photos/remote.jpg")
            assert stack.listdir("photos") == ([], ["local.jpg"])
        assert "[circuit open" in describe(stack)
        server.start(port)
        time.sleep(0.6)  # the breaker lets one read probe the layer again
        assert read(stack, "photos/remote.jpg") == b"production"
        assert stack.exists("photos/remote.jpg")
    assert "[circuit closed (healthy)]" in describe(stack)
    messages = [r.getMessage() for r in caplog.records if r.name.startswith("storage_mixins")]
    down = [m for m in messages if "cannot be reached" in m]
    assert len(down) == 1, messages  # once per outage, not once per call
    assert any("answers again" in m for m in messages)


def test_caching_keeps_no_answer_given_while_a_layer_was_skipped(server: Any, local: Any) -> None:
    stack = Caching(
        Fallback(local, ReadOnly(s3_storage(server.endpoint_url)), on_error="skip", retry_after=0)
    )
    assert stack.size("photos/local.jpg") == 5  # answered by the local layer: cached
    port = server.port
    server.stop()
    assert not stack.exists("photos/remote.jpg")
    with pytest.raises(FileNotFoundError):
        stack.size("photos/remote.jpg")
    assert stack.listdir("photos") == ([], ["local.jpg"])
    server.start(port)
    # Back: the answers given without production were not remembered.
    assert stack.exists("photos/remote.jpg")
    assert stack.size("photos/remote.jpg") == len(b"production")
    assert stack.listdir("photos") == ([], ["local.jpg", "remote.jpg"])
    server.stop()
    assert stack.exists("photos/remote.jpg")  # a full answer is cached as usual
    server.start(port)


def test_a_file_a_cached_listing_knows_is_read_through_the_circuit_breaker(
    server: Any, local: Any
) -> None:
    # Found by the stateful suite once a write kept production's listing: a
    # read that the listing answered streamed from S3 past the breaker, and
    # raised the outage where on_error="skip" answers without the layer.
    stack = Caching(
        Fallback(local, ReadOnly(s3_storage(server.endpoint_url)), on_error="skip", retry_after=0)
    )
    assert read(stack, "photos/remote.jpg") == b"production"  # photos/ listed, and kept
    port = server.port
    server.stop()
    with pytest.raises(FileNotFoundError):  # skipped: in no layer that answers
        read(stack, "photos/remote.jpg")
    server.start(port)
    assert read(stack, "photos/remote.jpg") == b"production"


def test_a_local_copy_of_a_file_a_cached_listing_knows_is_fetched_through_the_breaker(
    server: Any, local: Any, tmp_path: Path
) -> None:
    # The same, for a Caching that keeps local copies: the copy was streamed
    # from S3 past the breaker.
    stack = Caching(
        Fallback(local, ReadOnly(s3_storage(server.endpoint_url)), on_error="skip", retry_after=0),
        contents=FileSystemStorage(location=tmp_path / "copies"),
    )
    assert stack.exists("photos/remote.jpg")  # photos/ listed, and kept
    port = server.port
    server.stop()
    with pytest.raises(FileNotFoundError):  # skipped: in no layer that answers
        read(stack, "photos/remote.jpg")
    server.start(port)
    assert read(stack, "photos/remote.jpg") == b"production"


def test_a_new_name_while_a_layer_is_down_is_one_it_cannot_have(server: Any, local: Any) -> None:
    stack = Fallback(local, ReadOnly(s3_storage(server.endpoint_url)), on_error="skip")
    server.stop()
    # The new name must be free in production too: that cannot be known now,
    # so it is one that no file of production can have (tests/test_offline.py).
    saved = stack.save("photos/new.jpg", ContentFile(b"x"))
    assert re.fullmatch(r"photos/new_offline_[0-9a-f]{24}\.jpg", saved)
    assert not local.exists("photos/new.jpg")


# -- a server that never answers ---------------------------------------------------------


class BlackHole:
    """A loopback socket that accepts connections and never answers."""

    def __init__(self) -> None:
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(64)
        self.connections: list[socket.socket] = []
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.listener.getsockname()[1]}"

    @property
    def attempts(self) -> int:
        return len(self.connections)

    def _accept(self) -> None:
        while True:
            try:
                connection, _address = self.listener.accept()
            except OSError:
                return
            self.connections.append(connection)  # held open, never answered

    def close(self) -> None:
        for connection in self.connections:
            connection.close()
        self.listener.close()


@pytest.fixture
def black_hole() -> Iterator[BlackHole]:
    hole = BlackHole()
    yield hole
    hole.close()


def test_a_dead_layer_costs_one_timeout_per_window(black_hole: BlackHole, local: Any) -> None:
    stack = Fallback(
        local,
        ReadOnly(s3_storage(black_hole.endpoint, timeout=1)),
        on_error="skip",
        failures=1,
        retry_after=3,
    )
    assert not stack.exists("photos/remote.jpg")  # one timeout: the breaker opens
    opened = time.monotonic()
    assert black_hole.attempts == 1
    for _ in range(10):
        assert not stack.exists("photos/remote.jpg")
        assert read(stack, "photos/local.jpg") == b"local"
    assert black_hole.attempts == 1  # skipped without a request
    time.sleep(max(0.0, opened + 3.2 - time.monotonic()))
    # The window is over: one read, and only one among many threads, probes it.
    results: list[bool] = []
    threads = [
        threading.Thread(target=lambda: results.append(stack.exists("photos/remote.jpg")))
        for _ in range(8)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == [False] * 8
    assert black_hole.attempts == 2


def test_failures_before_the_breaker_opens(black_hole: BlackHole, local: Any) -> None:
    stack = Fallback(local, ReadOnly(s3_storage(black_hole.endpoint, timeout=0.5)), on_error="skip")
    for _ in range(6):
        stack.exists("photos/remote.jpg")
    assert black_hole.attempts == 3  # the default: three in a row, then skipped


def test_storage_stack_shows_the_breakers(
    black_hole: BlackHole, local: Any, settings: Any, use_storages: Any
) -> None:
    from django.core.management import call_command

    use_storages(
        {
            **settings.STORAGES,
            "media": {
                "BACKEND": "storage_mixins.Fallback",
                "OPTIONS": {
                    "layers": ["local-disk", "remote"],
                    "on_error": "skip",
                    "failures": 1,
                },
            },
            "local-disk": {
                "BACKEND": "django.core.files.storage.FileSystemStorage",
                "OPTIONS": {"location": local.location},
            },
            "remote": {"BACKEND": "storage_mixins.ReadOnly", "OPTIONS": {"storage": "hole"}},
            "hole": {
                "BACKEND": "storages.backends.s3.S3Storage",
                "OPTIONS": {
                    "bucket_name": "production-media",
                    "endpoint_url": black_hole.endpoint,
                    "access_key": "testing",
                    "secret_key": "testing",
                    "region_name": "us-east-1",
                    "client_config": s3_storage(black_hole.endpoint, 0.5).client_config,
                },
            },
        }
    )
    from django.core.files.storage import storages

    storages["media"].exists("photos/remote.jpg")
    out = StringIO()
    with pytest.raises(CommandError, match="problem"):
        call_command("storage_stack", "--storage", "media", stdout=out)
    assert "[circuit open: skipped for" in out.getvalue()
