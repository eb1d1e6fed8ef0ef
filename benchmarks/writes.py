"""Writes at the floor, and one listing per directory for a fleet (issue 25).

* 20 uploads through the design's stack with a cold ``Caching``
  (``Caching(Fallback(ReadOnly(s3), fs))``), of new names and of names the
  local disk already has (a second upload of ``photo.jpg``: Django picks
  another name), beside the floor and local first without a cache, in one
  run: S3 requests (at most the floor's) and time (at most 1.2 times local first's).
* The cache keys one save of ``a/b/c.jpg`` writes through that stack (≤ 12).
* 8 processes sharing one ``redis-server``, each rendering the same cold page
  of 200 production files at the same moment: ``LIST`` requests in all
  (≤ 2), and the same with one process killed while it lists: the others'
  first answer, which waits for the directory's listing, slowed by at most
  2 s (the slowest of them, against the slowest of the cold fleet).
"""

from __future__ import annotations

import shutil
import statistics
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchmarks.compare import Column, measure_in_process, seeded_local_dir
from benchmarks.workloads import FILE_SIZE, LOCAL_FILES, Floor

FLOOR = "floor: raw S3Storage + FileSystemStorage"
LOCAL_FIRST = "Fallback(fs, ReadOnly(s3)), no cache"
DESIGN = "Caching(Fallback(ReadOnly(s3), fs)) cold"
TIME_LIMIT = 1.2  # times local first's, without a cache
KEYS_LIMIT = 12
LISTINGS_LIMIT = 2
DELAY_LIMIT = 2.0  # seconds
PROCESSES = 8


def upload_new(storage: Any, run: int) -> None:
    from django.core.files.base import ContentFile

    for index in range(20):
        storage.save(f"uploads/new-{run}-{index:02d}.jpg", ContentFile(b"\xff" * FILE_SIZE))


def upload_again(storage: Any, run: int) -> None:
    from django.core.files.base import ContentFile

    for name in LOCAL_FILES:  # the local disk has each: another name is chosen
        storage.save(name, ContentFile(b"\xff" * FILE_SIZE))


WORKLOADS: dict[str, Callable[[Any, int], None]] = {
    "20 uploads, new names": upload_new,
    "20 uploads, names the disk has": upload_again,
}


def measure_uploads(s3: Any, root: Path) -> list[Column]:
    """The upload workloads on the floor, local first, and the design's stack."""
    from django.core.files.storage import FileSystemStorage

    from storage_mixins import Caching, Fallback, ReadOnly

    production = s3.storage()

    def local() -> Any:
        return FileSystemStorage(location=seeded_local_dir(root), base_url="/media/")

    design = Fallback(ReadOnly(production), local())
    columns = [
        Column(FLOOR, lambda: Floor(local(), production)),
        Column(LOCAL_FIRST, lambda: Fallback(local(), ReadOnly(production))),
        Column(DESIGN, lambda: Caching(design, key_prefix=uuid.uuid4().hex), True),
    ]
    for column in columns:
        measure_in_process(column, s3, WORKLOADS)
    return columns


def keys_a_save_writes(s3: Any, root: Path) -> int:
    """How many keys one save of ``a/b/c.jpg`` writes through the design's stack."""
    from django.conf import settings
    from django.core.files.base import ContentFile
    from django.core.files.storage import FileSystemStorage

    from storage_mixins import Caching, Fallback, ReadOnly
    from tests import caches

    alias = f"counting-{uuid.uuid4().hex}"
    settings.CACHES[alias] = {"BACKEND": "tests.caches.CountingCache", "LOCATION": alias}
    local = FileSystemStorage(location=root / "keys" / uuid.uuid4().hex)
    stack = Caching(Fallback(ReadOnly(s3.storage()), local), cache=alias)
    stack.exists("a/b/c.jpg")  # a page asked about it first
    with caches.recording_writes() as written:
        stack.save("a/b/c.jpg", ContentFile(b"c"))
    return len(written)


def measure_fleet(s3: Any, root: Path) -> dict[str, Any]:
    """The 8-process page, cold, with and without a lister killed mid-listing."""
    from benchmarks.compare import requests_by_kind
    from tests import fleet
    from tests.conftest import RedisServer

    binary = shutil.which("redis-server")
    if binary is None:
        return {"error": "redis-server not found"}
    files = [f"fleet/{index:03d}.jpg" for index in range(200)]
    for name in files:
        s3.put(name, b"\xff" * 100)
    server = RedisServer(binary, root).start()
    results: dict[str, Any] = {}
    try:
        for case, dying in (("cold", False), ("a lister killed", True)):
            settings = fleet.config(
                redis=server.url, endpoint=s3.server.endpoint_url,
                location=str(root / "fleet" / case), prefix=uuid.uuid4().hex, names=files,
            )  # fmt: skip
            workers = [fleet.Worker(settings) for _ in range(PROCESSES - dying)]
            killed = [fleet.Worker({**settings, "die_while_listing": True})] if dying else []
            try:
                for worker in killed + workers:
                    worker.ready()
                s3.server.clear_requests()
                started = time.perf_counter()  # the first go to the last answer
                for worker in killed:
                    worker.go()
                    worker.killed()
                held = time.perf_counter() - started  # the killed one's go to the others'
                for worker in workers:
                    worker.go()
                answers = [worker.result() for worker in workers]
                elapsed = time.perf_counter() - started
            finally:
                for worker in killed + workers:
                    worker.stop()
            results[case] = {
                "LIST": requests_by_kind(s3)["LIST"],
                "requests": dict(requests_by_kind(s3)),
                "fleet page": elapsed,
                "median page": statistics.median(answer["seconds"] for answer in answers),
                # From the first go: for the others, the time the claim was held too.
                "first answer": held + max(answer["first"] for answer in answers),
            }
    finally:
        server.stop()
    return results


