"""Python-level overhead: microseconds per call on a file in the first layer."""

from __future__ import annotations

import itertools
import logging
import statistics
import tempfile
import timeit
import uuid
from pathlib import Path
from typing import Any

CALLS = 2000
REPEATS = 15


def measure() -> list[dict[str, Any]]:
    """Rows: operation, µs raw, µs per stack and the ratios, with targets."""
    from django.core.files.base import ContentFile
    from django.core.files.storage import FileSystemStorage, InMemoryStorage

    from storage_mixins import Caching, Fallback, Logging, ReadOnly

    logging.getLogger("benchmarks.disabled").setLevel(logging.CRITICAL)
    rows = []
    with tempfile.TemporaryDirectory() as directory:
        raw = FileSystemStorage(location=Path(directory) / "fs")
        raw.save("photos/a.jpg", ContentFile(b"\xff" * 20 * 1024))
        stacks = {
            "FileSystemStorage": raw,
            "Fallback(fs, ReadOnly(mem))": Fallback(raw, ReadOnly(InMemoryStorage())),
            "Logging(Caching(Fallback(fs, ReadOnly(mem))))": Logging(
                Caching(Fallback(raw, ReadOnly(InMemoryStorage())), key_prefix=uuid.uuid4().hex),
                logger="benchmarks.disabled",
            ),
        }
        counter = itertools.count()

        def read(storage: Any) -> None:
            with storage.open("photos/a.jpg", "rb") as handle:
                handle.read()

        def save(storage: Any) -> None:
            storage.save(f"uploads/{next(counter)}.jpg", ContentFile(b"\xff" * 1024))

        operations = {
            "exists": lambda storage: storage.exists("photos/a.jpg"),
            "open().read()": read,
            "save": save,
        }
        for operation, call in operations.items():
            # Interleaved, so that a noisy neighbour slows every stack alike.
            samples: dict[str, list[float]] = {label: [] for label in stacks}
            for _ in range(REPEATS):
                for label, storage in stacks.items():
                    calls = CALLS // 10 if operation == "save" else CALLS
                    seconds = timeit.timeit(lambda s=storage, c=call: c(s), number=calls)
                    samples[label].append(seconds / calls * 1e6)
            medians = {label: statistics.median(values) for label, values in samples.items()}
            base = medians["FileSystemStorage"]
            rows.append(
                {
                    "operation": operation,
                    "microseconds": medians,
                    "ratios": {label: value / base for label, value in medians.items()},
                }
            )
    return rows


TARGETS = {
    "Fallback(fs, ReadOnly(mem))": 1.15,
    "Logging(Caching(Fallback(fs, ReadOnly(mem))))": 1.3,
}
