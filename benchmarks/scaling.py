"""The page-render workload at 200, 2,000 and 20,000 files: linear, or worse?"""

from __future__ import annotations

import statistics
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

SIZES = (200, 2_000, 20_000)


def measure(s3: Any) -> list[dict[str, Any]]:
    from django.core.files.storage import FileSystemStorage

    from storage_mixins import Caching, Fallback, ReadOnly

    production = s3.storage()
    rows = []
    with tempfile.TemporaryDirectory() as directory:
        local = FileSystemStorage(location=Path(directory) / "fs", base_url="/media/")
        stacks = {
            "S3Storage": lambda: production,
            "Fallback(fs, ReadOnly(s3))": lambda: Fallback(local, ReadOnly(production)),
            "Caching(Fallback(fs, ReadOnly(s3))) warm": lambda: Caching(
                Fallback(local, ReadOnly(production)), key_prefix=uuid.uuid4().hex
            ),
        }
        for label, make in stacks.items():
            for size in SIZES:
                names = [f"photos/{index:05d}.jpg" for index in range(size)]
                storage = make()
                for name in names:  # warm-up (and, for Caching, warming)
                    storage.url(name)
                times = []
                for _ in range(2):
                    s3.server.clear_requests()
                    start = time.perf_counter()
                    for name in names:
                        storage.url(name)
                    times.append(time.perf_counter() - start)
                rows.append(
                    {
                        "stack": label,
                        "files": size,
                        "requests": sum(s3.server.counts().values()),
                        "seconds": statistics.median(times),
                    }
                )
    return rows
