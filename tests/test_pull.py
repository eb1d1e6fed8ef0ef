"""storage_pull: concurrency, resuming by ETag, interruption by a signal, progress."""

from __future__ import annotations

import dataclasses
import os
import signal
import subprocess
import sys
import threading
import time
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import InMemoryStorage, storages
from django.core.management import call_command
from django.core.management.base import CommandError

from storage_mixins.services import streaming
from tests.conftest import local_over_production

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def stack(s3: Any, settings: Any, use_storages: Any, tmp_path: Path) -> Any:
    use_storages({**settings.STORAGES, **local_over_production(s3, tmp_path / "local")})
    return storages["default"]


def local_files(tmp_path: Path) -> dict[str, bytes]:
    root = tmp_path / "local"
    return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def test_transfers_run_concurrently(
    stack: Any, s3: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for index in range(4):
        s3.put(f"photos/{index}.jpg", b"x" * index)
    s3.server.clear_requests()
    barrier = threading.Barrier(4, timeout=10)  # broken unless 4 copies run at once
    threads = set()
    original = streaming.write_atomically

    def together(path: str, chunks: Any, modified: Any = None, **options: Any) -> None:
        threads.add(threading.current_thread().name)
        barrier.wait()
        original(path, chunks, modified, **options)

    monkeypatch.setattr(streaming, "write_atomically", together)
    out = StringIO()
    call_command("storage_pull", "photos", "--jobs", "4", stdout=out)
    assert len(threads) == 4
    assert "Copied 4 file(s), 6 bytes" in out.getvalue()
    # Sizes came from one listing: one LIST and one GET a file, no HEAD.
    assert s3.server.counts() == {"GET": 5}
    assert s3.server.mutations("production-media") == []


def test_a_multipart_upload_resumes_by_its_etag_without_a_get(
    stack: Any, s3: Any, tmp_path: Path
) -> None:
    from boto3.s3.transfer import TransferConfig

    body = os.urandom(11 * 1024 * 1024)
    import io

    s3.client.upload_fileobj(
        io.BytesIO(body),
        "production-media",
        "big/multipart.bin",
        Config=TransferConfig(multipart_threshold=5 * 2**20, multipart_chunksize=5 * 2**20),
    )
    s3.put("big/plain.bin", b"plain")
    etag = s3.client.head_object(Bucket="production-media", Key="big/multipart.bin")["ETag"]
    assert etag.endswith('-3"')
    call_command("storage_pull", "big", stdout=StringIO())
    assert local_files(tmp_path)["big/multipart.bin"] == body
    s3.server.clear_requests()
    out = StringIO()
    call_command("storage_pull", "big", stdout=out)
    assert "Copied 0 file(s), 0 bytes; 2 already present" in out.getvalue()
    assert s3.server.counts() == {"GET": 1}  # the listing: ETags matched the local MD5s


def test_an_etag_that_is_no_md5_is_settled_by_the_bytes(
    stack: Any, s3: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # SSE-KMS objects have ETags that are not the MD5 of their bytes.
    from storage_mixins.backends.s3.listing import S3Lister

    s3.put("photos/a.jpg", b"same bytes")
    call_command("storage_pull", "photos", stdout=StringIO())
    original = S3Lister._entry

    def kms(self: Any, raw: dict[str, Any]) -> Any:
        return original(self, {**raw, "ETag": '"' + "0" * 32 + '"'})

    monkeypatch.setattr(S3Lister, "_entry", kms)
    s3.server.clear_requests()
    out = StringIO()
    call_command("storage_pull", "photos", stdout=out)
    assert "1 already present" in out.getvalue()
    assert s3.server.counts() == {"GET": 2}  # the listing, and the bytes to compare
    (tmp_path / "local" / "photos" / "a.jpg").write_bytes(b"same bytez")  # same size
    with pytest.raises(CommandError, match="1 file\\(s\\) not copied"):
        call_command("storage_pull", "photos", stdout=StringIO(), stderr=StringIO())
    assert (tmp_path / "local" / "photos" / "a.jpg").read_bytes() == b"same bytez"


def test_a_source_without_sizes_or_etags(
    tmp_path: Path, mem: InMemoryStorage, monkeypatch: pytest.MonkeyPatch
) -> None:
    from django.core.files.storage import FileSystemStorage

    from storage_mixins import Fallback, ReadOnly

    # Listed with listdir() (names only): sizes asked, contents compared by hash.
    mem.save("notes/a.txt", ContentFile(b"aaa"))
    mem.save("notes/b.txt", ContentFile(b"bbb"))
    mem.save("notes/c.txt", ContentFile(b"ccc"))
    (tmp_path / "local" / "notes").mkdir(parents=True)
    (tmp_path / "local" / "notes" / "a.txt").write_bytes(b"aaa")
    (tmp_path / "local" / "notes" / "c.txt").write_bytes(b"cCc")
    stack = Fallback(FileSystemStorage(location=tmp_path / "local"), ReadOnly(mem))
    monkeypatch.setitem(storages._storages, "stack", stack)
    out, err = StringIO(), StringIO()
    with pytest.raises(CommandError, match="1 file\\(s\\) not copied"):
        call_command("storage_pull", "notes", "--storage", "stack", stdout=out, stderr=err)
    assert "Copied 1 file(s), 3 bytes; 1 already present; 1 conflict(s)" in out.getvalue()
    assert "notes/c.txt: conflict, not copied: the local copy differs" in err.getvalue()
    assert local_files(tmp_path) == {
        "notes/a.txt": b"aaa",
        "notes/b.txt": b"bbb",
        "notes/c.txt": b"cCc",
    }


def test_verbosity_2_lists_each_file_and_plain_progress_lines(
    stack: Any, s3: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from storage_mixins.management.commands import _progress

    for index in range(3):
        s3.put(f"p/{index}.txt", b"abc")
    monkeypatch.setattr(_progress, "PLAIN_INTERVAL", 0.0)
    out = StringIO()
    call_command("storage_pull", "p", "--verbosity", "2", "--jobs", "1", stdout=out)
    lines = out.getvalue().splitlines()
    assert "p/0.txt (3 bytes): copied from ReadOnly(S3Storage('production-media'))" in lines
    assert any(line.startswith("3/3 files, 9 bytes of 9 bytes, ") for line in lines)
    quiet = StringIO()
    call_command("storage_pull", "p", "--verbosity", "0", stdout=quiet)
    assert "files," not in quiet.getvalue()


class _Terminal(StringIO):
    def isatty(self) -> bool:
        return True


def test_a_progress_bar_on_a_terminal(stack: Any, s3: Any) -> None:
    pytest.importorskip("tqdm")
    for index in range(3):
        s3.put(f"p/{index}.txt", b"abc")
    out, err = StringIO(), _Terminal()
    call_command("storage_pull", "p", stdout=out, stderr=err)
    assert "storage_pull" in err.getvalue() and "3/3 files" in err.getvalue()
    assert "Copied 3 file(s)" in out.getvalue()


# -- interrupted by a signal, in a subprocess -----------------------------------------

_SETTINGS = """
from tests.settings import *  # noqa: F403

import os

STORAGES = {{
    **STORAGES,
    "default": {{
        "BACKEND": "storage_mixins.FallbackStorage",
        "OPTIONS": {{"backends": ["local", "production"]}},
    }},
    "local": {{
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {{"location": {local!r}}},
    }},
    "production": {{
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {{
            "bucket_name": "production-media",
            "endpoint_url": os.environ["PULL_ENDPOINT"],
            "access_key": "testing",
            "secret_key": "testing",
            "region_name": "us-east-1",
            "addressing_style": "path",
        }},
    }},
}}
"""


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_a_pull_interrupted_by_a_signal_resumes_without_partial_files(
    s3: Any, tmp_path: Path, signum: int
) -> None:
    from tests.faultproxy import FaultProxy

    files = {f"photos/{index:02d}.jpg": os.urandom(200_000) for index in range(16)}
    for key, body in files.items():
        s3.put(key, body)
    local = tmp_path / "local"
    (tmp_path / "pull_settings.py").write_text(_SETTINGS.format(local=str(local)))
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(tmp_path), str(ROOT)]),
        "DJANGO_SETTINGS_MODULE": "pull_settings",
    }
    command = [sys.executable, "-m", "django", "storage_pull", "photos", "--jobs", "2"]
    with FaultProxy(s3.server.endpoint_url, delay_seconds=0.25) as proxy:
        proxy.set_mode("delay")
        process = subprocess.Popen(
            command,
            env={**env, "PULL_ENDPOINT": proxy.endpoint_url},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        deadline = time.monotonic() + 60
        while not any(p.name.endswith(".jpg") for p in local.rglob("*")):
            assert process.poll() is None, process.communicate()
            assert time.monotonic() < deadline, "no file was copied in time"
            time.sleep(0.02)
        process.send_signal(signum)
        stdout, stderr = process.communicate(timeout=60)
    assert process.returncode == 130, (stdout, stderr)
    assert "Interrupted: " in stderr and "Run the same command again to resume." in stderr
    assert "Traceback" not in stderr
    copied = local_files(tmp_path)
    assert 0 < len(copied) < len(files)
    assert all(files[name] == data for name, data in copied.items())  # no partial file
    assert not any(".partial-" in p.name for p in local.rglob("*"))

    again = subprocess.run(
        command,
        env={**env, "PULL_ENDPOINT": s3.server.endpoint_url},
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    assert f"Copied {len(files) - len(copied)} file(s)" in again.stdout
    assert f"{len(copied)} already present" in again.stdout
    assert local_files(tmp_path) == files
    assert s3.server.mutations("production-media") == []


def test_a_symlink_in_the_write_layer_never_carries_a_pull_into_a_read_only_layer(
    stack: Any, s3: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Issue 12's symlink case, through storage_pull: dev media "shared/" links
    # to a read-only local layer's directory.
    from django.core.files.storage import FileSystemStorage

    from storage_mixins import Fallback, ReadOnly

    shared = tmp_path / "production-local"
    (shared / "shared").mkdir(parents=True)
    (tmp_path / "local").mkdir()
    os.symlink(shared / "shared", tmp_path / "local" / "shared")
    s3.put("shared/x.jpg", b"from s3")
    stack = Fallback(
        FileSystemStorage(location=tmp_path / "local"),
        ReadOnly(FileSystemStorage(location=shared)),
        ReadOnly(s3.storage()),
    )
    monkeypatch.setitem(storages._storages, "symlinked", stack)
    err = StringIO()
    with pytest.raises(CommandError, match="1 file\\(s\\) not copied"):
        call_command(
            "storage_pull", "shared", "--storage", "symlinked", stdout=StringIO(), stderr=err
        )
    assert "shared/x.jpg (7 bytes): failed: refused: " in err.getvalue()
    assert list((shared / "shared").iterdir()) == []


# -- a file saved locally while the pull runs -----------------------------------------


def _saving_during_the_copy(monkeypatch: pytest.MonkeyPatch, name: str, save: Any) -> list[bool]:
    """Make ``save()`` run while the bytes of ``name`` are being fetched (after
    the first chunk came, before it is written); returns a flag list that
    records the save."""
    original = streaming.open_stream
    saved: list[bool] = []

    def opened(source: Any, opened_name: str, *args: Any, **kwargs: Any) -> Any:
        stream = original(source, opened_name, *args, **kwargs)
        if opened_name != name:
            return stream

        def chunks() -> Any:
            remaining = iter(stream.chunks)
            first = next(remaining, b"")
            save()
            saved.append(True)
            yield first
            yield from remaining

        return dataclasses.replace(stream, chunks=chunks())

    monkeypatch.setattr(streaming, "open_stream", opened)
    return saved


def test_a_file_saved_locally_during_the_pull_is_kept_and_reported(
    stack: Any, s3: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Issue 21: the pull planned "photos/a.jpg" as missing locally; the developer
    # saved it while its bytes were on their way; the copy replaced it, and
    # the run said "0 conflict(s)".
    s3.put("photos/a.jpg", b"production a")
    s3.put("photos/b.jpg", b"production b")

    def save() -> None:
        with stack.open("photos/a.jpg", "wb") as handle:  # through the stack, as an app would
            handle.write(b"saved during the pull")

    saved = _saving_during_the_copy(monkeypatch, "photos/a.jpg", save)
    out, err = StringIO(), StringIO()
    with pytest.raises(CommandError, match="1 file\\(s\\) not copied") as caught:
        call_command("storage_pull", "photos", "--jobs", "1", stdout=out, stderr=err)
    assert saved == [True]
    assert caught.value.returncode == 1
    assert "Copied 1 file(s), 12 bytes; 0 already present; 1 conflict(s)" in out.getvalue()
    assert (
        "photos/a.jpg (12 bytes): conflict, not copied: a local file of this name was "
        "created or changed during the pull; it is kept"
    ) in err.getvalue()
    assert local_files(tmp_path) == {
        "photos/a.jpg": b"saved during the pull",
        "photos/b.jpg": b"production b",
    }
    assert not any(".partial-" in p.name for p in (tmp_path / "local").rglob("*"))
    assert s3.server.mutations("production-media") == []


def test_force_never_replaces_a_file_changed_during_the_pull(
    stack: Any, s3: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # --force replaces the local file the pull planned to replace; not one
    # the developer saved since (same size, so only the identity tells).
    s3.put("photos/a.jpg", b"production a")
    edited = tmp_path / "local" / "photos" / "a.jpg"
    edited.parent.mkdir(parents=True)
    edited.write_bytes(b"local edit 1")

    def save() -> None:
        with stack.open("photos/a.jpg", "wb") as handle:
            handle.write(b"local edit 2")

    _saving_during_the_copy(monkeypatch, "photos/a.jpg", save)
    out, err = StringIO(), StringIO()
    with pytest.raises(CommandError, match="1 file\\(s\\) not copied"):
        call_command("storage_pull", "photos", "--force", stdout=out, stderr=err)
    assert "0 already present; 1 conflict(s)" in out.getvalue()
    assert "was created or changed during the pull; it is kept" in err.getvalue()
    assert edited.read_bytes() == b"local edit 2"
    monkeypatch.undo()
    call_command("storage_pull", "photos", "--force", stdout=StringIO())  # nothing saved now
    assert edited.read_bytes() == b"production a"


def test_force_never_replaces_a_file_changed_since_the_pull_was_planned(
    stack: Any, s3: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A long pull decides each file long after it listed them: what --force
    # may replace is the file the listing saw, not one saved since.
    from storage_mixins.services import transfers

    s3.put("photos/a.jpg", b"production a")
    edited = tmp_path / "local" / "photos" / "a.jpg"
    edited.parent.mkdir(parents=True)
    edited.write_bytes(b"local edit 1")
    original = transfers.Transfers.run

    def run(self: Any, planned: Any, *args: Any, **kwargs: Any) -> Any:
        edited.write_bytes(b"local edit, later")
        return original(self, planned, *args, **kwargs)

    monkeypatch.setattr(transfers.Transfers, "run", run)
    err = StringIO()
    with pytest.raises(CommandError, match="1 file\\(s\\) not copied"):
        call_command("storage_pull", "photos", "--force", stdout=StringIO(), stderr=err)
    assert "was created or changed during the pull; it is kept" in err.getvalue()
    assert edited.read_bytes() == b"local edit, later"


def test_force_never_writes_through_a_file_link_into_a_read_only_layer(
    s3: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The symlink guard still has the last word on a file --force would replace.
    from django.core.files.storage import FileSystemStorage

    from storage_mixins import Fallback, ReadOnly

    shared = tmp_path / "production-local"
    shared.mkdir()
    (shared / "x.jpg").write_bytes(b"production-local x")
    (tmp_path / "local").mkdir()
    os.symlink(shared / "x.jpg", tmp_path / "local" / "x.jpg")
    s3.put("x.jpg", b"from s3")
    stack = Fallback(
        FileSystemStorage(location=tmp_path / "local"),
        ReadOnly(s3.storage()),
        ReadOnly(FileSystemStorage(location=shared)),
    )
    monkeypatch.setitem(storages._storages, "linked", stack)
    err = StringIO()
    with pytest.raises(CommandError, match="1 file\\(s\\) not copied"):
        call_command(
            "storage_pull", "x.jpg", "--storage", "linked", "--force", stdout=StringIO(), stderr=err
        )
    assert "x.jpg (7 bytes): failed: refused: " in err.getvalue()
    assert (shared / "x.jpg").read_bytes() == b"production-local x"
    assert (tmp_path / "local" / "x.jpg").is_symlink()


def test_a_recorded_pull_counts_the_requests_of_its_worker_threads(stack: Any, s3: Any) -> None:
    """The copies run in a pool's threads, each in a copy of the caller's context."""
    from storage_mixins.observability.recording import record

    for index in range(3):
        s3.put(f"photos/{index}.jpg", b"x" * index)
    s3.server.clear_requests()
    with record() as recording:
        call_command("storage_pull", "photos", "--jobs", "3", stdout=StringIO())
    assert recording.requests["S3"] == len(s3.server.requests()) == 4  # 1 LIST, 3 GET
