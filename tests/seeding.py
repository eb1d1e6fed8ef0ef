"""Seeding thousands of objects fast: straight into moto's in-process backend.

A PUT over HTTP costs a few milliseconds of moto's time; tests of listings need
thousands of keys. The server (tests/s3server.py) runs in this process, so its
backend can take them directly; nothing seeded this way is counted as a request.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

DEFAULT_ACCOUNT = "123456789012"  # moto's account for any credentials it does not know


def put_many(s3: Any, objects: Iterable[tuple[str, bytes]], bucket: str) -> None:
    """Store each ``(key, body)`` in ``bucket`` (created through ``s3`` if needed)."""
    from moto.s3.models import s3_backends

    s3.bucket(bucket)
    backend = s3_backends[DEFAULT_ACCOUNT]["global"]
    for key, body in objects:
        backend.put_object(bucket, key, body)
