"""Copying many files from read-only layers into a write layer, safely and concurrently.

A :class:`Transfer` is one file to bring into the target (the write layer):
its name, the layer to read it from, and what listings know of it on both
sides. :class:`Transfers` carries out a batch of them on a thread pool and
yields one :class:`Result` each, in the order they finish:

* a file the target has with the same contents is left alone (``present``):
  sizes are compared first, then, at equal sizes, the ETag (from the listing)
  with the local file's MD5, and where that cannot tell (an ETag that is no
  MD5, or none), the bytes themselves, hashed as they stream;
* a file the target has with other contents is a ``conflict``, never
  replaced, unless ``force`` is given;
* a name the target cannot hold as a file (a local directory of that name, a
  local file where one of its directories should be, or another file of the
  batch that is one of its directories: S3 holds ``a`` and ``a/b``, a
  filesystem cannot) is a ``conflict`` too;
* every copy is streamed and atomic (``storage_mixins.services.streaming``).

Threads share no boto3 resource nor session, which are not thread-safe: every
S3 request goes through the backend's client (``listings.s3_client``), which
is. :meth:`cancel`
(Ctrl-C) stops every copy at its next chunk; a stopped copy leaves no file.
"""

from __future__ import annotations

import concurrent.futures
import contextvars
import hashlib
import os
import re
import sys
import threading
from collections import Counter
from collections.abc import Callable, Generator, Iterable
from dataclasses import dataclass
from typing import Literal

from django.core.files.storage import Storage

from ..backends.listers import lister_for
from ..backends.listing import Entry
from ..backends.local import local_path
from ..backends.local_files import FileIdentity, Taken
from ..backends.s3.objects import compressed_md5, decodes_gzip, read_decoded
from .streaming import copy_file, open_stream, serving_backend

__all__ = [
    "CONFLICT",
    "COPIED",
    "FAILED",
    "PRESENT",
    "WOULD_COPY",
    "Cancelled",
    "Result",
    "Transfer",
    "Transfers",
    "blocked_by_each_other",
    "same_contents",
]

COPIED = "copied"
PRESENT = "present"  # already in the target, identical
CONFLICT = "conflict"
FAILED = "failed"
WOULD_COPY = "would copy"  # a dry run's copy

_CHANGED_LOCALLY = "a local file of this name was created or changed during the pull; it is kept"
_PLAIN_MD5 = re.compile(r"[0-9a-f]{32}")
_MULTIPART = re.compile(r"([0-9a-f]{32})-([0-9]+)")
_MIB = 1024 * 1024
# The part sizes S3 clients upload with by default: boto3 and the AWS CLI use
# 8 MiB, django-storages' S3File 5 MiB, rclone 5 MiB, s3cmd 15 MiB.
_COMMON_PART_SIZES = (8 * _MIB, 5 * _MIB, 16 * _MIB, 15 * _MIB)


class Cancelled(Exception):
    """Raised inside a copy that :meth:`Transfers.cancel` stopped."""


@dataclass(frozen=True, slots=True)
class Transfer:
    """One file to bring into the target: ``source`` is the layer to read it
    from, ``entry`` what the source's listing knows of it, ``present`` what
    the target's listing knows (``None``: the target lacks it), ``blocked``
    why the target cannot hold it (see :func:`blocked_by_each_other`)."""

    name: str
    source: Storage
    entry: Entry
    present: Entry | None = None
    blocked: str | None = None


@dataclass(frozen=True, slots=True)
class Result:
    """What became of a transfer: ``outcome`` is one of the module's constants;
    ``size`` the bytes copied (or, if not copied, the source's size, where
    known); ``reason`` says why for a conflict or a failure."""

    transfer: Transfer
    outcome: str
    size: int | None = None
    reason: str | None = None


