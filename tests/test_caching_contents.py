"""Caching(contents=...): local copies of remote files, counted at the S3 server."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from django.core.cache import caches
from django.core.files.base import ContentFile
from django.core.files.storage import FileSystemStorage

from storage_mixins import Caching, Fallback, ReadOnly, ReadOnlyError
from tests.conformance import read
from tests.conftest import require_path

PHOTO = bytes(range(256)) * 400  # 100 KiB


@pytest.fixture
def production(s3: Any) -> Any:
    s3.put("photos/a.jpg", PHOTO)
    return s3.storage()


@pytest.fixture
def cache_dir(tmp_path: Path) -> Path:
    return tmp_path / "cache"


@pytest.fixture
def contents(cache_dir: Path) -> FileSystemStorage:
    return FileSystemStorage(location=cache_dir)


def files_in(directory: Path) -> list[str]:
    return sorted(str(p.relative_to(directory)) for p in directory.rglob("*") if p.is_file())


def test_first_open_copies_later_opens_are_local(
    s3: Any, production: Any, contents: Any, cache_dir: Path
) -> None:
    cached = Caching(production, contents=contents)
    assert read(cached, "photos/a.jpg") == PHOTO
    first = s3.server.counts()
    assert first == {"GET": 1}  # raw S3Storage needs HEAD, HEAD, GET
    s3.server.clear_requests()
    for _ in range(5):
        assert read(cached, "photos/a.jpg") == PHOTO
    assert s3.server.requests() == []
    [copy] = files_in(cache_dir)
    # A directory per name, named by its hash, and in it one per version of
    # the file; the copy keeps its base name.
    _namespace, fan_out, digest, _version, base = copy.split("/")
    assert (digest[:2], base) == (fan_out, "a.jpg")
    assert cached.path("photos/a.jpg") == str(cache_dir / copy)
    assert s3.server.requests() == []


def test_path_fetches_a_copy(s3: Any, production: Any, contents: Any) -> None:
    cached = Caching(Fallback(FileSystemStorage(location=contents.location + "-local"),
                              ReadOnly(production)), contents=contents)  # fmt: skip
    local_path = cached.path("photos/a.jpg")
    assert Path(local_path).read_bytes() == PHOTO
    s3.server.clear_requests()
    assert cached.path("photos/a.jpg") == local_path
    assert read(cached, "photos/a.jpg") == PHOTO
    assert s3.server.requests() == []


def test_files_already_on_local_disk_are_not_copied(
    s3: Any, production: Any, contents: Any, cache_dir: Path, tmp_path: Path
) -> None:
    local = FileSystemStorage(location=tmp_path / "local")
    local.save("uploads/mine.txt", ContentFile(b"mine"))
    cached = Caching(Fallback(local, ReadOnly(production)), contents=contents)
    for _ in range(2):
        assert read(cached, "uploads/mine.txt") == b"mine"
    assert cached.path("uploads/mine.txt") == local.path("uploads/mine.txt")
    assert files_in(cache_dir) == []
    assert s3.server.requests() == []


def _later(monkeypatch: pytest.MonkeyPatch, seconds: float) -> None:
    """Move the clock the cache expires entries by ``seconds`` on."""
    now = time.time
    monkeypatch.setattr(time, "time", lambda: now() + seconds)


def test_revalidation_after_expiry(
    s3: Any, production: Any, contents: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    cached = Caching(production, contents=contents, timeout=60)
    read(cached, "photos/a.jpg")
    # The entries expire; the file's version is kept longer (no write came),
    # so the unchanged copy is not fetched again.
    _later(monkeypatch, 61)
    s3.server.clear_requests()
    assert read(cached, "photos/a.jpg") == PHOTO
    # Size and modification time from one listing of photos/ (the default
    # listings="auto"), no download.
    assert [r.method for r in s3.server.requests()] == ["GET"]
    assert "list-type=2" in s3.server.requests()[0].query
    # Changed behind the cache's back: seen once the entries expire.
    s3.put("photos/a.jpg", b"replaced")
    assert read(cached, "photos/a.jpg") == PHOTO
    _later(monkeypatch, 122)
    assert read(cached, "photos/a.jpg") == b"replaced"


def test_a_copy_whose_version_was_dropped_is_fetched_again(
    s3: Any, production: Any, contents: Any
) -> None:
    cached = Caching(production, contents=contents)
    read(cached, "photos/a.jpg")
    # Evicted (here: cleared): without its version a copy cannot tell a
    # write it missed, so it is not trusted; the file is fetched once more.
    caches["default"].clear()
    s3.server.clear_requests()
    assert read(cached, "photos/a.jpg") == PHOTO
    assert [(r.method, r.query) for r in s3.server.requests()] == [("GET", "")]  # the file
    s3.server.clear_requests()
    assert read(cached, "photos/a.jpg") == PHOTO
    assert s3.server.requests() == []


def test_a_copy_removed_before_it_is_opened_is_read_from_the_storage(
    s3: Any, production: Any, contents: Any
) -> None:
    cached = Caching(production, contents=contents)
    copy = cached.path("photos/a.jpg")
    contents = cached._self_copies.contents
    matches = contents.matches

    def matches_then_removed(*args: Any) -> bool:
        matched = matches(*args)
        os.unlink(copy)  # another thread stored a newer version meanwhile
        return matched

    contents.matches = matches_then_removed
    assert read(cached, "photos/a.jpg") == PHOTO


def test_with_timeout_zero_every_read_fetches(contents: Any) -> None:
    # Nothing is kept, a copy's version neither: no copy can be trusted.
    from tests.spies import RecordingStorage

    remote = RecordingStorage()
    remote.put("a.txt", b"a")
    cached = Caching(remote, contents=contents, timeout=0)
    for _ in range(2):
        assert read(cached, "a.txt") == b"a"
    assert remote.methods_called().count("open") == 2


def test_writes_through_the_wrapper_replace_the_copy(tmp_path: Path, contents: Any) -> None:
    # A remote-like storage: one without local paths.
    from django.core.files.storage import InMemoryStorage

    remote = InMemoryStorage()
    remote.save("a.txt", ContentFile(b"old"))
    cached = Caching(remote, contents=contents)
    assert read(cached, "a.txt") == b"old"
    cached.delete("a.txt")
    cached.save("a.txt", ContentFile(b"new!"))
    assert read(cached, "a.txt") == b"new!"
    with cached.open("a.txt", "wb") as handle:
        handle.write(b"newest")
    assert read(cached, "a.txt") == b"newest"


def test_large_files_are_streamed_not_kept(
    s3: Any, production: Any, contents: Any, cache_dir: Path
) -> None:
    cached = Caching(production, contents=contents, max_content_size=1000)
    for _ in range(2):
        assert read(cached, "photos/a.jpg") == PHOTO
    # One listing of photos/ gives the size; each read streams the object.
    gets = [r.query for r in s3.server.requests() if r.method == "GET"]
    assert len(gets) == 3 and "list-type=2" in gets[0] and not any(gets[1:])
    assert files_in(cache_dir) == []
    with pytest.raises(NotImplementedError, match="larger than max_content_size=1000"):
        cached.path("photos/a.jpg")


def test_a_failed_copy_leaves_nothing(
    production: Any, contents: Any, cache_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from storage_mixins.services.streaming import Stream
    from storage_mixins.wrappers.caching import copies as caching

    def broken_chunks() -> Any:
        yield b"first chunk"
        raise ConnectionResetError("connection reset by peer")

    monkeypatch.setattr(caching, "open_stream", lambda *args, **kwargs: Stream(broken_chunks()))
    cached = Caching(production, contents=contents)
    with pytest.raises(ConnectionResetError):
        cached.open("photos/a.jpg")
    assert [p for p in cache_dir.rglob("*") if p.is_file()] == []
    monkeypatch.undo()
    assert read(cached, "photos/a.jpg") == PHOTO


def test_missing_files(production: Any, contents: Any, cache_dir: Path) -> None:
    cached = Caching(production, contents=contents)
    with pytest.raises(FileNotFoundError):
        cached.open("photos/nowhere.jpg")
    assert files_in(cache_dir) == []


def test_single_flight(s3: Any, production: Any, contents: Any) -> None:
    cached = Caching(production, contents=contents)
    start = threading.Barrier(16)
    results: list[bytes] = []
    errors: list[BaseException] = []

    def reader() -> None:
        try:
            start.wait()
            results.append(read(cached, "photos/a.jpg"))
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=reader) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert results == [PHOTO] * 16
    assert s3.server.counts()["GET"] == 1


def test_copies_cannot_be_reopened_for_writing(production: Any, contents: Any) -> None:
    cached = Caching(production, contents=contents)
    handle = cached.open("photos/a.jpg")
    handle.close()
    with pytest.raises(ReadOnlyError, match="cached copy"):
        handle.open("wb")
    assert read(cached, "photos/a.jpg") == PHOTO


@pytest.mark.heavy
def test_hydrating_a_large_file_keeps_memory_flat(s3: Any, tmp_path: Path) -> None:
    require_path("/proc/self/status", "Linux's /proc, to read peak memory")
    size = 256 * 1024 * 1024
    chunk = os.urandom(1024 * 1024)
    s3.client.upload_fileobj(_Repeat(chunk, size), s3.bucket("production-media"), "big.bin")
    script = textwrap.dedent(
        f"""
        import django
        from django.conf import settings
        settings.configure(USE_TZ=True)
        django.setup()
        from django.core.files.storage import FileSystemStorage
        from storages.backends.s3 import S3Storage
        from storage_mixins import Caching, Fallback, ReadOnly
        production = S3Storage(bucket_name="production-media",
            endpoint_url={s3.server.endpoint_url!r}, access_key="testing",
            secret_key="testing", region_name="us-east-1")
        stack = Caching(Fallback(FileSystemStorage(location={str(tmp_path / "local")!r}),
                                 ReadOnly(production)),
                        contents=FileSystemStorage(location={str(tmp_path / "cache")!r}))
        def peak_rss_kib():
            # VmHWM, not ru_maxrss: a child inherits its parent's ru_maxrss.
            with open("/proc/self/status") as status:
                return next(int(line.split()[1]) for line in status if line.startswith("VmHWM"))
        stack.exists("big.bin")  # imports and connections, before the baseline
        before = peak_rss_kib()
        path = stack.path("big.bin")
        after = peak_rss_kib()
        import os
        print(os.path.getsize(path), (after - before) // 1024)
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=600, check=False
    )
    assert result.returncode == 0, result.stderr
    copied, growth_mb = map(int, result.stdout.split())
    print(f"\n  hydrated {copied // 2**20} MiB; peak RSS grew by {growth_mb} MiB")
    assert copied == size
    assert growth_mb < 32


