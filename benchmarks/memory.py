"""Peak memory while streaming a 256 MB S3 object, through the stack and raw."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

SIZE = 256 * 1024 * 1024

_SCRIPT = """
import json, sys, tempfile
import django
from django.conf import settings
settings.configure(USE_TZ=True, CACHES={{"default": {{
    "BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}}})
django.setup()
from django.core.files.storage import FileSystemStorage
from storages.backends.s3 import S3Storage
from storage_mixins import Caching, Fallback, ReadOnly

def peak_kib():  # VmHWM, not ru_maxrss: a child inherits its parent's ru_maxrss
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmHWM"))

s3 = S3Storage(bucket_name="production-media", endpoint_url={endpoint!r},
               access_key="bench", secret_key="bench", region_name="us-east-1")
root = tempfile.mkdtemp()
storage = {{
    "raw": lambda: s3,
    "stack": lambda: Fallback(FileSystemStorage(location=root + "/fs"), ReadOnly(s3)),
    "cached": lambda: Caching(Fallback(FileSystemStorage(location=root + "/fs"), ReadOnly(s3)),
                              contents=FileSystemStorage(location=root + "/cache")),
}}[sys.argv[1]]()
storage.exists("big.bin")  # imports and connections, before the baseline
before = peak_kib()
read = 0
with storage.open("big.bin", "rb") as handle:
    for chunk in handle.chunks(1024 * 1024):
        read += len(chunk)
print(json.dumps({{"read": read, "growth_mib": (peak_kib() - before) / 1024}}))
"""


def measure(s3: Any) -> dict[str, float] | None:
    """Peak RSS growth, in MiB, of streaming the object raw, through
    ``Fallback(fs, ReadOnly(s3))`` and through ``Caching(...)`` with contents."""
    if not os.path.exists("/proc/self/status"):
        return None
    s3.client.upload_fileobj(_Zeros(SIZE), "production-media", "big.bin")
    script = textwrap.dedent(_SCRIPT.format(endpoint=s3.server.endpoint_url))
    results = {}
    for label in ("raw", "stack", "cached"):
        completed = subprocess.run(
            [sys.executable, "-c", script, label],
            capture_output=True,
            text=True,
            timeout=600,
            check=True,
            cwd=Path(__file__).resolve().parent.parent,
        )
        report = json.loads(completed.stdout)
        assert report["read"] == SIZE, report
        results[label] = report["growth_mib"]
    return results


class _Zeros:
    def __init__(self, size: int) -> None:
        self.left = size

    def read(self, amount: int = -1) -> bytes:
        amount = self.left if amount < 0 else min(amount, self.left)
        self.left -= amount
        return bytes(amount)
