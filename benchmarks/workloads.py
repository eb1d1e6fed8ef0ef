"""The workloads every stack is measured on, and the names they use.

S3 holds 200 objects of 20 KB under ``photos/``; the local layer holds 20
files under ``uploads/``. This module imports only Django, so the
django-fallback-storage worker (on Django 4.2) runs the very same code.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

S3_FILES = [f"photos/{index:03d}.jpg" for index in range(200)]
LOCAL_FILES = [f"uploads/{index:02d}.jpg" for index in range(20)]
MISSING = [f"photos/missing-{index:02d}.jpg" for index in range(50)]
FILE_SIZE = 20 * 1024


def page_render(storage: Any, run: int) -> None:
    for name in S3_FILES + LOCAL_FILES:
        storage.url(name)


def existence(storage: Any, run: int) -> None:
    for name in S3_FILES + LOCAL_FILES + MISSING:
        storage.exists(name)


def read(storage: Any, run: int) -> None:
    for name in S3_FILES[:50] + LOCAL_FILES:
        with storage.open(name, "rb") as handle:
            handle.read()


def listing(storage: Any, run: int) -> None:
    storage.listdir("photos")
    storage.listdir("uploads")


def metadata(storage: Any, run: int) -> None:
    for name in S3_FILES[:50]:
        storage.size(name)
        storage.get_modified_time(name)


def upload(storage: Any, run: int) -> None:
    from django.core.files.base import ContentFile

    for index in range(20):
        storage.save(f"uploads/new-{run}-{index:02d}.jpg", ContentFile(b"\xff" * FILE_SIZE))


WORKLOADS: dict[str, Callable[[Any, int], None]] = {
    "page render": page_render,
    "existence": existence,
    "read": read,
    "listing": listing,
    "metadata": metadata,
    "upload": upload,
}

DESCRIPTIONS = {
    "page render": "url() of the 220 names",
    "existence": "exists() of the 220 names and 50 missing names",
    "read": "open().read() of 50 S3 files and 20 local files",
    "listing": 'listdir("photos"), listdir("uploads")',
    "metadata": "size() and get_modified_time() of 50 S3 files",
    "upload": "save 20 new files",
}


class Floor:
    """The raw backends, asked only what each answer needs: the fewest requests.

    It knows where every file lives. A stack's answers also need, beyond
    that: a name missing everywhere is asked of both backends; a listing is
    the union of both; a new name must be free in both.
    """

    def __init__(self, local: Any, s3: Any) -> None:
        self.local, self.s3 = local, s3
        self.local_names = set(LOCAL_FILES)

    def _holder(self, name: str) -> Any:
        return self.local if name in self.local_names else self.s3

    def url(self, name: str) -> str:
        return self._holder(name).url(name)

    def exists(self, name: str) -> bool:
        if name in MISSING:
            return self.local.exists(name) or self.s3.exists(name)
        return self._holder(name).exists(name)

    def open(self, name: str, mode: str = "rb") -> Any:
        return self._holder(name).open(name, mode)

    def listdir(self, path: str) -> Any:
        directories, files = self.s3.listdir(path)  # S3 has no missing directories
        try:
            local_directories, local_files = self.local.listdir(path)
        except FileNotFoundError:
            return directories, files
        return directories + local_directories, files + local_files

    def size(self, name: str) -> int:
        return self._holder(name).size(name)

    def get_modified_time(self, name: str) -> Any:
        return self._holder(name).get_modified_time(name)

    def path(self, name: str) -> str:
        return self._holder(name).path(name)

    def save(self, name: str, content: Any) -> str:
        self.s3.exists(name)  # the name must be free in production too
        return self.local.save(name, content)