class _Repeat:
    """A file-like object of ``size`` bytes made of one repeated chunk."""

    def __init__(self, chunk: bytes, size: int) -> None:
        self.chunk, self.left = chunk, size

    def read(self, amount: int = -1) -> bytes:
        amount = self.left if amount < 0 else min(amount, self.left)
        self.left -= amount
        data = (self.chunk * (amount // len(self.chunk) + 1))[:amount]
        return data


@pytest.mark.parametrize("order", [("a", "a/b"), ("a/b", "a")], ids=["file-first", "dir-first"])
def test_a_file_and_a_directory_of_one_name_do_not_collide(
    s3: Any, contents: Any, cache_dir: Path, order: tuple[str, str]
) -> None:
    # S3 holds both; a filesystem cannot hold "a" as a file and as a directory.
    s3.put("a", b"the file a")
    s3.put("a/b", b"the file a/b")
    cached = Caching(s3.storage(), contents=contents)
    for _ in range(2):  # copied, then served from the copies
        for name in order:
            assert read(cached, name) == {"a": b"the file a", "a/b": b"the file a/b"}[name]
    assert cached.path("a") != cached.path("a/b")
    assert Path(cached.path("a")).read_bytes() == b"the file a"
    assert Path(cached.path("a/b")).read_bytes() == b"the file a/b"
    assert len(files_in(cache_dir)) == 2
    cached.delete("a")
    assert Path(cached.path("a/b")).read_bytes() == b"the file a/b"


BIG = bytes(range(256)) * (32 * 1024)  # 8 MiB


@pytest.fixture
def big_production(s3: Any) -> Any:
    s3.put("videos/big.bin", BIG)
    return s3.storage()


def test_files_over_max_content_size_are_streamed_in_bounded_memory(
    s3: Any, tmp_path: Path
) -> None:
    # In a process of its own: the S3 server in this one holds the object too.
    require_path("/proc/self/status", "Linux's /proc, to read peak memory")
    size = 32 * 1024 * 1024
    s3.client.upload_fileobj(_Repeat(os.urandom(1024 * 1024), size), s3.bucket("production-media"),
                             "videos/big.bin")  # fmt: skip
    s3.put("videos/warm-up.bin", b"w" * (2 * 1024 * 1024))
    script = textwrap.dedent(
        f"""
        import django
        from django.conf import settings
        settings.configure(USE_TZ=True)
        django.setup()
        from django.core.files.storage import FileSystemStorage
        from storages.backends.s3 import S3Storage
        from storage_mixins import Caching
        production = S3Storage(bucket_name="production-media",
            endpoint_url={s3.server.endpoint_url!r}, access_key="testing",
            secret_key="testing", region_name="us-east-1")
        cached = Caching(production, max_content_size=1024 * 1024,
                         contents=FileSystemStorage(location={str(tmp_path / "cache")!r}))
        def peak_rss_kib():
            with open("/proc/self/status") as status:
                return next(int(line.split()[1]) for line in status if line.startswith("VmHWM"))
        with cached.open("videos/warm-up.bin") as handle:  # imports and connections, first
            handle.read(10)
        before = peak_rss_kib()
        with cached.open("videos/big.bin") as handle:
            assert len(handle.read(10)) == 10
            handle.seek(size // 2)
            assert len(handle.read(10)) == 10
        print((peak_rss_kib() - before) // 1024)
        """
    ).replace("size // 2", str(size // 2))
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr
    growth_mb = int(result.stdout)
    print(f"\n  read 20 bytes of 32 MiB streamed; peak RSS grew by {growth_mb} MiB")
    assert growth_mb < 8, f"reading 20 bytes of a 32 MiB object grew the peak by {growth_mb} MiB"


def test_a_streamed_file_costs_one_get_and_one_per_seek(s3: Any, big_production: Any,
                                                        contents: Any) -> None:  # fmt: skip
    cached = Caching(big_production, contents=contents, max_content_size=1024)
    cached.size("videos/big.bin")
    s3.server.clear_requests()
    with cached.open("videos/big.bin") as handle:
        assert handle.read(10) == BIG[:10]
        assert s3.server.counts() == {"GET": 1}
        handle.seek(4096)
        handle.seek(100_000)  # seeks without a read in between ask nothing
        assert handle.read(10) == BIG[100_000:100_010]
    assert s3.server.counts() == {"GET": 2}


def test_a_streamed_file_reads_seeks_and_reopens_like_a_file(
    s3: Any, big_production: Any, contents: Any, cache_dir: Path
) -> None:
    cached = Caching(big_production, contents=contents, max_content_size=1024)
    handle = cached.open("videos/big.bin")
    assert handle.size == len(BIG)
    assert handle.read(5) == BIG[:5]
    handle.seek(len(BIG) - 3)
    assert handle.read() == BIG[-3:]
    handle.seek(1000)
    assert handle.read(3) == BIG[1000:1003]
    assert b"".join(handle.chunks(1024 * 1024)) == BIG
    with pytest.raises(AttributeError, match="not opened in write mode"):  # as S3File
        handle.write(b"x")
    handle.close()
    with handle.open() as again:  # FieldFile.open() on a closed file
        assert again.read(4) == BIG[:4]
    with pytest.raises(ValueError, match="for reading only"):
        handle.open("wb")
    read_only = Caching(ReadOnly(big_production), contents=contents, max_content_size=1024)
    with read_only.open("videos/big.bin") as handle, pytest.raises(ReadOnlyError):
        handle.write(b"x")  # through ReadOnly, as ReadOnly's own open() gives
    assert files_in(cache_dir) == []
    with pytest.raises(FileNotFoundError):
        cached.open("videos/nowhere.bin")
