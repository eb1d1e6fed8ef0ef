"""The HTTP section's workloads: what a page does to production's media served
over HTTP, run alike on storage_mixins and on django-http-fallback-storage 1.6.

Production (nginx) publishes 200 files of 20 KB under ``photos/`` and one of
256 MiB; the local layer holds 20 files under ``uploads/``. This module
imports only Django, so the peer's worker (another environment) runs the very
same code.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

PRODUCTION_FILES = [f"photos/{index:03d}.jpg" for index in range(200)]
LOCAL_FILES = [f"uploads/{index:02d}.jpg" for index in range(20)]
FILE_SIZE = 20 * 1024
BIG = "videos/big.bin"
BIG_SIZE = 256 * 1024 * 1024
RENDITION = PRODUCTION_FILES[0]


def page_render(storage: Any) -> None:
    """url() of the 200 production files and the 20 local ones."""
    for name in PRODUCTION_FILES + LOCAL_FILES:
        storage.url(name)


def rendition(storage: Any) -> None:
    """What a thumbnailer does with one production file: exists, size, open, read."""
    assert storage.exists(RENDITION)
    assert storage.size(RENDITION) == FILE_SIZE
    with storage.open(RENDITION, "rb") as handle:
        assert len(handle.read()) == FILE_SIZE


def header(storage: Any) -> None:
    """Read the first 10 bytes of a 256 MiB file (a video's header)."""
    with storage.open(BIG, "rb") as handle:
        assert len(handle.read(10)) == 10


def existence(storage: Any) -> None:
    """exists() of the 200 production files."""
    for name in PRODUCTION_FILES:
        assert storage.exists(name)


WORKLOADS: dict[str, Callable[[Any], None]] = {
    "page render": page_render,
    "rendition": rendition,
    "header": header,
    "existence": existence,
}
