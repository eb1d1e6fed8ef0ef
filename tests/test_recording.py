"""storage_mixins.recording: which calls are recorded, and their backend requests.

S3 requests are compared with what moto's server received (tests/s3server.py
counts every request but the tests' own).
"""

from __future__ import annotations

import contextvars
import threading
from typing import Any

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from django.core.files.base import ContentFile
from django.core.files.storage import FileSystemStorage, InMemoryStorage, Storage, storages

from storage_mixins import Caching, Fallback, FallbackStorage, Logging, ReadOnly, ReadOnlyError
from storage_mixins.observability.context import current
from storage_mixins.observability.instrumentation import RECORDED_METHODS, is_installed
from storage_mixins.observability.recording import record
from tests.conformance import read
from tests.conftest import PRODUCTION_BUCKET


@pytest.fixture
def stack(fs: Any, mem: Any) -> Any:
    mem.save("photos/production.jpg", ContentFile(b"production"))
    fs.save("photos/local.jpg", ContentFile(b"local"))
    return Fallback(fs, ReadOnly(mem))


def test_nothing_is_recorded_outside_a_block(stack: Any) -> None:
    assert current.get() is None
    assert stack.exists("photos/local.jpg")
    with record() as recording:
        assert current.get() is recording
    assert current.get() is None
    assert recording.call_count == 0


def test_each_outermost_call_is_one_call(stack: Any) -> None:
    with record(detail=True) as recording:
        stack.exists("photos/production.jpg")
        name = stack.save("photos/new.jpg", ContentFile(b"new"))  # asks every layer inside
        stack.delete(name)
    assert [call.method for call in recording.calls] == ["exists", "save", "delete"]
    assert recording.call_count == 3
    assert recording.summary() == "3 calls"
    assert recording.seconds == pytest.approx(sum(call.seconds for call in recording.calls))
    save = recording.calls[1]
    assert save.name == "photos/new.jpg"
    assert {type(entered) for entered in save.entered} == {Fallback}  # its own inner calls


def test_the_layer_that_answered(stack: Any, fs: Any) -> None:
    cached = Caching(stack)
    with record(detail=True) as recording:
        cached.exists("photos/production.jpg")  # a miss: the layers are asked
        cached.exists("photos/production.jpg")  # a hit: they are not
        stack.size("photos/local.jpg")
        stack.listdir("photos")
        stack.url("photos/production.jpg")
        read(stack, "photos/production.jpg")
        stack.save("photos/new.jpg", ContentFile(b"new"))
    answers = [(call.method, call.answered_by()) for call in recording.calls]
    assert answers == [
        ("exists", "[1] ReadOnly(InMemoryStorage())"),
        ("exists", "Caching"),
        ("size", f"[0] FileSystemStorage('{fs.location}')"),
        ("listdir", "every layer"),
        ("url", "[1] ReadOnly(InMemoryStorage())"),
        ("open", "[1] ReadOnly(InMemoryStorage())"),
        ("save", f"[0] FileSystemStorage('{fs.location}')"),
    ]


def test_outcomes(stack: Any) -> None:
    with record(detail=True) as recording:
        stack.exists("photos/local.jpg")
        stack.exists("photos/nothing.jpg")
        with pytest.raises(FileNotFoundError):
            stack.size("photos/nothing.jpg")
        with pytest.raises(ReadOnlyError):
            ReadOnly(stack).save("photos/new.jpg", ContentFile(b"x"))
        with pytest.raises(ValueError, match="boom"):
            Logging(_Exploding()).size("a")
    outcomes = [(call.method, call.outcome) for call in recording.calls]
    assert outcomes == [
        ("exists", "found"),
        ("exists", "missing"),
        ("size", "missing"),
        ("save", "refused"),
        ("size", "error"),
    ]
    assert recording.calls[3].answered_by() == "ReadOnly"
    assert recording.calls[4].error == "ValueError: boom"


class _Exploding(InMemoryStorage):
    def size(self, name: str) -> int:
        raise ValueError("boom")


