"""The fault proxy forwards S3 traffic faithfully, injects each fault as documented,
and leaves no thread or socket behind."""

from __future__ import annotations

import errno
import os
import socket
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from http.client import HTTPConnection, RemoteDisconnected
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError, ConnectionClosedError
from django.core.files.base import ContentFile
from urllib3.exceptions import ProtocolError

from tests.conftest import PRODUCTION_BUCKET, S3, require_path
from tests.faultproxy import FaultProxy, Mode

pytestmark = pytest.mark.reliability

KEY = "photos/remote.jpg"
CONFIG = Config(
    retries={"total_max_attempts": 1},
    connect_timeout=2,
    read_timeout=2,
    s3={"addressing_style": "path"},
)
# moto ignores the signature, but the proxy must not break it: it forwards Host as sent.
AUTHORIZATION = (
    "AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/s3/aws4_request, "
    "SignedHeaders=host, Signature=0"
)


def s3_client(endpoint_url: str) -> Any:
    return boto3.client(
        "s3",
        endpoint_url=endpoint_url,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=CONFIG,
    )


@pytest.fixture
def proxy(s3: S3) -> Iterator[FaultProxy]:
    s3.put(KEY, b"production")
    with FaultProxy(s3.server.endpoint_url) as proxy:
        yield proxy


@pytest.fixture
def client(proxy: FaultProxy) -> Iterator[Any]:
    client = s3_client(proxy.endpoint_url)
    yield client
    client.close()


OPERATIONS: dict[str, Callable[[Any], object]] = {
    "get": lambda c: c.get_object(Bucket=PRODUCTION_BUCKET, Key=KEY)["Body"].read(),
    "head": lambda c: c.head_object(Bucket=PRODUCTION_BUCKET, Key=KEY)["ContentLength"],
    "put": lambda c: c.put_object(Bucket=PRODUCTION_BUCKET, Key="photos/new.jpg", Body=b"new"),
    "list": lambda c: c.list_objects_v2(Bucket=PRODUCTION_BUCKET)["KeyCount"],
}


def read(client: Any, key: str = KEY) -> bytes:
    return bytes(client.get_object(Bucket=PRODUCTION_BUCKET, Key=key)["Body"].read())


def status(error: ClientError) -> tuple[int, str]:
    return error.response["ResponseMetadata"]["HTTPStatusCode"], error.response["Error"]["Code"]


# -- forwarding ------------------------------------------------------------------------


def test_forwards_every_method_byte_for_byte(s3: S3, proxy: FaultProxy, client: Any) -> None:
    large = os.urandom(2 * 1024 * 1024)
    client.put_object(Bucket=PRODUCTION_BUCKET, Key="large.bin", Body=large)
    client.put_object(Bucket=PRODUCTION_BUCKET, Key="empty.txt", Body=b"")
    assert s3.snapshot() == {KEY: b"production", "large.bin": large, "empty.txt": b""}
    assert read(client) == b"production"
    assert read(client, "large.bin") == large
    assert read(client, "empty.txt") == b""
    head = client.head_object(Bucket=PRODUCTION_BUCKET, Key="large.bin")
    direct = s3.client.head_object(Bucket=PRODUCTION_BUCKET, Key="large.bin")
    assert head["ContentLength"] == len(large)
    assert head["ETag"] == direct["ETag"]
    assert client.head_object(Bucket=PRODUCTION_BUCKET, Key="empty.txt")["ContentLength"] == 0
    listing = client.list_objects_v2(Bucket=PRODUCTION_BUCKET)
    assert [entry["Key"] for entry in listing["Contents"]] == ["empty.txt", "large.bin", KEY]
    deleted = client.delete_object(Bucket=PRODUCTION_BUCKET, Key="empty.txt")
    assert deleted["ResponseMetadata"]["HTTPStatusCode"] == 204
    batch = client.delete_objects(
        Bucket=PRODUCTION_BUCKET, Delete={"Objects": [{"Key": "large.bin"}]}
    )
    assert [entry["Key"] for entry in batch["Deleted"]] == ["large.bin"]
    assert read(client) == b"production"  # after a 204, the connection still parses

    # Each request reached S3 once, on one kept-alive connection to the proxy.
    assert s3.server.counts() == Counter({"PUT": 2, "GET": 5, "HEAD": 2, "DELETE": 1, "POST": 1})
    assert proxy.counts() == Counter({"ok": 11})
    assert proxy.connections == 1