def _upload_targets(
    workload: str, cell: Any, floor: Column, local_first: Column, judge: Callable[[str, bool], str]
) -> str:
    """The design's stack against the floor's requests and local first's time."""
    base = floor.cells[workload].total
    limit = TIME_LIMIT * local_first.cells[workload].seconds
    requests = judge(f"{DESIGN} {workload}: ≤ floor ({base})", cell.total <= base)
    seconds = judge(f"{DESIGN} {workload}: ≤ {TIME_LIMIT}x local first", cell.seconds <= limit)
    return f"≤ {base}: {requests}, ≤ {TIME_LIMIT}x local first: {seconds}"


def report(
    columns: list[Column], keys: int, fleet: dict[str, Any], judge: Callable[[str, bool], str],
    table: Any,
) -> dict[str, Any]:  # fmt: skip
    """Print the tables, with each target judged by ``judge(what, passed)``."""
    floor, local_first, design = columns
    print("Uploads, cold: S3 requests per run and time (median of runs after a warm-up)\n")
    for workload in WORKLOADS:
        rows = table(["stack", "S3 requests", "time", "× floor", "× local first", "target"])
        for column in columns:
            cell = column.cells[workload]
            verdict = ""
            if column is design:
                verdict = _upload_targets(workload, cell, floor, local_first, judge)
            rows.add(
                column.label,
                f"{cell.total} ({cell.requests})",
                f"{cell.seconds * 1000:.0f} ms",
                f"{cell.seconds / floor.cells[workload].seconds:.2f}",
                f"{cell.seconds / local_first.cells[workload].seconds:.2f}",
                verdict,
            )
        print(f"{workload}\n{rows.render()}\n")
    verdict = judge(f"keys written by a save of a/b/c.jpg ≤ {KEYS_LIMIT}", keys <= KEYS_LIMIT)
    print(f"Cache keys written by one save of a/b/c.jpg through {DESIGN[:-5]}: {keys} "
          f"(≤ {KEYS_LIMIT}: {verdict})\n")  # fmt: skip
    if "error" in fleet:
        print(f"Fleet: not measured ({fleet['error']})\n")
    else:
        rows = table(["8 processes, one redis-server", "LIST", "all requests", "fleet page",
                      "median page", "slowest first answer", "target"])  # fmt: skip
        cold = fleet["cold"]
        for case, result in fleet.items():
            verdict = f"LIST ≤ {LISTINGS_LIMIT}: " + judge(
                f"fleet, {case}: ≤ {LISTINGS_LIMIT} LIST", result["LIST"] <= LISTINGS_LIMIT
            )
            if case != "cold":
                delay = result["first answer"] - cold["first answer"]
                verdict += f", delay {delay:.2f} s ≤ {DELAY_LIMIT}: " + judge(
                    f"fleet, {case}: delay ≤ {DELAY_LIMIT} s", delay <= DELAY_LIMIT
                )
            rows.add(
                case,
                result["LIST"],
                result["requests"],
                f"{result['fleet page']:.2f} s",
                f"{result['median page']:.2f} s",
                f"{result['first answer']:.2f} s",
                verdict,
            )
        print(f"{rows.render()}\n")
    return {
        "uploads": {
            column.label: {
                workload: {"requests": cell.requests, "seconds": cell.seconds}
                for workload, cell in column.cells.items()
            }
            for column in columns
        },
        "keys a save writes": keys,
        "fleet": fleet,
    }


def main() -> int:
    """``python -m benchmarks.writes``: this section on its own."""
    import tempfile

    from benchmarks.harness import Table, s3_environment, setup_django

    setup_django()
    targets: list[bool] = []

    def judge(what: str, passed: bool) -> str:
        targets.append(passed)
        return "PASS" if passed else "FAIL"

    with s3_environment() as s3, tempfile.TemporaryDirectory() as directory:
        root = Path(directory)
        columns = measure_uploads(s3, root)
        keys = keys_a_save_writes(s3, root)
        fleet = measure_fleet(s3, root)
        report(columns, keys, fleet, judge, Table)
    print(f"Targets: {sum(targets)} passed, {len(targets) - sum(targets)} failed")
    return 0 if all(targets) else 1


if __name__ == "__main__":
    raise SystemExit(main())
