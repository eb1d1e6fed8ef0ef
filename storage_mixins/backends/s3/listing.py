"""Listing S3: ``ListObjectsV2`` through the backend's own client, keeping each
key's size, modification time and ETag; and what such a listing says of a name."""

from __future__ import annotations

import builtins
import concurrent.futures
import contextvars
import datetime
from collections.abc import Iterable, Iterator
from typing import Any, cast

from django.core.exceptions import SuspiciousOperation

from ..listing import (
    PAGE_SIZE,
    Entry,
    Kind,
    Lister,
    Listing,
    base_of,
    etag_of,
    incomplete,
    own_methods,
    parent_of,
    renamed,
)
from .client import s3_client

__all__ = ["S3Kind", "S3Lister"]


class S3Lister(Lister):
    """``S3Storage``: ``ListObjectsV2``, keeping each key's Size, LastModified and ETag.

    Requests go through :func:`s3_client`, the backend's own client, which is
    thread-safe: a lister may be used from any thread. ``list`` uses ``Delimiter="/"``;
    ``walk`` uses none (one request per 1,000 keys of the whole subtree,
    however many directories it has). ``find`` starts each directory's
    listing just before the smallest name it still looks for
    (``StartAfter``), so a few names in a directory of 100,000 cost a few
    requests, not 100: never more than one per name, nor more than one per
    1,000 entries between the first and the last name; the directories of a
    batch are listed concurrently.
    """

    knows = frozenset({"size", "modified", "etag"})
    #: How many directories :meth:`find` lists at once.
    concurrency = 8

    def list(self, directory: str = "", *, limit: int | None = None) -> Listing:
        prefix = self._prefix(directory)
        listing = Listing(directory.strip("/"))
        # By hand, not by a paginator: each request asks for no more keys than
        # the room left under the cap (MaxKeys), where a paginator sends one
        # PageSize for every page and its MaxItems counts files, not directories.
        token = None
        while True:
            room = PAGE_SIZE if limit is None else min(PAGE_SIZE, limit - len(listing))
            if room <= 0:
                return incomplete(listing)
            page = self._page(prefix, max_keys=room, token=token)
            for common in page.get("CommonPrefixes", ()):
                base = common["Prefix"][len(prefix) :].rstrip("/")
                if base and "/" not in base and base not in (".", ".."):
                    listing.directories.append(base)
            for entry in self._entries(page):
                listing.files[base_of(entry.name)] = entry
            token = page.get("NextContinuationToken")
            if not page.get("IsTruncated") or token is None:
                return listing

    def walk(self, directory: str = "") -> Iterator[Entry]:
        for page in self._pages(self._prefix(directory), delimiter=False):
            yield from self._entries(page)

    def find(self, names: Iterable[str]) -> dict[str, Entry | None]:
        by_prefix: dict[str, dict[str, list[str]]] = {}
        for name in names:
            keys = by_prefix.setdefault(self._prefix(parent_of(name)), {})
            keys.setdefault(self._key(name), []).append(name)  # "a/./b" and "a/b": one key
        found: dict[str, Entry | None] = {}
        if len(by_prefix) <= 1:
            for prefix, names_by_key in by_prefix.items():
                found.update(self._find_in(prefix, names_by_key))
            return found
        # Directories are listed concurrently: a batch of names in 50
        # directories costs about one round trip, not 50. Each in a copy of the
        # caller's context, where a recording counts its requests.
        workers = min(self.concurrency, len(by_prefix))
        with concurrent.futures.ThreadPoolExecutor(workers, "storage_mixins-find") as pool:
            batches = [
                pool.submit(contextvars.copy_context().run, self._find_in, prefix, names_by_key)
                for prefix, names_by_key in by_prefix.items()
            ]
            for batch in batches:
                found.update(batch.result())
        return found

    def _find_in(
        self,
        prefix: str,
        names_by_key: dict[str, builtins.list[str]],  # not self.list
    ) -> dict[str, Entry | None]:
        pending = sorted(names_by_key)  # S3 orders keys by UTF-8 bytes: code points
        found: dict[str, Entry | None] = {}
        index = 0
        pages: Iterator[dict[str, Any]] = iter(())
        last: str | None = None  # the greatest key or prefix the last truncated page reached
        while index < len(pending):
            jump = pending[index][:-1]  # the greatest string before the key, nearly
            # Which page to take is decided here, not by the paginator: a name
            # past what the last page reached starts a new listing just before
            # it (StartAfter), skipping the pages between; a nearer one takes
            # the listing's next page (ContinuationToken). One request each.
            if last is None or jump > last:
                pages = self._pages(prefix, delimiter=True, start_after=jump)
            page = next(pages)
            keys = {entry["Key"]: entry for entry in page.get("Contents", ())}
            truncated = bool(page.get("IsTruncated")) and bool(page.get("NextContinuationToken"))
            if truncated:
                reached = [*keys, *(p["Prefix"] for p in page.get("CommonPrefixes", ()))]
                last = max(reached) if reached else last
            while index < len(pending) and (
                not truncated or (last is not None and pending[index] <= last)
            ):
                key = pending[index]
                raw = keys.get(key)
                for name in names_by_key[key]:
                    found[name] = None if raw is None else renamed(self._entry(raw), name)
                index += 1
        return found

    def probe(self) -> None:
        """One ``ListObjectsV2`` of at most one key under the storage's location:
        it fails as every read would with these credentials and bucket, and
        says why (an error code; a ``HEAD`` has none), s3:ListBucket included."""
        self._page(self._prefix(""), max_keys=1, token=None)

    # -- the backend's names and keys ---------------------------------------

    def _key(self, name: str) -> str:
        from storages.utils import clean_name

        return str(self.backend._normalize_name(clean_name(name)))

    def _prefix(self, directory: str) -> str:
        prefix = self._key(directory)
        return prefix + "/" if prefix and not prefix.endswith("/") else prefix

    def _name(self, key: str) -> str | None:
        """The name that reaches ``key`` through the backend, if one does."""
        root = self._prefix("")
        if not key.startswith(root) or key.endswith("/"):
            return None
        name = key[len(root) :]
        try:
            return name if name and self._key(name) == key else None
        except SuspiciousOperation:  # e.g. "../x": a name the backend refuses reaches nothing
            return None

    def _entries(self, page: dict[str, Any]) -> Iterator[Entry]:
        for raw in page.get("Contents", ()):
            entry = self._entry(raw)
            if entry is not None:
                yield entry

    def _entry(self, raw: dict[str, Any]) -> Entry | None:
        name = self._name(raw["Key"])
        if name is None:
            return None
        return Entry(name, int(raw["Size"]), raw.get("LastModified"), etag_of(raw.get("ETag")))

    def _page(self, prefix: str, *, max_keys: int, token: str | None) -> dict[str, Any]:
        """One request: up to ``max_keys`` direct entries under ``prefix``, from ``token`` on."""
        parameters: dict[str, Any] = {
            "Bucket": self.backend.bucket_name,
            "Prefix": prefix,
            "Delimiter": "/",
            "MaxKeys": max_keys,
        }
        if token is not None:
            parameters["ContinuationToken"] = token
        response: dict[str, Any] = s3_client(self.backend).list_objects_v2(**parameters)
        return response

    def _pages(
        self, prefix: str, *, delimiter: bool, start_after: str | None = None
    ) -> Iterator[dict[str, Any]]:
        """The pages of keys under ``prefix`` (after ``start_after``), 1,000 keys
        a page: a request each, sent as the page is taken."""
        parameters: dict[str, Any] = {"Bucket": self.backend.bucket_name, "Prefix": prefix}
        if delimiter:
            parameters["Delimiter"] = "/"
        if start_after and start_after > prefix:
            parameters["StartAfter"] = start_after
        paginator = s3_client(self.backend).get_paginator("list_objects_v2")
        pages: Iterator[dict[str, Any]] = iter(
            paginator.paginate(**parameters, PaginationConfig={"PageSize": PAGE_SIZE})
        )
        return pages


