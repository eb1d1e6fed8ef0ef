"""Answers from listings: production first at local-first cost.

The workloads of issue 14, on the shared seed (200 objects of 20 KB under
``photos/`` in S3, 20 local files under ``uploads/``), for both layer orders
and ``FallbackStorage`` from settings, with and without ``Caching``, cold (a
new, empty cache every run) and warm, side by side with the floor (the raw
backends, asked only what each answer needs):

- page: ``url()``, ``exists()`` and ``size()`` of the 220 names;
- metadata: ``size()`` and ``get_modified_time()`` of 50 S3 files;
- existence: ``exists()`` of the 220 names and 50 missing ones;
- rendition: what a new Wagtail rendition asks of its original: ``exists``,
  ``size``, ``path`` (``is_stored_locally()``), then ``open().read()``.

Then 20,000 objects in 100 directories, cold, and the memory their cached
listings take: in the cache (what Redis or Memcached would hold) and decoded
in the process.

``python -m benchmarks.listings`` runs it alone.
"""

from __future__ import annotations

import contextlib
import hashlib
import pickle
import time
import tracemalloc
import uuid
from pathlib import Path
from typing import Any

from benchmarks.compare import RUNS, Column, measure_in_process, requests_by_kind, seeded_local_dir
from benchmarks.harness import BUCKET
from benchmarks.workloads import LOCAL_FILES, S3_FILES, Floor, existence, metadata

SCALE_DIRECTORIES = 100
SCALE_FILES = 200  # per directory: 20,000 in all
LOCAL_FIRST = "Fallback(fs, ReadOnly(s3))"
# Production first, with listings: every placement, and from settings.
LISTED = (
    "Caching(Fallback(ReadOnly(s3), fs))",
    "Fallback(Caching(ReadOnly(s3)), fs)",
    "FallbackStorage production first (settings)",
)


def page(storage: Any, run: int) -> None:
    for name in S3_FILES + LOCAL_FILES:
        storage.url(name)
        storage.exists(name)
        storage.size(name)


def rendition(storage: Any, run: int) -> None:
    name = S3_FILES[7]
    storage.exists(name)
    storage.size(name)
    with contextlib.suppress(NotImplementedError):
        storage.path(name)  # Wagtail's is_stored_locally()
    with storage.open(name, "rb") as handle:
        handle.read()


WORKLOADS = {"page": page, "metadata": metadata, "existence": existence, "rendition": rendition}
DESCRIPTIONS = {
    "page": "url(), exists() and size() of 200 S3 files in one directory and 20 local files",
    "metadata": "size() and get_modified_time() of 50 S3 files",
    "existence": "exists() of the 220 names and 50 missing names",
    "rendition": "exists, size, path probe, open and read of one production file",
}


def settings_storages() -> dict[str, Any]:
    """The ``STORAGES`` entries this benchmark adds: the design's stack from settings."""
    return {
        "media-production-first": {
            "BACKEND": "storage_mixins.FallbackStorage",
            "OPTIONS": {"backends": ["production-cached", "local"], "writable": "local"},
        },
        "production-cached": {
            "BACKEND": "storage_mixins.Caching",
            "OPTIONS": {"storage": "production"},
        },
    }


def columns(s3: Any, root: Path) -> list[Column]:
    from django.core.cache import caches
    from django.core.files.storage import FileSystemStorage

    from benchmarks.compare import _fresh_alias
    from storage_mixins import Caching, Fallback, ReadOnly

    production = s3.storage()
    local = FileSystemStorage(location=seeded_local_dir(root), base_url="/media/")

    def cached(storage: Any, **options: Any) -> Any:
        return Caching(storage, key_prefix=uuid.uuid4().hex, **options)

    def from_settings() -> Any:
        caches["default"].clear()  # a cold cache: the alias's namespace is fixed
        return _fresh_alias("media-production-first")

    result = [
        Column("floor: raw S3Storage + FileSystemStorage", lambda: Floor(local, production)),
        Column(LOCAL_FIRST, lambda: Fallback(local, ReadOnly(production))),
        Column("Fallback(ReadOnly(s3), fs)", lambda: Fallback(ReadOnly(production), local)),
    ]
    makers = {
        LISTED[0]: lambda: cached(Fallback(ReadOnly(production), local)),
        LISTED[1]: lambda: Fallback(cached(ReadOnly(production)), local),
        LISTED[2]: from_settings,
        "Caching(Fallback(fs, ReadOnly(s3)))": lambda: cached(
            Fallback(local, ReadOnly(production))
        ),
    }
    for label, make in makers.items():
        result.append(Column(f"{label} cold", make, fresh_each_run=True))
        result.append(Column(f"{label} warm", make))
    result.append(
        Column(
            "Caching(Fallback(ReadOnly(s3), fs), listings=False) cold",
            lambda: cached(Fallback(ReadOnly(production), local), listings=False),
            fresh_each_run=True,
        )
    )
    return result


