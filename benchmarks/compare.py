"""Every stack against the raw backends and django-fallback-storage 1.1.1.

For each workload of :mod:`benchmarks.workloads` and each stack: the S3
requests one run sends (counted by method at the server) and its wall time,
as a ratio to the floor's, median of ``RUNS`` runs after a warm-up.
"""

from __future__ import annotations

import concurrent.futures
import json
import os
import shutil
import statistics
import subprocess
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmarks.workloads import (
    FILE_SIZE,
    LOCAL_FILES,
    S3_FILES,
    WORKLOADS,
    Floor,
)

RUNS = 5
LEGACY = "django-fallback-storage 1.1.1"
# One measured run per workload for the old package, two workloads at a time:
# it creates every backend, and a boto3 session with it, on every call, so one
# page render takes about a minute; its request counts are the same every run.
LEGACY_RUNS = 1


@dataclass
class Cell:
    requests: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    error: str | None = None

    @property
    def total(self) -> int:
        return sum(self.requests.values())


@dataclass
class Column:
    label: str
    make: Callable[[], Any] | None  # a fresh storage; None for the legacy worker
    fresh_each_run: bool = False  # cold caches: a new stack per run
    cells: dict[str, Cell] = field(default_factory=dict)


def columns(s3: Any, root: Path) -> list[Column]:
    from django.core.files.storage import FileSystemStorage

    from storage_mixins import Caching, Fallback, ReadOnly

    production = s3.storage()

    def local() -> Any:
        return FileSystemStorage(location=seeded_local_dir(root), base_url="/media/")

    def cached(stack: Any) -> Any:
        contents = FileSystemStorage(location=root / "contents" / uuid.uuid4().hex)
        return Caching(stack, key_prefix=uuid.uuid4().hex, contents=contents)

    # Each stack is built once; a cold Caching column wraps it in a new,
    # empty cache for every run.
    stacks: dict[str, Any] = {
        "Fallback(fs, ReadOnly(s3))": Fallback(local(), ReadOnly(production)),
        "Fallback(ReadOnly(s3), fs)": Fallback(ReadOnly(production), local()),
        "FallbackStorage (settings)": _fresh_alias("media"),
    }
    floor = Column("floor: raw S3Storage + FileSystemStorage", lambda: Floor(local(), production))
    result = [floor]
    result += [Column(label, lambda stack=stack: stack) for label, stack in stacks.items()]
    for label, stack in stacks.items():
        result.append(Column(f"Caching({label}) cold", lambda stack=stack: cached(stack), True))
        result.append(Column(f"Caching({label}) warm", lambda stack=stack: cached(stack)))
    result.append(Column(LEGACY, None))
    return result


def _fresh_alias(alias: str) -> Any:
    """A new instance of a STORAGES alias, built from settings as Django would."""
    from django.core.files.storage import storages

    storages._storages.clear()
    return storages[alias]


def seeded_local_dir(root: Path) -> Path:
    directory = root / "local" / uuid.uuid4().hex
    (directory / "uploads").mkdir(parents=True)
    for name in LOCAL_FILES:
        (directory / name).write_bytes(b"\xee" * FILE_SIZE)
    return directory


def measure_in_process(
    column: Column,
    s3: Any,
    workloads: dict[str, Callable[[Any, int], None]] = WORKLOADS,
    on_start: Callable[[str, int], None] | None = None,
) -> None:
    """Measure each workload on the column's stack; ``on_start(workload, its
    number)`` as each one starts."""
    assert column.make is not None
    for number, (name, workload) in enumerate(workloads.items(), 1):
        if on_start is not None:
            on_start(name, number)
        times, counts = [], Counter()
        storage = column.make()
        for run in range(RUNS + 1):  # the first run warms up
            if column.fresh_each_run:
                storage = column.make()
            s3.server.clear_requests()
            start = time.perf_counter()
            try:
                workload(storage, run)
            except Exception as exc:  # noqa: BLE001 - a cell that cannot be measured
                column.cells[name] = Cell(error=f"{type(exc).__name__}: {exc}")
                break
            elapsed = time.perf_counter() - start
            if run:
                times.append(elapsed)
                counts = requests_by_kind(s3)
        else:
            column.cells[name] = Cell(dict(counts), statistics.median(times))


def measure_legacy(
    column: Column,
    s3: Any,
    root: Path,
    python: str,
    on_done: Callable[[str, int], None] | None = None,
) -> None:
    """Run the old package's workloads, two at a time, each on a bucket of its
    own (a copy of production), so that requests are counted per workload;
    ``on_done(workload, how many so far)`` as each one is measured."""
    repository = Path(__file__).resolve().parent.parent
    buckets = {name: f"legacy-{index}" for index, name in enumerate(WORKLOADS)}
    for bucket in buckets.values():
        seed_s3(s3, bucket)
    s3.server.clear_requests()

    def run(name: str) -> tuple[str, Cell]:
        media_root = seeded_local_dir(root)
        config = {
            "repository": str(repository),
            "media_root": str(media_root),
            "bucket": buckets[name],
            "endpoint": s3.server.endpoint_url,
            "workload": name,
            "runs": LEGACY_RUNS,
        }
        completed = subprocess.run(
            [python, "-m", "benchmarks.legacy_worker", json.dumps(config)],
            capture_output=True,
            text=True,
            cwd=repository,
            timeout=600,
            check=False,
        )
        shutil.rmtree(media_root, ignore_errors=True)
        if completed.returncode:
            return name, Cell(error=f"worker failed: {completed.stderr[-300:]}")
        report = json.loads(completed.stdout.strip().splitlines()[-1])
        if "error" in report:
            return name, Cell(error=report["error"])
        total = requests_by_kind(s3, buckets[name])
        per_run = {method: count // LEGACY_RUNS for method, count in total.items()}
        return name, Cell(per_run, statistics.median(report["times"]))

    with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:
        futures = [pool.submit(run, name) for name in WORKLOADS]
        cells = {}
        for done, future in enumerate(concurrent.futures.as_completed(futures), 1):
            name, cells[name] = future.result()
            if on_done is not None:
                on_done(name, done)
    column.cells.update({name: cells[name] for name in WORKLOADS})


def requests_by_kind(s3: Any, bucket: str | None = None) -> Counter[str]:
    """The requests the server received, by HTTP method, a listing (a GET of
    the bucket itself, ListObjects or ListObjectsV2) counted as ``LIST``."""
    return Counter(
        "LIST" if request.method == "GET" and not request.key else request.method
        for request in s3.server.requests(bucket)
    )


def legacy_python() -> str | None:
    python = os.environ.get("LEGACY_PYTHON")
    return python if python and Path(python).exists() else None


def seed_s3(s3: Any, bucket: str = "production-media") -> None:
    body = b"\xff" * FILE_SIZE
    for name in S3_FILES:
        s3.put(name, body, bucket)