class Transfers:
    """Carries out transfers into ``target`` on ``jobs`` threads.

    ``force`` replaces target files that differ; ``dry_run`` decides
    everything (reading, never writing) and copies nothing. ``on_bytes`` is
    called, from the worker threads, with the size of every chunk copied, and
    ``on_copied`` with the name of every file copied (before its result is
    yielded, so even a file whose result an interruption swallows is told).
    :attr:`counts` and :attr:`bytes_copied` count every outcome as it happens.
    ``refuse`` says why a write of a name must not happen (a symlink in the
    target that leads into a read-only layer: ``storage_mixins.backends.local_writes``),
    or ``None``; a refused file fails.
    """

    def __init__(
        self,
        target: Storage,
        *,
        jobs: int = 8,
        force: bool = False,
        dry_run: bool = False,
        on_bytes: Callable[[int], None] | None = None,
        on_copied: Callable[[str], None] | None = None,
        refuse: Callable[[str], str | None] | None = None,
    ) -> None:
        if jobs < 1:
            raise ValueError(f"jobs must be at least 1, not {jobs}")
        self.target = target
        self.jobs = jobs
        self.force = force
        self.dry_run = dry_run
        self.on_bytes = on_bytes
        self.on_copied = on_copied
        self.refuse = refuse
        self.counts: Counter[str] = Counter()
        self.bytes_copied = 0
        self._lock = threading.Lock()
        self._cancelled = threading.Event()

    def cancel(self) -> None:
        """Stop: copies under way stop at their next chunk, and no other starts."""
        self._cancelled.set()

    @property
    def cancelled(self) -> bool:
        return self._cancelled.is_set()

    def run(
        self,
        transfers: Iterable[Transfer],
        tick: Callable[[], None] | None = None,
        tick_seconds: float = 0.2,
    ) -> Generator[Result]:
        """Yield each transfer's result as it finishes; call ``tick`` (in the
        caller's thread) at least every ``tick_seconds`` meanwhile.

        At most a few transfers per thread are queued at a time, so a batch
        of millions costs no more memory than one of a hundred. An exception
        in the caller's thread (``KeyboardInterrupt``), or closing the
        generator, cancels the copies under way, waits for them to clean up
        (no partial file is left), and goes on up.
        """
        pending = iter(transfers)
        window = self.jobs * 4
        with concurrent.futures.ThreadPoolExecutor(
            self.jobs, thread_name_prefix="storage_pull"
        ) as pool:
            running: set[concurrent.futures.Future[Result]] = set()
            try:
                while True:
                    while len(running) < window and not self.cancelled:
                        transfer = next(pending, None)
                        if transfer is None:
                            break
                        # In a copy of the caller's context: a recording of
                        # the pull counts the requests its threads make.
                        context = contextvars.copy_context()
                        running.add(pool.submit(context.run, self._carry_out, transfer))
                    if not running:
                        return
                    done, running = concurrent.futures.wait(
                        running,
                        timeout=tick_seconds if tick is not None else None,
                        return_when=concurrent.futures.FIRST_COMPLETED,
                    )
                    if tick is not None:
                        tick()
                    for future in done:
                        yield future.result()
            except BaseException:
                self.cancel()
                for future in running:
                    future.cancel()
                raise

    def _carry_out(self, transfer: Transfer) -> Result:
        if self.cancelled:
            raise Cancelled
        try:
            result = self._decide_and_copy(transfer)
        except Taken:
            # Saved locally since the plan was made (before or during the copy).
            result = Result(transfer, CONFLICT, transfer.entry.size, _CHANGED_LOCALLY)
        except (FileExistsError, NotADirectoryError, IsADirectoryError) as exc:
            # A file and a directory of one name, created since it was checked.
            result = Result(transfer, CONFLICT, transfer.entry.size, _os_reason(exc))
        except _transfer_errors() as exc:  # disk full, the network, a 403…: this file fails
            reason = f"{type(exc).__name__}: {exc}"
            result = Result(transfer, FAILED, transfer.entry.size, reason)
        if result.outcome == COPIED and self.on_copied is not None:
            self.on_copied(transfer.name)
        with self._lock:
            self.counts[result.outcome] += 1
            if result.outcome == COPIED:
                self.bytes_copied += result.size or 0
        return result

    def _decide_and_copy(self, transfer: Transfer) -> Result:
        name, target, size = transfer.name, self.target, transfer.entry.size
        if transfer.blocked is not None:
            return Result(transfer, CONFLICT, size, transfer.blocked)
        blocked = blocked_locally(target, name)
        if blocked is not None:
            return Result(transfer, CONFLICT, size, blocked)
        # What the copy may replace: nothing, unless --force replaces the
        # local file the plan listed, as it was then (see local_files).
        replace: bool | FileIdentity = False
        if transfer.present is not None:
            pinned = _pin(target, transfer.present) if self.force else None
            if same_contents(transfer.source, transfer.entry, target, transfer.present):
                return Result(transfer, PRESENT, size)
            if not self.force:
                reason = "the local copy differs (--force replaces it)"
                return Result(transfer, CONFLICT, size, reason)
            if pinned is None:
                return Result(transfer, CONFLICT, size, _CHANGED_LOCALLY)
            replace = pinned
        refusal = None if self.refuse is None else self.refuse(name)
        if refusal is not None:
            return Result(transfer, FAILED, size, f"refused: {refusal}")
        if self.dry_run:
            return Result(transfer, WOULD_COPY, size)
        copied = copy_file(transfer.source, target, name, self._on_chunk, replace=replace)
        return Result(transfer, COPIED, copied)

    def _on_chunk(self, size: int) -> None:
        if self._cancelled.is_set():
            raise Cancelled
        if self.on_bytes is not None:
            self.on_bytes(size)