def measure(s3: Any, root: Path) -> dict[str, Any]:
    measured = columns(s3, root)
    for column in measured:
        measure_in_process(column, s3, WORKLOADS)
    return {"columns": measured, "scale": _scale(s3, root)}


def _scale(s3: Any, root: Path) -> dict[str, Any]:
    """exists() of 20,000 objects in 100 directories, cold, production first;
    the requests, the time, and the memory of the listings."""
    from django.core.cache import caches
    from django.core.files.storage import FileSystemStorage
    from moto.s3.models import s3_backends

    from storage_mixins import Caching, Fallback, ReadOnly
    from tests.seeding import DEFAULT_ACCOUNT

    # Names as uploads get them: a word, a number, a random-looking suffix.
    names = [
        f"scale/{directory:03d}/photo-{index:04d}-{_suffix(directory, index)}.jpg"
        for directory in range(SCALE_DIRECTORIES)
        for index in range(SCALE_FILES)
    ]
    backend = s3_backends[DEFAULT_ACCOUNT]["global"]  # moto runs in this process
    for name in names:
        backend.put_object(BUCKET, name, b"\xff" * 64)
    local = FileSystemStorage(location=root / "scale-local")
    results: dict[str, Any] = {"files": len(names), "directories": SCALE_DIRECTORIES}
    prefixes = {}
    for label, make in {
        "Fallback(Caching(ReadOnly(s3)), fs)": lambda prefix: Fallback(
            Caching(ReadOnly(s3.storage()), key_prefix=prefix), local
        ),
        "Caching(Fallback(ReadOnly(s3), fs))": lambda prefix: Caching(
            Fallback(ReadOnly(s3.storage()), local), key_prefix=prefix
        ),
    }.items():
        prefix = prefixes[label] = uuid.uuid4().hex
        stack = make(prefix)
        s3.server.clear_requests()
        start = time.perf_counter()
        assert all(stack.exists(name) for name in names)
        results[label] = {
            "seconds": time.perf_counter() - start,
            "requests": dict(requests_by_kind(s3)),
        }
    prefix = prefixes["Fallback(Caching(ReadOnly(s3)), fs)"]
    results["memory"] = _memory(caches["default"], prefix)
    return results


def _suffix(directory: int, index: int) -> str:
    return hashlib.blake2b(f"{directory}/{index}".encode(), digest_size=4).hexdigest()


def _memory(cache: Any, prefix: str) -> dict[str, int]:
    """Bytes the cache holds for the listings and for the per-file facts under
    ``prefix``, as pickled values (what a shared cache stores), and what the
    listings take decoded in this process."""
    from storage_mixins.services.listing_codec import decode

    listing_bytes = fact_bytes = 0
    values = []
    for key, value in list(cache._cache.items()):  # LocMemCache: key -> pickled value
        if f":sm:{prefix}:L" in key:
            listing_bytes += len(value)
            values.append(pickle.loads(value))
        elif f":sm:{prefix}:" in key:
            fact_bytes += len(value)
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    decoded = [decode(entry[0]) for entry in values if isinstance(entry, tuple)]
    after = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    entries = sum(len(listing) for listing in decoded if listing is not None)
    return {
        "listings": len(values),
        "entries": entries,
        "cache bytes": listing_bytes,
        "per-file facts bytes": fact_bytes,
        "decoded bytes": after - before,
    }


