"""File proxies: a file that refuses writes, and one that says when it is closed."""

from __future__ import annotations

from collections.abc import Callable
from types import TracebackType
from typing import TYPE_CHECKING, Any, NoReturn, Self

from django.core.files.base import File
from django.core.files.storage import Storage

from .errors import ReadOnlyError
from .modes import checked_mode, is_write_mode
from .proxy import Proxy

__all__ = ["ClosingReported", "FileProxy", "ReadOnlyFile"]

if TYPE_CHECKING:
    # A File to a type checker, as to isinstance(): what it does not change
    # is the wrapped file's own.
    class FileProxy(Proxy[File[Any]], File[Any]):
        def __exit__(
            self,
            exc_type: type[BaseException] | None,
            exc_value: BaseException | None,
            traceback: TracebackType | None,
        ) -> None: ...

else:
    FileProxy = Proxy


class ReadOnlyFile(FileProxy):
    """A file that reads, and refuses to write: what :class:`ReadOnly` returns.

    Django's ``File.open(mode)`` reopens a closed file from its path, so
    ``FieldFile.open("wb")`` after a read would otherwise write straight into
    the read-only storage. ``reason`` overrides the error's explanation.
    """

    def __init__(
        self, file: File[Any], storage: Storage, name: str, reason: str | None = None
    ) -> None:
        super().__init__(file)
        self._self_storage = storage
        self._self_storage_name = name  # as asked of the storage, for errors
        self._self_reason = reason

    def open(self, mode: str | None = None, *args: Any, **kwargs: Any) -> Self:
        """Reopen for reading; ``mode=None`` reopens in the mode it was opened
        with (``File.mode``, which anyone can set: it is checked too)."""
        reopened_in = mode if mode is not None else getattr(self.__wrapped__, "mode", None)
        if is_write_mode(reopened_in):
            self._refuse("open", f"mode {reopened_in!r} would write")
        if mode is not None and mode.__class__ is not str:
            mode = checked_mode(mode)
        self.__wrapped__.open(mode, *args, **kwargs)
        return self

    def write(self, *args: Any, **kwargs: Any) -> NoReturn:
        self._refuse("write")

    def writelines(self, *args: Any, **kwargs: Any) -> NoReturn:
        self._refuse("writelines")

    def truncate(self, *args: Any, **kwargs: Any) -> NoReturn:
        self._refuse("truncate")

    def _refuse(self, operation: str, detail: str | None = None) -> NoReturn:
        reason = self._self_reason or f"{self._self_storage!r} is read-only"
        if detail:
            reason = f"{detail}, and {reason}"
        raise ReadOnlyError(operation, self._self_storage_name, self._self_storage, reason)

    def __enter__(self) -> Self:
        self.__wrapped__.__enter__()
        return self

    def __exit__(self, *exc_info: Any) -> None:
        return self.__wrapped__.__exit__(*exc_info)

    def __iter__(self) -> Any:
        return iter(self.__wrapped__)

    def __repr__(self) -> str:
        return f"<ReadOnlyFile: {self.__wrapped__!r}>"


class ClosingReported(FileProxy):
    """A file opened for writing whose closing is reported to ``closed(name)``:
    closing may be the write itself (S3 uploads then), and a cache must
    forget what it knew of the name, whether closing worked or not."""

    def __init__(self, file: File[Any], name: str, closed: Callable[[str], None]) -> None:
        super().__init__(file)
        self._self_name = name
        self._self_closed = closed

    def close(self) -> None:
        try:
            self.__wrapped__.close()
        finally:
            self._self_closed(self._self_name)

    def __enter__(self) -> Self:
        self.__wrapped__.__enter__()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __iter__(self) -> Any:
        return iter(self.__wrapped__)