def blocked_by_each_other(
    names: Iterable[str], is_local_directory: Callable[[str], bool] = lambda name: False
) -> dict[str, str]:
    """Among the sorted ``names`` of files to create, those under another of
    them (``a/b`` under ``a``), each with the reason: that one wins, as the
    first in name order, unless it is a directory locally (then it cannot be
    created, and what is under it can)."""
    blocked: dict[str, str] = {}
    files: set[str] = set()
    for name in names:
        parts = name.split("/")
        for depth in range(1, len(parts)):
            ancestor = "/".join(parts[:depth])
            if ancestor in files and not is_local_directory(ancestor):
                blocked[name] = (
                    f"the source also has a file {ancestor!r}, which a filesystem cannot "
                    f"hold together with {name!r}; {ancestor!r} is copied"
                )
                break
        else:
            files.add(name)
    return blocked


def blocked_locally(target: Storage, name: str) -> str | None:
    """Why a local ``target`` cannot hold ``name`` as a file now, or ``None``
    (also for a target without local paths: its own writes will say)."""
    try:
        path = target.path(name)
        root = target.path("")
    except (NotImplementedError, AttributeError):
        return None
    if os.path.isdir(path) and not os.path.islink(path):
        return f"{name!r} is a directory locally"
    if os.path.islink(path) and not os.path.exists(path):
        # The stack serves no file from it, but it holds the name: the
        # developer's to remove (or to point somewhere), not the pull's.
        return f"{name!r} is a dangling symlink locally"
    parent = os.path.dirname(path)
    while len(parent) > len(root.rstrip(os.sep)):
        if os.path.lexists(parent) and not os.path.isdir(parent):
            relative = os.path.relpath(parent, root).replace(os.sep, "/")
            return f"{relative!r} is a file locally, so {name!r} cannot be stored under it"
        parent = os.path.dirname(parent)
    return None


def _pin(target: Storage, planned: Entry) -> FileIdentity | Literal[True] | None:
    """What a forced copy may replace of the target's file that the plan
    listed (``planned``): that file, pinned by its identity; ``None`` if it is
    no longer that file (saved since); ``True`` for a target without local
    paths, whose files cannot be pinned."""
    try:
        path = target.path(planned.name)
    except (NotImplementedError, AttributeError):
        return True
    identity = FileIdentity.of(path)  # first: a change after it shows at the rename
    if identity is None or lister_for(target).find([planned.name])[planned.name] != planned:
        return None
    return identity


