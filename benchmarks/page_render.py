"""A dev page that shows 200 production images: what it costs with and without Caching.

The workload, per render: ``url()``, ``exists()`` and ``size()`` of 200 files
in S3, and ``open().read()`` of 20 of them. S3 is moto's server over HTTP on
loopback; every request it receives is counted by method.

Run: ``python -m benchmarks.page_render`` (``make bench`` runs every benchmark).
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchmarks.harness import Table, s3_environment, setup_django

FILES = [f"photos/{index:03d}.jpg" for index in range(200)]
READ = FILES[:20]
SIZE = 20 * 1024


def render(storage: Any) -> None:
    for name in FILES:
        storage.url(name)
        storage.exists(name)
        storage.size(name)
    for name in READ:
        with storage.open(name, "rb") as handle:
            handle.read()


def main() -> int:
    setup_django()
    from django.core.files.storage import FileSystemStorage

    from storage_mixins import Caching, Fallback, ReadOnly

    with s3_environment() as s3, tempfile.TemporaryDirectory() as root:
        for name in FILES:
            s3.put(name, b"\xff" * SIZE)
        production = s3.storage()

        def local(label: str) -> Any:
            return FileSystemStorage(location=Path(root) / label / uuid.uuid4().hex)

        def cached(storage: Any) -> Any:
            return Caching(storage, key_prefix=uuid.uuid4().hex, contents=local("contents"))

        stacks: dict[str, Callable[[], Any]] = {
            "S3Storage": lambda: production,
            "Fallback(fs, ReadOnly(s3))": lambda: Fallback(local("fs"), ReadOnly(production)),
            "Fallback(ReadOnly(s3), fs)": lambda: Fallback(ReadOnly(production), local("fs")),
            "Caching(S3Storage)": lambda: cached(production),
            "Caching(Fallback(fs, ReadOnly(s3)))": lambda: cached(
                Fallback(local("fs"), ReadOnly(production))
            ),
            "Caching(Fallback(ReadOnly(s3), fs))": lambda: cached(
                Fallback(ReadOnly(production), local("fs"))
            ),
            # Caching only the remote layer lets exists() answers serve url() too.
            "Fallback(Caching(ReadOnly(s3)), fs)": lambda: Fallback(
                cached(ReadOnly(production)), local("fs")
            ),
        }
        table = Table(["stack", "state", "S3 requests", "ms (median of 5)", "× raw", "target"])
        raw_time = 0.0
        uncached: dict[str, int] = {}
        for label, make in stacks.items():
            states = ["cold", "warm"] if "Caching" in label else ["-"]
            for state in states:
                requests, seconds = measure(s3, make, warm=state == "warm")
                total = sum(requests.values())
                if label == "S3Storage":
                    raw_time = seconds
                if state == "-":
                    uncached[label] = total
                floor = uncached.get(_without_caching(label), uncached["S3Storage"])
                target, passed = targets(state, total, floor)
                table.add(
                    label,
                    state,
                    f"{total} {dict(sorted(requests.items()))}",
                    f"{seconds * 1000:.0f}",
                    f"{seconds / raw_time:.2f}",
                    f"{target}: {'PASS' if passed else 'FAIL'}" if target else "",
                )
        print(table.render())
        return 0 if table.all_passed() else 1


def measure(s3: Any, make: Callable[[], Any], *, warm: bool) -> tuple[dict[str, int], float]:
    """Requests of one render and the median time of five (fresh stacks when cold)."""
    times, counts = [], None
    for _ in range(5):
        storage = make()
        if warm:
            render(storage)
        s3.server.clear_requests()
        start = time.perf_counter()
        render(storage)
        times.append(time.perf_counter() - start)
        counts = counts or dict(s3.server.counts())
    return counts or {}, statistics.median(times)


def targets(state: str, total: int, uncached: int) -> tuple[str, bool]:
    if state == "warm":
        return "0 requests", total == 0
    if state == "cold":
        return f"≤ {uncached} (uncached)", total <= uncached
    return "", True


def _without_caching(label: str) -> str:
    """The same stack without its Caching wrapper, as labelled above."""
    if label.startswith("Caching(") and label.endswith(")"):
        return label[len("Caching(") : -1]
    return label.replace("Caching(ReadOnly(s3))", "ReadOnly(s3)")


if __name__ == "__main__":
    sys.exit(main())