def test_decodes_a_chunked_request_body(s3: S3, proxy: FaultProxy) -> None:
    connection = HTTPConnection("127.0.0.1", proxy.port)
    try:
        connection.request(
            "PUT",
            f"/{PRODUCTION_BUCKET}/chunked.txt",
            body=iter([b"first,", b"second"]),  # an iterable: sent chunked
            headers={"Authorization": AUTHORIZATION},
        )
        response = connection.getresponse()
        response.read()
    finally:
        connection.close()
    assert response.status == 200
    assert s3.snapshot()["chunked.txt"] == b"first,second"


@pytest.mark.parametrize(
    ("header", "value", "expected"),
    [
        ("Transfer-Encoding", "gzip, chunked", 501),
        ("Content-Length", "many", 400),
        ("Content-Length", "-1", 400),
    ],
)
def test_refuses_a_body_it_cannot_frame(
    s3: S3, proxy: FaultProxy, header: str, value: str, expected: int
) -> None:
    connection = HTTPConnection("127.0.0.1", proxy.port)
    try:
        connection.putrequest("PUT", f"/{PRODUCTION_BUCKET}/refused.txt")
        connection.putheader(header, value)
        connection.endheaders()
        response = connection.getresponse()
        response.read()
    finally:
        connection.close()
    assert response.status == expected
    assert response.getheader("Connection") == "close"  # the body was not consumed
    assert s3.server.counts() == Counter()


def test_a_body_cut_short_is_not_forwarded(s3: S3, proxy: FaultProxy) -> None:
    with socket.create_connection(("127.0.0.1", proxy.port)) as raw:
        raw.sendall(
            f"PUT /{PRODUCTION_BUCKET}/cut.txt HTTP/1.1\r\nHost: s3\r\n"
            f"Authorization: {AUTHORIZATION}\r\nContent-Length: 10\r\n\r\nabc".encode()
        )
        raw.shutdown(socket.SHUT_WR)
        assert raw.recv(1024) == b""  # closed, without a response
    assert proxy.counts() == Counter({"ok": 1})
    assert s3.server.counts() == Counter()


def test_answers_502_while_the_upstream_is_down(s3: S3) -> None:
    from tests.s3server import S3Server

    s3.bucket(PRODUCTION_BUCKET)
    upstream = S3Server()  # one of this test's own, to stop and restart
    upstream.start()
    with FaultProxy(upstream.endpoint_url) as proxy:
        client = s3_client(proxy.endpoint_url)
        try:
            client.head_bucket(Bucket=PRODUCTION_BUCKET)
            port = upstream.port
            upstream.stop()
            with pytest.raises(ClientError) as down:
                client.head_bucket(Bucket=PRODUCTION_BUCKET)
            upstream.start(port)
            client.head_bucket(Bucket=PRODUCTION_BUCKET)
        finally:
            client.close()
            upstream.stop()
    assert status(down.value) == (502, "502")  # HEAD: botocore has no body to read
    assert proxy.counts() == Counter({"ok": 3})
    assert proxy.connections == 1


# -- faults ------------------------------------------------------------------------------


@pytest.mark.parametrize("operation", OPERATIONS)
@pytest.mark.parametrize(
    ("mode", "cause"), [("drop", RemoteDisconnected), ("reset", ConnectionResetError)]
)
def test_connection_faults(
    s3: S3, proxy: FaultProxy, client: Any, mode: Mode, cause: type, operation: str
) -> None:
    proxy.set_mode(mode)
    with pytest.raises(ConnectionClosedError) as info:
        OPERATIONS[operation](client)
    error = info.value.kwargs["error"]
    assert type(error) is ProtocolError
    assert error.args[0] == "Connection aborted."
    assert type(error.args[1]) is cause  # RemoteDisconnected subclasses ConnectionResetError
    if mode == "reset":
        assert error.args[1].errno == errno.ECONNRESET
    assert proxy.counts() == Counter({mode: 1})
    assert s3.server.counts() == Counter()  # the request went no further


@pytest.mark.parametrize("operation", OPERATIONS)
@pytest.mark.parametrize(("mode", "code"), [("500", "InternalError"), ("503", "SlowDown")])
def test_status_faults(
    s3: S3, proxy: FaultProxy, client: Any, mode: Mode, code: str, operation: str
) -> None:
    proxy.set_mode(mode)
    with pytest.raises(ClientError) as info:
        OPERATIONS[operation](client)
    # A HEAD response has no body, so botocore names the error after the status.
    assert status(info.value) == (int(mode), mode if operation == "head" else code)
    assert proxy.counts() == Counter({mode: 1})
    assert s3.server.counts() == Counter()