def same_contents(source: Storage, entry: Entry, target: Storage, present: Entry) -> bool:
    """Whether the target's file has the bytes the source's ``open()`` gives.

    Sizes first (from the listings, or asked); at equal sizes, the source's ETag
    against the local file's MD5 (or multipart ETag); where that cannot tell,
    both files' bytes, streamed and hashed: one read of each, never a write.
    An object the source decodes when it reads it (``S3Storage(gzip=True)``
    and ``Content-Encoding: gzip``, one HEAD to tell) has the size and ETag
    of its compressed bytes: the local file is compressed as the backend
    compresses and its MD5 compared with the ETag, and where that cannot
    tell, the bytes decide.
    """
    name = present.name
    source_size = entry.size if entry.size is not None else source.size(entry.name)
    target_size = present.size if present.size is not None else target.size(name)
    path = local_path(target, name)
    backend = serving_backend(source, entry.name)
    if (
        entry.etag
        and path is not None
        and source_size == target_size
        and _matches_etag(path, entry.etag, source_size)
    ):
        # The local file has the stored bytes: the ones read, unless the
        # backend decodes them (then they start as gzip does).
        return not (decodes_gzip(backend) and _is_gzip(path) and read_decoded(backend, entry.name))
    if read_decoded(backend, entry.name):
        if entry.etag and path is not None and compressed_md5(backend, path) == entry.etag:
            return True
    elif source_size != target_size:
        return False
    # No ETag, one that is not an MD5 of the bytes (SSE-KMS, another part
    # size), or a genuine difference: only the bytes can tell.
    source_hash = hashlib.sha256()
    stream = open_stream(source, entry.name, backend)
    try:
        for chunk in stream.chunks:
            source_hash.update(chunk)
    finally:
        close = getattr(stream.chunks, "close", None)
        if close is not None:
            close()
    return source_hash.digest() == _file_hash(target, name, path)


def _is_gzip(path: str) -> bool:
    with open(path, "rb") as handle:
        return handle.read(2) == b"\x1f\x8b"


def _matches_etag(path: str, etag: str, size: int) -> bool:
    if _PLAIN_MD5.fullmatch(etag):
        return _md5_of(path) == etag
    multipart = _MULTIPART.fullmatch(etag)
    if multipart is None:
        return False
    parts = int(multipart.group(2))
    # The part size is not recorded: try the common ones, and the smallest
    # whole number of MiB that gives this many parts.
    candidates = [*_COMMON_PART_SIZES, -(-size // max(parts, 1) // _MIB) * _MIB]
    return any(
        _multipart_etag(path, part_size) == etag
        for part_size in dict.fromkeys(candidates)
        if part_size > 0 and -(-size // part_size) == parts
    )


def _md5_of(path: str) -> str:
    with open(path, "rb") as handle:
        return hashlib.file_digest(handle, lambda: hashlib.md5(usedforsecurity=False)).hexdigest()


def _multipart_etag(path: str, part_size: int) -> str:
    digests = []
    with open(path, "rb") as handle:
        while True:
            part = hashlib.md5(usedforsecurity=False)
            left = part_size
            while left and (chunk := handle.read(min(_MIB, left))):
                part.update(chunk)
                left -= len(chunk)
            if left == part_size:
                break
            digests.append(part.digest())
    return f"{hashlib.md5(b''.join(digests), usedforsecurity=False).hexdigest()}-{len(digests)}"


def _file_hash(target: Storage, name: str, path: str | None) -> bytes:
    if path is not None:
        with open(path, "rb") as handle:
            return hashlib.file_digest(handle, "sha256").digest()
    digest = hashlib.sha256()
    with target.open(name, "rb") as handle:
        for chunk in handle.chunks():
            digest.update(chunk)
    return digest.digest()


def _transfer_errors() -> tuple[type[BaseException], ...]:
    """What makes one file's transfer fail without stopping the others: OS
    errors (``FileNotFoundError`` for a file gone since it was listed, an
    HTTP server's error status) and, where boto3 or urllib3 (``HTTPStorage``)
    is in use, their errors (after their own retries)."""
    errors: list[type[BaseException]] = [OSError]
    botocore = sys.modules.get("botocore.exceptions")
    if botocore is not None:
        errors += [botocore.ClientError, botocore.BotoCoreError]
    urllib3 = sys.modules.get("urllib3.exceptions")
    if urllib3 is not None:
        errors.append(urllib3.HTTPError)
    return tuple(errors)


def _os_reason(exc: OSError) -> str:
    return f"a file and a directory of one name ({type(exc).__name__}: {exc})"