def report(results: dict[str, Any], target: Any, table_class: Any) -> dict[str, Any]:
    """Print a table per workload, and the scale and memory; targets through
    ``target(what, passed)``."""
    measured: list[Column] = results["columns"]
    floor = measured[0]
    local_first = next(column for column in measured if column.label == LOCAL_FIRST)
    print(
        "Answers from listings (issue 14): S3 requests per run and wall time, median of "
        f"{RUNS} runs after a warm-up; cold: an empty cache every run\n"
    )
    for workload in WORKLOADS:
        table = table_class(["stack", "S3 requests", "time", "× floor", "× local first", "target"])
        for column in measured:
            cell = column.cells[workload]
            if cell.error:
                table.add(column.label, f"error: {cell.error[:60]}", "", "", "", "")
                continue
            base = local_first.cells[workload].seconds
            table.add(
                column.label,
                _requests(cell.requests),
                f"{cell.seconds * 1000:.1f} ms",
                f"{cell.seconds / floor.cells[workload].seconds:.2f}",
                f"{cell.seconds / base:.2f}",
                _verdict(column.label, workload, cell, base, target),
            )
        print(f"{workload}: {DESCRIPTIONS[workload]}\n{table.render()}\n")
    scale = results["scale"]
    limit = scale["directories"] + scale["files"] // 1000
    table = table_class(
        [f"exists() of {scale['files']:,} objects, cold", "S3 requests", "time", "target"]
    )
    for label in ("Fallback(Caching(ReadOnly(s3)), fs)", "Caching(Fallback(ReadOnly(s3), fs))"):
        row = scale[label]
        total = sum(row["requests"].values())
        what = f"{label}: 20,000 objects in 100 directories, ≤ {limit} requests cold"
        table.add(
            label,
            _requests(row["requests"]),
            f"{row['seconds']:.2f} s",
            f"≤ {limit}: " + target(what, total <= limit),
        )
    memory = scale["memory"]
    print(
        f"{scale['files']:,} objects in {scale['directories']} directories\n{table.render()}\n\n"
        f"Memory of {memory['entries']:,} cached listing entries ({memory['listings']} listings): "
        f"{memory['cache bytes'] / 1024:.0f} KiB in the cache "
        f"({memory['cache bytes'] / max(memory['entries'], 1):.1f} bytes an entry; the per-file "
        f"facts derived from them: {memory['per-file facts bytes'] / 1024:.0f} KiB), "
        f"{memory['decoded bytes'] / 1024 / 1024:.1f} MiB decoded in the process\n"
    )
    return {
        "workloads": {
            column.label: {
                name: {"requests": cell.requests, "seconds": cell.seconds, "error": cell.error}
                for name, cell in column.cells.items()
            }
            for column in measured
        },
        "scale": scale,
    }


def _verdict(label: str, workload: str, cell: Any, local_first: float, target: Any) -> str:
    stack, _, state = label.rpartition(" ")
    if stack not in LISTED:
        return ""
    total = cell.total
    verdicts = []
    if workload == "page" and state == "cold":
        verdicts.append("≤ 2: " + target(f"{label} page: ≤ 2 S3 requests", total <= 2))
    if workload == "page" and state == "warm":
        verdicts.append("0: " + target(f"{label} page: 0 S3 requests", total == 0))
    if workload == "page":
        ratio = cell.seconds / local_first
        what = f"{label} page: ≤ 1.2× the time of {LOCAL_FIRST} without a cache ({ratio:.2f}×)"
        verdicts.append("time ≤ 1.2×: " + target(what, ratio <= 1.2))
    if workload == "metadata" and state == "cold":
        verdicts.append("≤ 1: " + target(f"{label} metadata: ≤ 1 S3 request", total <= 1))
    if workload == "existence" and state == "cold":
        verdicts.append("≤ 2: " + target(f"{label} existence: ≤ 2 S3 requests", total <= 2))
    if workload == "rendition" and state == "cold":
        listings = cell.requests.get("LIST", 0)
        others = {method: n for method, n in cell.requests.items() if method != "LIST"}
        what = f"{label} rendition: ≤ 1 listing + 1 GET"
        verdicts.append("≤ 1 LIST + 1 GET: " + target(what, listings <= 1 and others == {"GET": 1}))
    if state == "warm" and workload in ("metadata", "existence"):
        verdicts.append("0: " + target(f"{label} {workload}: 0 S3 requests", total == 0))
    return "; ".join(verdicts)


def _requests(requests: dict[str, int]) -> str:
    total = sum(requests.values())
    methods = " ".join(f"{method} {count}" for method, count in sorted(requests.items()))
    return f"{total} ({methods})" if total else "0"


if __name__ == "__main__":
    import sys
    import tempfile

    from benchmarks.compare import seed_s3
    from benchmarks.harness import Table, s3_environment, setup_django

    with s3_environment() as s3, tempfile.TemporaryDirectory() as directory:
        root = Path(directory)
        seed_s3(s3)
        setup_django(
            storages={
                "production": {
                    "BACKEND": "storages.backends.s3.S3Storage",
                    "OPTIONS": s3.storage_options(),
                },
                "local": {
                    "BACKEND": "django.core.files.storage.FileSystemStorage",
                    "OPTIONS": {"location": str(seeded_local_dir(root)), "base_url": "/media/"},
                },
                **settings_storages(),
            }
        )
        failed = []

        def target(what: str, passed: bool) -> str:
            if not passed:
                failed.append(what)
            return "PASS" if passed else "FAIL"

        report(measure(s3, root), target, Table)
        sys.exit(1 if failed else 0)
