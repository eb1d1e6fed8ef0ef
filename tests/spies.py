"""Test doubles: storages that record or fail, independent of storage_mixins."""

from __future__ import annotations

from typing import Any

from django.core.files.storage import InMemoryStorage, Storage

RECORDED = (
    "open",
    "_open",
    "save",
    "_save",
    "delete",
    "exists",
    "listdir",
    "size",
    "url",
    "path",
    "get_accessed_time",
    "get_created_time",
    "get_modified_time",
    "get_available_name",
)


class RecordingStorage(InMemoryStorage):
    """An ``InMemoryStorage`` that records every storage API call it receives."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.calls: list[tuple[str, Any]] = []
        self._depth = 1  # construction is not a call
        super().__init__(*args, **kwargs)
        self._depth = 0

    def __getattribute__(self, attribute: str) -> Any:
        value = super().__getattribute__(attribute)
        if attribute not in RECORDED:
            return value

        def recorded(*args: Any, **kwargs: Any) -> Any:
            # Only calls from outside: InMemoryStorage calls its own methods.
            if self._depth == 0:
                self.calls.append((attribute, args[0] if args else kwargs.get("name")))
            self._depth += 1
            try:
                return value(*args, **kwargs)
            finally:
                self._depth -= 1

        return recorded

    def methods_called(self) -> list[str]:
        return [method for method, _name in self.calls]

    def put(self, name: str, data: bytes) -> None:
        """Store a file without recording it."""
        from django.core.files.base import ContentFile

        self._depth += 1
        try:
            InMemoryStorage._save(self, name, ContentFile(data))
        finally:
            self._depth -= 1


class ReadOnlyBackend(InMemoryStorage):
    """A backend that is read-only by construction, and says so (as
    ``HTTPStorage`` does): a ``refuses_writes = True`` class attribute."""

    refuses_writes = True


class FailingStorage(Storage):
    """Every call raises ``error``; for checking that errors keep their type."""

    def __init__(self, error: BaseException) -> None:
        self.error = error
        self.calls: list[str] = []

    def _fail(self, method: str) -> Any:
        self.calls.append(method)
        raise self.error

    def _open(self, name: str, mode: str = "rb") -> Any:
        return self._fail("_open")

    def _save(self, name: str, content: Any) -> Any:
        return self._fail("_save")

    def delete(self, name: str) -> None:
        self._fail("delete")

    def exists(self, name: str) -> bool:
        return self._fail("exists")

    def listdir(self, path: str) -> Any:
        return self._fail("listdir")

    def size(self, name: str) -> int:
        return self._fail("size")

    def url(self, name: str) -> str:
        return self._fail("url")

    def get_modified_time(self, name: str) -> Any:
        return self._fail("get_modified_time")


class MinimalStorage:
    """A duck-typed storage implementing only ``open`` and ``exists``."""

    def __init__(self, files: dict[str, bytes] | None = None) -> None:
        self.files = dict(files or {})

    def open(self, name: str, mode: str = "rb") -> Any:
        from django.core.files.base import ContentFile

        if name not in self.files:
            raise FileNotFoundError(name)
        return ContentFile(self.files[name], name=name)

    def exists(self, name: str) -> bool:
        return name in self.files
