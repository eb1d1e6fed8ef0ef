"""The hot paths against their floor: a first-layer hit, a warm cache hit.

Two measures, each against what it cannot beat:

* ``exists()`` of a file in the first layer, through ``Fallback(fs,
  ReadOnly(mem))`` and through ``Logging(Caching(Fallback(fs, ReadOnly(mem))))``
  (logger disabled), against raw ``FileSystemStorage.exists()``;
* a warm ``Caching.exists()`` hit, against one raw ``cache.get()`` of the very
  key it reads, on the same ``LocMemCache``.

Calls are interleaved (every stack in turn, repeat after repeat), so that a
noisy neighbour slows them alike, and each is judged on its fastest repeat,
the least disturbed (as ``timeit`` advises). One run is a fresh interpreter;
:func:`measure_runs` makes several, to show the spread between runs, which is
what decides whether a target passes every time or by chance.

``python -m benchmarks.hot_paths [RUNS]`` prints the runs alone.
"""

from __future__ import annotations

import json
import logging
import os
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from typing import Any

CALLS = 2_000
REPEATS = 40
RUNS = 3
RAW = "FileSystemStorage.exists"
TWO = "Fallback(fs, ReadOnly(mem)).exists"
FOUR = "Logging(Caching(Fallback(fs, ReadOnly(mem)))).exists"
RAW_GET = "cache.get(key)"
HIT = "Caching(fs).exists, warm"
# The targets: measure -> (floor, limit).
TARGETS = {TWO: (RAW, 1.15), HIT: (RAW_GET, 1.25)}
SHOWN = {FOUR: RAW}


def measure() -> dict[str, float]:
    """Microseconds per call of each measure, the fastest of the repeats."""
    from django.core.cache import caches
    from django.core.files.base import ContentFile
    from django.core.files.storage import FileSystemStorage, InMemoryStorage

    from storage_mixins import Caching, Fallback, Logging, ReadOnly
    from storage_mixins.services.cache_keys import cache_key as _key

    logging.getLogger("benchmarks.disabled").setLevel(logging.CRITICAL)
    ram = "/dev/shm" if os.path.isdir("/dev/shm") else None
    with tempfile.TemporaryDirectory(dir=ram) as directory:
        raw = FileSystemStorage(location=directory)
        raw.save("photos/a.jpg", ContentFile(b"\xff" * 1024))
        two = Fallback(raw, ReadOnly(InMemoryStorage()))
        four = Logging(
            Caching(Fallback(raw, ReadOnly(InMemoryStorage())), key_prefix=uuid.uuid4().hex),
            logger="benchmarks.disabled",
        )
        cached = Caching(raw, key_prefix=uuid.uuid4().hex)
        assert cached.exists("photos/a.jpg") and four.exists("photos/a.jpg")  # warm
        cache = caches["default"]
        key = _key(cached._self_metadata.namespace, "exists", "photos/a.jpg")
        assert cache.get(key) == (True,), "the hit must read this very key"
        calls: dict[str, Callable[[], Any]] = {
            RAW: lambda: raw.exists("photos/a.jpg"),
            TWO: lambda: two.exists("photos/a.jpg"),
            FOUR: lambda: four.exists("photos/a.jpg"),
            RAW_GET: lambda: cache.get(key),
            HIT: lambda: cached.exists("photos/a.jpg"),
        }
        best = dict.fromkeys(calls, float("inf"))
        for _ in range(REPEATS):
            for label, call in calls.items():
                start = time.perf_counter()
                for _ in range(CALLS):
                    call()
                best[label] = min(best[label], (time.perf_counter() - start) / CALLS * 1e6)
    return best


def measure_runs(runs: int = RUNS) -> list[dict[str, float]]:
    """:func:`measure` in ``runs`` fresh interpreters, one after the other."""
    from benchmarks.harness import in_fresh_process

    return [in_fresh_process("benchmarks.hot_paths", "--one") for _ in range(runs)]


def ratios(run: dict[str, float]) -> dict[str, float]:
    """Each measure's ratio to its floor, in one run."""
    floors = {**{label: floor for label, (floor, _limit) in TARGETS.items()}, **SHOWN}
    return {label: run[label] / run[floor] for label, floor in floors.items()}


def report(runs: list[dict[str, float]], target: Any, table_class: Any) -> list[dict[str, Any]]:
    """Print one row per measure, with every run's ratio and the spread; a
    target passes only if it holds in every run."""
    table = table_class(["measure", "floor", "µs (best run)", "× floor, each run", "spread",
                         "target"])  # fmt: skip
    rows = []
    per_run = [ratios(run) for run in runs]
    floors = {**{label: floor for label, (floor, _limit) in TARGETS.items()}, **SHOWN}
    for label, floor in floors.items():
        values = [run_ratios[label] for run_ratios in per_run]
        verdict = ""
        if label in TARGETS:
            limit = TARGETS[label][1]
            what = f"{label}: ≤ {limit}× {floor}, in every one of {len(runs)} runs"
            verdict = f"≤ {limit} every run: " + target(what, max(values) <= limit)
        table.add(
            label,
            floor,
            f"{min(run[label] for run in runs):.2f} vs {min(run[floor] for run in runs):.2f}",
            " ".join(f"{value:.3f}" for value in values),
            f"{min(values):.3f}–{max(values):.3f} (median {statistics.median(values):.3f})",
            verdict,
        )
        rows.append({"measure": label, "floor": floor, "ratios": values})
    print(
        f"Hot paths: a hit against its floor, interleaved, fastest of {REPEATS} repeats of "
        f"{CALLS:,} calls, {len(runs)} runs (fresh processes)\n{table.render()}\n"
    )
    return rows


if __name__ == "__main__":
    from benchmarks.harness import Table, setup_django

    setup_django()
    if sys.argv[1:] == ["--one"]:
        print(json.dumps(measure()))
    else:
        count = int(sys.argv[1]) if sys.argv[1:] else RUNS
        report(measure_runs(count), lambda what, passed: "PASS" if passed else "FAIL", Table)
