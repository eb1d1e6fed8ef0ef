"""storage_mixins.local_files: publishing a file without replacing one it was not meant to."""

from __future__ import annotations

import errno
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from storage_mixins.backends.local_files import (
    FileIdentity,
    Modes,
    Taken,
    make_directories,
    write_atomically,
)


def entries(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir())


@pytest.mark.parametrize("kind", ["file", "dangling link", "link to a file", "directory"])
def test_never_replacing_leaves_what_has_the_name(tmp_path: Path, kind: str) -> None:
    path = tmp_path / "a.txt"
    if kind == "file":
        path.write_bytes(b"saved meanwhile")
    elif kind == "dangling link":
        path.symlink_to(tmp_path / "nowhere")
    elif kind == "link to a file":
        (tmp_path / "target").write_bytes(b"target")
        path.symlink_to(tmp_path / "target")
    else:
        path.mkdir()
    before = entries(tmp_path)
    with pytest.raises(Taken) as caught:
        write_atomically(str(path), iter([b"copied"]), replace=False)
    assert isinstance(caught.value, FileExistsError) and caught.value.errno == errno.EEXIST
    assert entries(tmp_path) == before  # nothing replaced, no partial file left
    if kind == "file":
        assert path.read_bytes() == b"saved meanwhile"
    if kind == "link to a file":
        assert (tmp_path / "target").read_bytes() == b"target"


def test_never_replacing_publishes_a_free_name(tmp_path: Path) -> None:
    path = tmp_path / "new" / "a.txt"
    write_atomically(str(path), iter([b"co", b"pied"]), 1_000_000_000.0, replace=False)
    assert path.read_bytes() == b"copied"
    assert os.stat(path).st_nlink == 1  # the temporary name is gone
    assert os.stat(path).st_mtime == 1_000_000_000.0
    assert entries(path.parent) == ["a.txt"]


def test_replacing_a_pinned_file_only(tmp_path: Path) -> None:
    path = tmp_path / "a.txt"
    path.write_bytes(b"planned")
    pinned = FileIdentity.of(str(path))
    assert pinned is not None
    path.write_bytes(b"saved!!")  # same size: the times, or the inode, tell
    os.utime(path, ns=(pinned.modified, pinned.modified))  # even with the old mtime
    with pytest.raises(Taken):
        write_atomically(str(path), iter([b"copied"]), replace=pinned)
    assert path.read_bytes() == b"saved!!"
    assert entries(tmp_path) == ["a.txt"]
    write_atomically(str(path), iter([b"copied"]), replace=FileIdentity.of(str(path)))
    assert path.read_bytes() == b"copied"
    path.unlink()  # gone since it was pinned: not replaced either
    with pytest.raises(Taken):
        write_atomically(str(path), iter([b"copied"]), replace=pinned)
    assert entries(tmp_path) == []


def test_without_hard_links(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # FAT, some network and container mounts refuse link(): the name is
    # checked, then the file renamed (a window the docs state).
    def refused(*args: object, **kwargs: object) -> None:
        raise PermissionError(errno.EPERM, "Operation not permitted")

    monkeypatch.setattr(os, "link", refused)
    path = tmp_path / "a.txt"
    write_atomically(str(path), iter([b"copied"]), replace=False)
    assert path.read_bytes() == b"copied"
    with pytest.raises(Taken):
        write_atomically(str(path), iter([b"again"]), replace=False)
    assert path.read_bytes() == b"copied"
    assert entries(tmp_path) == ["a.txt"]


def test_a_failed_write_leaves_no_partial_file(tmp_path: Path) -> None:
    def failing() -> Iterator[bytes]:
        yield b"half"
        raise OSError(errno.ENOSPC, "No space left on device")

    with pytest.raises(OSError, match="No space left"):
        write_atomically(str(tmp_path / "a.txt"), failing(), replace=False)
    assert entries(tmp_path) == []


def test_directories_get_the_mode_and_leave_the_umask_alone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The umask is the process's: changing it, even briefly, changes the
    # files other threads create meanwhile.
    def no_umask(mask: int) -> int:
        raise AssertionError("the umask was changed")

    (tmp_path / "exists").mkdir(mode=0o700)
    monkeypatch.setattr(os, "umask", no_umask)
    make_directories(str(tmp_path / "exists" / "b" / "c"), 0o751)
    assert oct(os.stat(tmp_path / "exists").st_mode & 0o777) == oct(0o700)  # left as it was
    for new in ("exists/b", "exists/b/c"):
        assert oct(os.stat(tmp_path / new).st_mode & 0o777) == oct(0o751)
    (tmp_path / "file").write_bytes(b"")
    with pytest.raises(FileExistsError):
        make_directories(str(tmp_path / "file" / "d"), 0o751)


def test_a_partial_file_is_never_more_open_than_the_file_will_be(tmp_path: Path) -> None:
    seen: list[int] = []

    def chunks() -> Iterator[bytes]:
        [partial] = [p for p in tmp_path.iterdir() if p.name.startswith(".partial-")]
        seen.append(os.stat(partial).st_mode & 0o777)
        yield b"secret"

    previous = os.umask(0)
    try:
        write_atomically(str(tmp_path / "a.txt"), chunks(), modes=Modes(file=0o600))
    finally:
        os.umask(previous)
    assert seen == [0o600]
    assert os.stat(tmp_path / "a.txt").st_mode & 0o777 == 0o600