def test_without_detail_only_totals_are_kept(stack: Any) -> None:
    with record() as recording:
        stack.exists("photos/local.jpg")
        stack.size("photos/production.jpg")
    assert recording.call_count == 2
    assert recording.calls == []
    assert recording.seconds > 0


def test_methods_a_wrapper_does_not_define_are_not_recorded(mem: Any) -> None:
    """ReadOnly.exists is the wrapped storage's own method (through the proxy, in C)."""
    mem.save("a.txt", ContentFile(b"x"))
    guarded = ReadOnly(mem)
    with record(detail=True) as recording:
        guarded.exists("a.txt")  # delegated: not seen
        read(guarded, "a.txt")  # intercepted: recorded
        mem.exists("a.txt")  # no wrapper at all: not seen
    assert [call.method for call in recording.calls] == ["open"]


def test_every_wrapper_records_the_methods_it_defines() -> None:
    from tests.test_api import INTERCEPTED

    def installed() -> set[tuple[type, str]]:
        return {
            (cls, name)
            for cls, intercepted in INTERCEPTED.items()
            for name in intercepted & RECORDED_METHODS
            if is_installed(cls, name)
        }

    expected = {
        (cls, name) for cls, names in INTERCEPTED.items() for name in names & RECORDED_METHODS
    }
    assert installed() == set()  # nothing records: the classes' own methods
    with record():
        assert installed() == expected
        assert is_installed(Fallback, "which")
        with record():  # nested, or in another thread: still installed
            pass
        assert installed() == expected
    assert installed() == set()
    assert "exists" not in vars(FallbackStorage)  # inherits Fallback's


def test_nested_blocks_share_one_recording(stack: Any) -> None:
    with record() as outer:
        stack.exists("photos/local.jpg")
        with record(detail=True) as inner:
            stack.exists("photos/local.jpg")
        assert inner is outer
        assert current.get() is outer  # the inner block leaves it active
    assert outer.call_count == 2
    assert len(outer.calls) == 1  # detailed from the moment it was asked for


def test_threads_and_tasks_that_copy_the_context_record(stack: Any) -> None:
    with record() as recording:
        async_to_sync(sync_to_async(stack.exists))("photos/local.jpg")
        context = contextvars.copy_context()
        worker = threading.Thread(target=context.run, args=(stack.exists, "photos/local.jpg"))
        worker.start()
        worker.join()
        unrelated = threading.Thread(target=stack.exists, args=("photos/local.jpg",))
        unrelated.start()  # a thread of its own: not this recording's
        unrelated.join()
    assert recording.call_count == 2


# -- S3 requests, counted at the source --------------------------------------------


def _page(media: Any, names: list[str]) -> None:
    for name in names:
        if media.exists(name):
            media.url(name)
            media.size(name)
    with media.open(names[0]) as handle:  # open: HEAD; read: HEAD and GET, in threads
        handle.read()
    media.listdir("photos")


@pytest.mark.parametrize("cached", [False, True], ids=["Fallback", "Caching(Fallback)"])
def test_s3_requests_match_what_the_server_received(s3: Any, fs: Any, cached: bool) -> None:
    names = [f"photos/{number}.jpg" for number in range(3)]
    for name in names:
        s3.put(name, b"production " + name.encode())
    stack = Fallback(fs, ReadOnly(s3.storage()))
    media = Caching(stack) if cached else stack
    for attempt in range(2):  # cold, then warm (Caching answers without S3)
        s3.server.clear_requests()
        with record(detail=True) as recording:
            _page(media, [*names, "photos/missing.jpg"])
        received = len(s3.server.requests())
        assert recording.requests["S3"] == received, attempt
        outside = received - sum(call.requests["S3"] for call in recording.calls)
        # S3File reads the contents after open() returned (HEAD and GET); a
        # Caching whose listing knows the file streams it, its GET inside open().
        assert outside == (0 if cached else 2)
    print(f"\n{recording.summary()} (server received {received})")
    assert received > 0