def test_delay_forwards_late(proxy: FaultProxy, client: Any) -> None:
    proxy.delay_seconds = 0.3
    proxy.set_mode("delay")
    started = time.monotonic()
    assert read(client) == b"production"
    assert time.monotonic() - started >= 0.3
    assert proxy.counts() == Counter({"delay": 1})


def test_hang_answers_nothing_and_stall_stops_midway(proxy: FaultProxy) -> None:
    proxy.set_mode("hang")
    connection = HTTPConnection("127.0.0.1", proxy.port, timeout=0.3)
    connection.request(
        "GET", f"/{PRODUCTION_BUCKET}/{KEY}", headers={"Authorization": AUTHORIZATION}
    )
    with pytest.raises(TimeoutError):
        connection.getresponse()
    connection.close()
    proxy.set_mode("stall")
    connection = HTTPConnection("127.0.0.1", proxy.port, timeout=0.3)
    connection.request(
        "GET", f"/{PRODUCTION_BUCKET}/{KEY}", headers={"Authorization": AUTHORIZATION}
    )
    response = connection.getresponse()
    assert response.status == 200 and response.getheader("Content-Length") == "10"
    assert response.read(5) == b"produ"  # half the body, then nothing
    with pytest.raises(TimeoutError):
        response.read(1)
    connection.close()
    assert proxy.counts() == Counter({"hang": 1, "stall": 1})


def test_faults_apply_per_request_and_clients_recover(proxy: FaultProxy, client: Any) -> None:
    for mode, outcome in [
        ("ok", None),
        ("500", ClientError),  # the connection is kept: the next request reuses it
        ("ok", None),
        ("drop", ConnectionClosedError),  # closed: the next request opens connection 2
        ("ok", None),
        ("503", ClientError),
        ("delay", None),
        ("reset", ConnectionClosedError),  # connection 3 next
        ("ok", None),
    ]:
        proxy.set_mode(mode)
        if outcome is None:
            assert read(client) == b"production"
        else:
            with pytest.raises(outcome):
                read(client)
    assert proxy.counts() == Counter(
        {"ok": 4, "500": 1, "drop": 1, "503": 1, "delay": 1, "reset": 1}
    )
    assert proxy.connections == 3
    proxy.reset_counts()
    assert (proxy.counts(), proxy.connections) == (Counter(), 0)


def test_paused_forwards_then_restores_the_mode(proxy: FaultProxy, client: Any) -> None:
    proxy.set_mode("drop")
    with proxy.paused():
        assert proxy.mode == "ok"
        assert read(client) == b"production"
    assert proxy.mode == "drop"
    with pytest.raises(RuntimeError), proxy.paused():
        raise RuntimeError
    assert proxy.mode == "drop"
    with pytest.raises(ConnectionClosedError):
        read(client)
    assert proxy.counts() == Counter({"ok": 1, "drop": 1})


def test_unknown_mode(proxy: FaultProxy) -> None:
    with pytest.raises(ValueError, match="unknown mode '404'"):
        proxy.set_mode("404")  # type: ignore[arg-type]
    assert proxy.mode == "ok"


def test_mode_changes_from_another_thread_count_exactly(proxy: FaultProxy, client: Any) -> None:
    outcomes: list[str] = []
    lock = threading.Lock()

    def reader() -> None:
        for _ in range(10):
            try:
                read(client)
                outcome = "ok"
            except ClientError:
                outcome = "503"
            with lock:
                outcomes.append(outcome)

    readers = [threading.Thread(target=reader) for _ in range(6)]
    for thread in readers:
        thread.start()
    while any(thread.is_alive() for thread in readers):
        proxy.set_mode("503" if proxy.mode == "ok" else "ok")
        time.sleep(0.002)
    for thread in readers:
        thread.join()
    assert len(outcomes) == 60
    assert proxy.counts() == Counter(outcomes)


# -- through django-storages ----------------------------------------------------------------


def test_s3storage_reads_and_writes_through_the_proxy(s3: S3, proxy: FaultProxy) -> None:
    storage = s3.storage(endpoint_url=proxy.endpoint_url, client_config=CONFIG)
    assert storage.exists(KEY)
    assert storage.size(KEY) == len(b"production")
    with storage.open(KEY) as handle:
        assert handle.read() == b"production"
    assert storage.listdir("photos") == ([], ["remote.jpg"])
    assert storage.save("photos/new.jpg", ContentFile(b"new")) == "photos/new.jpg"
    assert s3.snapshot() == {KEY: b"production", "photos/new.jpg": b"new"}
    assert set(proxy.counts()) == {"ok"}