class S3Kind(Kind):
    """``S3Storage``: keys, with sizes and times. A prefix is no object, so a
    "directory" is missing, as ``S3Storage.exists()`` (a HEAD) says."""

    directories_exist = False
    missing_methods = frozenset({"size", "get_modified_time", "open", "_open"})
    lister: S3Lister

    def own_answers(self, methods: set[str]) -> frozenset[str]:
        from storages.backends.s3 import S3Storage

        return own_methods(self.lister.backend, S3Storage, methods)

    def reaches(self, path: str, directory: str, base: str) -> bool:
        from django.core.exceptions import SuspiciousOperation

        try:  # clean_name reads a backslash as a slash, for one
            return self.lister._key(path) == self.lister._prefix(directory) + base
        except SuspiciousOperation:
            return False

    def modified(self, entry: Entry) -> datetime.datetime | None:
        # A HEAD gives whole seconds (an HTTP date); a listing, milliseconds.
        return None if entry.modified is None else entry.modified.replace(microsecond=0)

    def missing(self, method: str, name: str, not_a_directory: bool) -> BaseException:
        key = self.lister._key(name)
        if method == "get_modified_time":  # boto3's own, from the HEAD it sends
            from botocore.exceptions import ClientError

            response = {"Error": {"Code": "404", "Message": "Not Found"},
                        "ResponseMetadata": {"HTTPStatusCode": 404}}  # fmt: skip
            return ClientError(cast(Any, response), "HeadObject")
        return FileNotFoundError(f"File does not exist: {key}")