def test_uploads_in_transfer_threads_count_for_their_call(s3: Any, fs: Any) -> None:
    stack = Fallback(ReadOnly(FileSystemStorage(location=fs.location)), s3.storage("dev-media"))
    s3.server.clear_requests()
    with record(detail=True) as recording:
        stack.save("uploads/new.txt", ContentFile(b"new"))
    received = s3.server.requests()
    assert [r.method for r in received if r.method == "PUT"] == ["PUT"]
    (save,) = recording.calls
    assert save.requests["S3"] == len(received) == recording.requests["S3"]


def test_a_connection_made_during_the_call_is_counted(s3: Any) -> None:
    """A new thread has no connection yet: django-storages makes it inside the call."""
    s3.put("a.txt", b"x")
    stack = Fallback(InMemoryStorage(), ReadOnly(s3.storage()))
    with record(detail=True) as recording:
        s3.server.clear_requests()
        context = contextvars.copy_context()
        worker = threading.Thread(target=context.run, args=(stack.size, "a.txt"))
        worker.start()
        worker.join()
    assert recording.requests["S3"] == len(s3.server.requests()) > 0


def test_configured_storages_are_counted_without_a_wrapper(s3: Any, use_storages: Any) -> None:
    s3.put("a.txt", b"x")
    use_storages({"production": s3.settings()})
    bare = storages["production"]
    bare.exists("a.txt")  # connected before any recording
    s3.server.clear_requests()
    with record() as recording:
        bare.exists("a.txt")
        bare.size("a.txt")
    assert recording.call_count == 0  # no wrapper: no calls seen
    assert recording.requests["S3"] == len(s3.server.requests()) == 2


def _listed_and_read(media: Any, names: list[str]) -> None:
    for name in names:
        if media.exists(name):  # a listing of the directory
            with media.open(name) as handle:  # streamed: a GET inside open()
                handle.read()


def test_the_client_a_thread_of_its_own_made_first_is_counted(s3: Any, fs: Any) -> None:
    """Listings and streamed reads share one client per S3Storage, made by
    whichever thread needed it first: here, one that records nothing."""
    names = ["photos/a.jpg", "photos/b.jpg", "photos/missing.jpg"]
    for name in names[:2]:
        s3.put(name, b"production")
    backend = s3.storage()
    before = Caching(Fallback(fs, ReadOnly(backend)), key_prefix="before")
    worker = threading.Thread(target=_listed_and_read, args=(before, names))
    worker.start()
    worker.join()
    media = Caching(Fallback(fs, ReadOnly(backend)), key_prefix="recorded")
    s3.server.clear_requests()
    with record(detail=True) as recording:
        _listed_and_read(media, names)
    received = s3.server.counts()
    assert received == {"GET": 3}  # a listing, two reads
    assert recording.requests["S3"] == 3
    assert sum(call.requests["S3"] for call in recording.calls) == 3


def test_an_unrelated_thread_on_the_shared_client_is_not_counted(s3: Any, fs: Any) -> None:
    s3.put("photos/a.jpg", b"production")
    s3.put("elsewhere/b.jpg", b"production")
    backend = s3.storage()
    media = Caching(Fallback(fs, ReadOnly(backend)))
    with record() as recording:
        _listed_and_read(media, ["photos/a.jpg"])  # makes the client
        unrelated = threading.Thread(target=_listed_and_read, args=(media, ["elsewhere/b.jpg"]))
        unrelated.start()  # a listing and a read on the same client, for no recording
        unrelated.join()
    assert s3.server.counts() == {"GET": 4}
    assert recording.requests["S3"] == 2


def test_a_listing_of_many_directories_counts_its_worker_threads(s3: Any) -> None:
    """S3Lister.find() lists the directories of a batch in threads of a pool."""
    from storage_mixins.backends.listers import lister_for

    s3.put("photos/a.jpg", b"a")
    s3.put("videos/b.mp4", b"b")
    lister = lister_for(s3.storage())
    s3.server.clear_requests()
    with record() as recording:
        found = lister.find(["photos/a.jpg", "videos/b.mp4", "docs/c.txt"])
    assert [name for name, entry in found.items() if entry is not None] == [
        "photos/a.jpg",
        "videos/b.mp4",
    ]
    assert recording.requests["S3"] == len(s3.server.requests()) == 3