@pytest.mark.parametrize(
    ("mode", "expected", "match"),
    [
        ("drop", ConnectionClosedError, "Connection was closed before we received"),
        ("reset", ConnectionClosedError, "Connection was closed before we received"),
        ("500", ClientError, r"An error occurred \(500\) when calling the HeadObject"),
        ("503", ClientError, r"An error occurred \(503\) when calling the HeadObject"),
    ],
)
@pytest.mark.parametrize("call", ["exists", "size", "open"])
def test_s3storage_sees_each_fault(
    s3: S3, proxy: FaultProxy, mode: Mode, expected: type[Exception], match: str, call: str
) -> None:
    storage = s3.storage(endpoint_url=proxy.endpoint_url, client_config=CONFIG)
    proxy.set_mode(mode)
    with pytest.raises(expected, match=match):
        getattr(storage, call)(KEY)  # each asks HeadObject first
    assert proxy.counts() == Counter({mode: 1})


# -- stopping ------------------------------------------------------------------------


def open_tcp_ports() -> list[tuple[int, int]]:
    """(local port, remote port) of each TCP socket this process holds open (Linux)."""
    inodes = set()
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:  # closed meanwhile (the listing's own fd, for one)
            continue
        if target.startswith("socket:["):
            inodes.add(target[len("socket:[") : -1])
    ports = []
    for table in ("/proc/self/net/tcp", "/proc/self/net/tcp6"):
        with open(table) as lines:
            next(lines)
            for line in lines:
                fields = line.split()
                if fields[9] in inodes:
                    local, remote = (int(field.rsplit(":", 1)[1], 16) for field in fields[1:3])
                    ports.append((local, remote))
    return ports


def read_in_background(client: Any) -> tuple[threading.Thread, list[Exception]]:
    """A thread reading through ``client``, and the ConnectionClosedError it meets."""
    errors: list[Exception] = []

    def target() -> None:
        try:
            read(client)
        except ConnectionClosedError as error:
            errors.append(error)

    thread = threading.Thread(target=target)
    thread.start()
    return thread, errors


def proxy_threads() -> list[str]:
    return [t.name for t in threading.enumerate() if t.name.startswith("faultproxy:")]


def wait_for(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + 2
    while not condition():
        assert time.monotonic() < deadline, f"gave up waiting for {what}"
        time.sleep(0.01)


def test_stop_cuts_requests_in_flight_and_leaves_nothing_open() -> None:
    require_path("/proc/self/net/tcp", "Linux's /proc, to count open sockets")
    # An upstream that accepts connections (in the kernel) and never answers.
    with socket.create_server(("127.0.0.1", 0)) as upstream:
        upstream_port = upstream.getsockname()[1]
        proxy = FaultProxy(f"http://127.0.0.1:{upstream_port}").start()
        client = s3_client(proxy.endpoint_url)
        try:
            waiting, errors = read_in_background(client)
            wait_for(
                lambda: any(remote == upstream_port for _, remote in open_tcp_ports()),
                "the proxy to connect upstream",
            )
            assert [local for local, _ in open_tcp_ports()].count(proxy.port) == 2
            assert len(proxy_threads()) == 2  # the accepting thread, one connection's
            started = time.monotonic()
            proxy.stop()
            assert time.monotonic() - started < 1
            waiting.join()
        finally:
            proxy.stop()
            client.close()
    assert len(errors) == 1  # the client saw its connection closed
    assert proxy_threads() == []
    leftover = [
        ports for ports in open_tcp_ports() if proxy.port in ports or upstream_port in ports
    ]
    assert leftover == []


def test_stop_does_not_wait_out_a_delay(s3: S3, proxy: FaultProxy, client: Any) -> None:
    proxy.delay_seconds = 30
    proxy.set_mode("delay")
    waiting, errors = read_in_background(client)
    wait_for(lambda: proxy.counts()["delay"] == 1, "the request")
    started = time.monotonic()
    proxy.stop()
    assert time.monotonic() - started < 1
    waiting.join()
    assert len(errors) == 1
    assert proxy_threads() == []
    assert s3.server.counts() == Counter()  # the delayed request was never forwarded
    proxy.stop()  # a second stop, as the fixture's, is harmless
