"""describe(): the tree of a stack."""

from __future__ import annotations

from typing import Any

from django.core.files.storage import FileSystemStorage, InMemoryStorage

from storage_mixins import Caching, Fallback, FallbackStorage, Logging, ReadOnly, describe
from storage_mixins.core.stack import find_router, walk


def test_describe_a_deep_stack(s3: Any) -> None:
    stack = Logging(
        Caching(
            Fallback(
                FileSystemStorage(location="/srv/media"),
                Logging(ReadOnly(s3.storage()), slow=0.5),
                ReadOnly(Fallback(InMemoryStorage(), InMemoryStorage(), shadow=True)),
            ),
            timeout=60,
            contents=FileSystemStorage(location="/var/cache/media"),
        ),
        level="INFO",
    )
    assert describe(stack) == (
        "Logging  (logger='storage_mixins', level=INFO)\n"
        "└── Caching  (cache='default', timeout=60, contents=FileSystemStorage('/var/cache/media'), "
        "listings: [1] ListObjectsV2, ≤ 5,000 entries)\n"
        "    └── Fallback  (writes go to [0])\n"
        "        ├── [0] FileSystemStorage('/srv/media')  ← writes\n"
        "        ├── [1] Logging  (logger='storage_mixins', level=DEBUG, slow=0.5 s)\n"
        "        │   └── ReadOnly  (refuses writes)\n"
        "        │       └── S3Storage('production-media')\n"
        "        └── [2] ReadOnly  (refuses writes)\n"
        "            └── Fallback  (writes go to [0], shadow=True)\n"
        "                ├── [0] InMemoryStorage()  ← writes\n"
        "                └── [1] InMemoryStorage()"
    )
    assert "\n" not in repr(stack)


def test_describe_a_read_only_stack_and_a_plain_storage() -> None:
    stack = FallbackStorage(["production", "production"], writable=0, read_only=True)
    assert describe(stack).splitlines()[0] == "FallbackStorage  (writes go to [0])"
    assert describe(Fallback(ReadOnly(InMemoryStorage()))).splitlines()[0] == (
        "Fallback  (read-only: no writable layer)"
    )
    assert describe(InMemoryStorage()) == "InMemoryStorage()"


def test_walk_and_find_fallback() -> None:
    inner = Fallback(InMemoryStorage(), ReadOnly(InMemoryStorage()))
    stack = Logging(Caching(inner))
    nodes = [node for _ancestors, node in walk(stack)]
    assert nodes[:3] == [stack, stack.__wrapped__, inner]
    assert len(nodes) == 6
    assert find_router(stack) is inner
    assert find_router(InMemoryStorage()) is None