def test_a_client_of_ones_own_counts_each_request_once(s3: Any) -> None:
    """A client of a session made once something has recorded is counted; given
    to count_s3_requests() as well, each of its requests still counts once."""
    import boto3

    from storage_mixins.observability.recording import count_s3_requests

    s3.put("a.txt", b"x")
    with record():
        pass  # a session made from now on counts (the first recording may be later)
    client = boto3.session.Session().client(
        "s3",
        endpoint_url=s3.server.endpoint_url,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    s3.server.clear_requests()
    with record(detail=True) as recording:
        client.head_object(Bucket=PRODUCTION_BUCKET, Key="a.txt")  # not given
        count_s3_requests(client)
        client.head_object(Bucket=PRODUCTION_BUCKET, Key="a.txt")
    client.head_object(Bucket=PRODUCTION_BUCKET, Key="a.txt")  # outside the recording
    assert len(s3.server.requests()) == 3
    assert recording.requests["S3"] == 2
    assert [(r.operation, r.target, r.storage) for r in recording.backend_requests] == [
        ("HeadObject", "a.txt", None)
    ] * 2


def test_a_storage_that_sends_requests_while_it_is_built(s3: Any) -> None:
    """S3ManifestStaticStorage reads its manifest in __init__, before any client
    of its can be hooked: its session's clients count from the start."""
    from storages.backends.s3 import S3ManifestStaticStorage

    s3.put("static/staticfiles.json", b'{"version": "1.1", "paths": {}, "hash": ""}')
    # Credentials of its own: the suite shares a boto3 session per thread and
    # credentials (tests/conftest.py), and one made before any recording began
    # has no handlers. moto accepts any.
    options = {**s3.settings()["OPTIONS"], "location": "static", "access_key": "manifest"}
    s3.server.clear_requests()
    with record(detail=True) as recording:
        S3ManifestStaticStorage(**options)
    received = [(r.method, r.key) for r in s3.server.requests()]
    assert ("GET", "static/staticfiles.json") in received
    assert [(r.method, r.target) for r in recording.backend_requests] == received


def test_requests_outside_any_recording_are_not_counted(s3: Any) -> None:
    s3.put("a.txt", b"x")
    stack = Fallback(InMemoryStorage(), ReadOnly(s3.storage()))
    with record() as recording:
        stack.exists("a.txt")
    stack.exists("a.txt")
    assert recording.requests["S3"] == 1


def test_other_remote_backends_count_a_request_per_layer_answer(mem: Any) -> None:
    remote = _RemoteStorage({"a.txt": 1})
    stack = Fallback(mem, ReadOnly(remote))
    with record(detail=True) as recording:
        stack.size("a.txt")
        stack.exists("a.txt")
        stack.exists("nothing.txt")  # no layer answered
    assert recording.summary() == "3 calls, 2 _RemoteStorage requests"


class _RemoteStorage(Storage):
    """Stands for a backend without botocore, e.g. Google Cloud Storage."""

    def __init__(self, sizes: dict[str, int]) -> None:
        self.sizes = sizes

    def exists(self, name: str) -> bool:
        return name in self.sizes

    def size(self, name: str) -> int:
        if name not in self.sizes:
            raise FileNotFoundError(name)
        return self.sizes[name]


def test_a_stack_whose_write_layer_was_recorded_first_still_counts(s3: Any, fs: Any) -> None:
    """The proxy hands a missing attribute over to its wrapped storage: what a
    wrapper remembers must be its own, not its write layer's."""
    s3.put("a.txt", b"x")
    local = Logging(fs)
    stack = Fallback(local, ReadOnly(s3.storage()))
    with record() as recording:
        local.exists("a.txt")  # the write layer, recorded on its own first
        s3.server.clear_requests()
        stack.size("a.txt")
    assert recording.requests["S3"] == len(s3.server.requests()) == 1


@pytest.mark.parametrize("on_error", ["raise", "skip"])
def test_the_layer_that_answered_through_listings(fs: Any, mem: Any, on_error: str) -> None:
    # Caching(listings=True) reads the stack's layers through listing readers:
    # the recording names the layer, not the reader.
    mem.save("photos/production.jpg", ContentFile(b"production"))
    cached = Caching(Fallback(fs, ReadOnly(mem), on_error=on_error), listings=True)
    with record(detail=True) as recording:
        cached.exists("photos/production.jpg")
        cached.size("photos/production.jpg")
    assert [call.answered_by() for call in recording.calls] == [
        "[1] ReadOnly(InMemoryStorage())",
        "[1] ReadOnly(InMemoryStorage())",
    ]


def test_a_backend_request_reported_to_the_hook_counts_for_the_recording(fs: Any) -> None:
    """The hook point a backend of the library's own reports its requests to."""
    from storage_mixins.core import hooks

    hooks.backend_request("HTTP", "GET", "/media/a.jpg")  # nothing records: nobody hears
    with record(detail=True) as recording:
        hooks.backend_request("HTTP", "HEAD", "/media/a.jpg")
        hooks.backend_request("HTTP", "GET", "/media/a.jpg")
    hooks.backend_request("HTTP", "GET", "/media/b.jpg")  # after it: not counted
    assert recording.requests == {"HTTP": 2}
    assert hooks.request_observer is None


# -- each request, in detail ----------------------------------------------------------


def test_each_s3_request_in_detail(s3: Any, fs: Any) -> None:
    s3.put("photos/a.jpg", b"production")
    backend = s3.storage()
    stack = Fallback(fs, ReadOnly(backend))
    s3.server.clear_requests()
    with record(detail=True) as recording:
        stack.exists("photos/a.jpg")
        stack.listdir("photos")
    received = s3.server.requests()
    details = [
        (r.kind, r.method, r.operation, r.target, r.storage, r.call)
        for r in recording.backend_requests
    ]
    exists, listdir = recording.calls
    assert details == [
        ("S3", "HEAD", "HeadObject", "photos/a.jpg", backend, exists),
        ("S3", "GET", "ListObjects", "photos/", backend, listdir),  # django-storages: v1
    ]
    assert [(r.method, r.key) for r in received] == [("HEAD", "photos/a.jpg"), ("GET", "")]
    assert recording.backend_requests[0].caller.function == "test_each_s3_request_in_detail"


def test_requests_are_kept_one_by_one_with_detail_only(s3: Any) -> None:
    s3.put("a.txt", b"x")
    stack = Fallback(InMemoryStorage(), ReadOnly(s3.storage()))
    with record() as recording:
        stack.exists("a.txt")
    assert recording.requests == {"S3": 1}
    assert recording.backend_requests == []


def test_a_request_reported_to_the_hook_in_detail(mem: Any) -> None:
    """The HTTP layer reports its requests, and itself, to the hook point."""
    from storage_mixins.core import hooks

    class Remote(InMemoryStorage):
        def exists(self, name: str) -> bool:
            hooks.backend_request("HTTP", "HEAD", name, self)
            return False

    remote = Remote()
    with record(detail=True) as recording:
        Fallback(mem, ReadOnly(remote)).exists("photos/a.jpg")
        hooks.backend_request("HTTP", "GET", "photos/b.jpg")  # outside any call, sender unknown
    first, second = recording.backend_requests
    assert (first.kind, first.method, first.target, first.storage) == (
        "HTTP",
        "HEAD",
        "photos/a.jpg",
        remote,
    )
    assert first.call is recording.calls[0]
    assert second.storage is None and second.call is None
    assert second.describe().startswith(
        "GET photos/b.jpg (HTTP) to an unknown storage, outside any storage call, from "
    )
    assert recording.requests == {"HTTP": 2}


def test_an_estimated_request_in_detail(mem: Any) -> None:
    remote = _RemoteStorage({"a.txt": 1})
    with record(detail=True) as recording:
        Fallback(mem, ReadOnly(remote)).size("a.txt")
    (estimate,) = recording.backend_requests
    assert (estimate.kind, estimate.method, estimate.target, estimate.operation) == (
        "_RemoteStorage",
        "size",
        "a.txt",
        "estimate",
    )
    assert estimate.storage is remote
