"""Shared pieces of the benchmarks: Django settings, the counting S3 server, tables."""

from __future__ import annotations

import contextlib
import json
import logging
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

BUCKET = "production-media"
ROOT = Path(__file__).resolve().parent.parent


def in_fresh_process(module: str, *args: str) -> Any:
    """What ``python -m module args`` prints as JSON, run in a new interpreter:
    microseconds are sensitive to what a long-running process has accumulated
    (caches, heaps, a server thread)."""
    completed = subprocess.run(
        [sys.executable, "-m", module, *args],
        capture_output=True,
        text=True,
        check=True,
        timeout=600,
        cwd=ROOT,
    )
    return json.loads(completed.stdout)


def setup_django(storages: dict[str, Any] | None = None) -> None:
    import django
    from django.conf import settings

    if not settings.configured:
        settings.configure(
            USE_TZ=True,
            MEDIA_URL="/media/",
            STORAGES=storages or {},
            CACHES={
                "default": {
                    "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
                    # The default 300 entries would be culled by one page's facts.
                    "OPTIONS": {"MAX_ENTRIES": 1_000_000},
                }
            },
        )
        django.setup()
    logging.getLogger("werkzeug").setLevel(logging.ERROR)


class S3:
    """moto's S3 server (counting requests) and a bucket to measure against."""

    def __init__(self, server: Any) -> None:
        import boto3
        from botocore.config import Config

        from tests.s3server import OBSERVER_USER_AGENT

        self.server = server
        self.client = boto3.client(
            "s3",
            endpoint_url=server.endpoint_url,
            region_name="us-east-1",
            aws_access_key_id="bench",
            aws_secret_access_key="bench",
            config=Config(user_agent_extra=OBSERVER_USER_AGENT),  # not counted
        )
        self.client.create_bucket(Bucket=BUCKET)
        self._buckets = {BUCKET}

    def put(self, key: str, body: bytes, bucket: str = BUCKET) -> None:
        if bucket not in self._buckets:
            self.client.create_bucket(Bucket=bucket)
            self._buckets.add(bucket)
        self.client.put_object(Bucket=bucket, Key=key, Body=body)

    def storage_options(self, **options: Any) -> dict[str, Any]:
        return {
            "bucket_name": BUCKET,
            "endpoint_url": self.server.endpoint_url,
            "access_key": "bench",
            "secret_key": "bench",  # moto's dummy credentials
            "region_name": "us-east-1",
            "file_overwrite": False,
            "querystring_auth": False,
            **options,
        }

    def storage(self, **options: Any) -> Any:
        from storages.backends.s3 import S3Storage

        return S3Storage(**self.storage_options(**options))


@contextlib.contextmanager
def s3_environment() -> Iterator[S3]:
    from tests.s3server import S3Server

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # the server's request log
    server = S3Server()
    server.start()
    try:
        yield S3(server)
    finally:
        server.stop()


class Table:
    """A plain-text table; a cell containing "FAIL" marks the run as failed."""

    def __init__(self, headers: list[str]) -> None:
        self.headers = headers
        self.rows: list[list[str]] = []

    def add(self, *cells: object) -> None:
        self.rows.append([str(cell) for cell in cells])

    def all_passed(self) -> bool:
        return not any("FAIL" in cell for row in self.rows for cell in row)

    def render(self) -> str:
        widths = [
            max(len(row[i]) for row in [self.headers, *self.rows]) for i in range(len(self.headers))
        ]
        lines = [
            "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True))
            for row in [self.headers, ["-" * width for width in widths], *self.rows]
        ]
        return "\n".join(line.rstrip() for line in lines)
