"""The errors the wrappers raise of their own."""

from __future__ import annotations

__all__ = ["FileChangedError", "ReadOnlyError"]


class ReadOnlyError(PermissionError):
    """A write was refused because the storage that would receive it is read-only.

    Raised before any I/O reaches the storage. ``operation`` is the refused
    method (``"save"``, ``"delete"``, ``"open"``…), ``name`` the file name it
    was called with (``None`` where there is none) and ``storage`` the storage
    that refused.
    """

    # Named by its public path in tracebacks, task results and pickles,
    # wherever it is defined.
    __module__ = "storage_mixins"

    def __init__(
        self,
        operation: str,
        name: object,
        storage: object,
        reason: str | None = None,
    ) -> None:
        self.operation = operation
        self.name = name
        self.storage = storage
        self.reason = reason
        call = f"{operation}({name!r})" if name is not None else f"{operation}()"
        super().__init__(f"{call} refused: {reason or f'{storage!r} is read-only'}")

    def __reduce__(self) -> tuple[object, ...]:
        return (type(self), (self.operation, self.name, self.storage, self.reason))


class FileChangedError(OSError):
    """A file being read changed (or was deleted) in its storage meanwhile.

    Raised by a read of a file streamed from S3 that needs another request (a
    seek, a rewind) once the object is no longer the version the file started
    on: going on would mix the bytes of two versions. Open the file again to
    read the new version. ``name`` is the file's name.
    """

    __module__ = "storage_mixins"  # its public path, as ReadOnlyError's

    def __init__(self, name: str, detail: str) -> None:
        self.name = name
        self.detail = detail
        super().__init__(f"{name!r} changed in the storage while it was being read ({detail})")

    def __reduce__(self) -> tuple[object, ...]:
        return (type(self), (self.name, self.detail))
