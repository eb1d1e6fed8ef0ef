"""``Logging``: one log record per storage call, saying who answered, what, how fast.

Named after what it does, like the other wrappers; it imports the standard
library's ``logging`` under that name too (absolute imports keep them apart).
"""

from __future__ import annotations

import logging
import sys
import time
import traceback
from datetime import datetime
from typing import IO, Any, ClassVar, Literal, overload

from django.core.exceptions import SuspiciousOperation
from django.core.files.base import File
from django.core.files.storage import Storage

from ..backends.errors import is_not_found
from ..core.errors import ReadOnlyError
from ..core.hooks import is_probing
from ..core.labels import storage_label
from ..core.resolve import StorageSpec
from ..core.storage_api import OpenMethod, TextMethod, TimeMethod
from ..core.wrapper import StorageWrapper

__all__ = ["Logging"]

# Errors that are answers, not accidents: logged without a traceback.
_EXPECTED_ERRORS = (ReadOnlyError, SuspiciousOperation, NotImplementedError)


class Logging(StorageWrapper):
    """Log every call to ``storage``: one record, after the call, on ``logger``.

    A record reads ``exists('photos/a.jpg') -> True in 3.9 ms
    [S3Storage('production-media')]`` and carries ``storage_call``,
    ``storage_file``, ``storage_backend``, ``duration_ms`` and ``outcome``
    (``"ok"``, ``"missing"`` for a not-found answer or error, ``"error"``)
    for filters and formatters.

    Calls are logged at ``level`` (a number or a name); calls slower than
    ``slow`` seconds, and calls that raise, at ``WARNING``, with the error's
    type and message (and its traceback when it is unexpected). The error is
    then raised unchanged. A file a :class:`~storage_mixins.Fallback` does not
    find in one layer is an expected miss while it tries the next: logged at
    ``level``, not as a warning.

    Logged: ``open``, ``_open``, ``save``, ``_save``, ``delete``, ``exists``,
    ``listdir``, ``size``, ``url``, ``path``, ``get_accessed_time``,
    ``get_created_time``, ``get_modified_time`` and ``get_available_name``.
    Contents are never logged (``save`` logs the saved name and size), nor are
    query strings of URLs, which may carry signatures. When the logger is not
    enabled for ``level`` and ``slow`` is not set, a successful call costs a
    clock read and one ``isEnabledFor`` check.

    Logging never changes a call's outcome: a size that cannot be told (a
    stream from ``urlopen()`` or a pipe) is left out of the record, and a
    record that cannot be made is reported on stderr, as ``logging`` reports
    a failing handler, while the call returns or raises as it would have.
    """

    deconstruct_path = "storage_mixins.Logging"
    passes_reads_through: ClassVar[bool] = True
    # Tells a Fallback above to mark its layer-by-layer search (hooks.probing).
    wants_probe_context = True

    def __init__(
        self,
        storage: StorageSpec,
        *,
        logger: str | logging.Logger = "storage_mixins",
        level: int | str = logging.DEBUG,
        slow: float | None = None,
    ) -> None:
        super().__init__(storage)
        if not isinstance(logger, logging.Logger):
            logger = logging.getLogger(logger)
        self._self_log = _CallLog(self.__wrapped__, logger, _level_number(level), slow)

    def describe_node(self) -> tuple[str, list[tuple[str, Storage, str]]]:
        log = self._self_log
        options = [f"logger={log.logger.name!r}", f"level={logging.getLevelName(log.level)}"]
        if log.slow is not None:
            options.append(f"slow={log.slow:g} s")
        return f"Logging  ({', '.join(options)})", [("", self.__wrapped__, "")]

    # One method per call, so that each interception is explicit.

    def open(self, name: str, mode: str = "rb") -> File[Any]:
        return self._self_log.call("open", name, (mode,))

    def _open(self, name: str, mode: str = "rb") -> File[Any]:
        return self._self_log.call("_open", name, (mode,))

    def save(self, name: str | None, content: IO[Any], max_length: int | None = None) -> str:
        return self._self_log.call("save", name, (content,), {"max_length": max_length})

    def _save(self, name: str, content: File[Any]) -> str:
        return self._self_log.call("_save", name, (content,))

    def delete(self, name: str) -> None:
        return self._self_log.call("delete", name)

    def exists(self, name: str) -> bool:
        return self._self_log.call("exists", name)

    def listdir(self, path: str) -> tuple[list[str], list[str]]:
        return self._self_log.call("listdir", path)

    def size(self, name: str) -> int:
        return self._self_log.call("size", name)

    def url(self, name: str | None, *args: Any, **kwargs: Any) -> str:
        return self._self_log.call("url", name, args, kwargs)

    def path(self, name: str) -> str:
        return self._self_log.call("path", name)

    def get_accessed_time(self, name: str) -> datetime:
        return self._self_log.call("get_accessed_time", name)

    def get_created_time(self, name: str) -> datetime:
        return self._self_log.call("get_created_time", name)

    def get_modified_time(self, name: str) -> datetime:
        return self._self_log.call("get_modified_time", name)

    def get_available_name(self, name: str, max_length: int | None = None) -> str:
        return self._self_log.call("get_available_name", name, (), {"max_length": max_length})

    def _repr_arguments(self) -> list[str]:
        log = self._self_log
        arguments = [storage_label(self.__wrapped__)]
        if log.logger.name != "storage_mixins":
            arguments.append(f"logger={log.logger.name!r}")
        if log.level != logging.DEBUG:
            arguments.append(f"level={logging.getLevelName(log.level)!r}")
        if log.slow is not None:
            arguments.append(f"slow={log.slow!r}")
        return arguments


class _CallLog:
    """The one place a :class:`Logging` wrapper's calls go through, and what
    it needs, in one plain object: each attribute read on a proxy costs more
    than a dict lookup, and a call reads four."""

    __slots__ = ("backend_label", "level", "logger", "slow", "storage")

    def __init__(
        self, storage: Storage, logger: logging.Logger, level: int, slow: float | None
    ) -> None:
        self.storage = storage
        self.logger = logger
        self.level = level
        self.slow = slow
        self.backend_label: str | None = None

    # What each method answers, as Django's Storage declares it.
    @overload
    def call(
        self, method: OpenMethod, name: str, args: tuple[Any, ...] = ...,
        kwargs: dict[str, Any] | None = ...,
    ) -> File[Any]: ...  # fmt: skip
    @overload
    def call(
        self, method: TextMethod, name: str | None, args: tuple[Any, ...] = ...,
        kwargs: dict[str, Any] | None = ...,
    ) -> str: ...  # fmt: skip
    @overload
    def call(self, method: TimeMethod, name: str) -> datetime: ...
    @overload
    def call(self, method: Literal["exists"], name: str) -> bool: ...
    @overload
    def call(self, method: Literal["size"], name: str) -> int: ...
    @overload
    def call(self, method: Literal["listdir"], name: str) -> tuple[list[str], list[str]]: ...
    @overload
    def call(self, method: Literal["delete"], name: str) -> None: ...

    def call(
        self,
        method: str,
        name: object,
        args: tuple[Any, ...] = (),
        kwargs: dict[str, Any] | None = None,
    ) -> Any:
        start = time.perf_counter()
        try:
            if kwargs:
                result = getattr(self.storage, method)(name, *args, **kwargs)
            else:
                result = getattr(self.storage, method)(name, *args)
        except BaseException as exc:
            seconds = time.perf_counter() - start
            try:
                self._log_failure(method, name, args, exc, seconds)
            except Exception:  # noqa: BLE001 - see _record_failed
                _record_failed()
            raise
        if self.slow is not None or self.logger.isEnabledFor(self.level):
            try:
                self._log_result(method, name, args, result, time.perf_counter() - start)
            except Exception:  # noqa: BLE001 - see _record_failed
                _record_failed()
        return result

    def _log_result(
        self, method: str, name: object, args: tuple[Any, ...], result: Any, seconds: float
    ) -> None:
        slow = self.slow is not None and seconds > self.slow
        level = logging.WARNING if slow else self.level
        if not self.logger.isEnabledFor(level):
            return
        outcome = "missing" if method == "exists" and result is False else "ok"
        size = _size_of(args[0]) if method in ("save", "_save") else None
        answer = _describe_result(method, result, size)
        suffix = f" (slower than {self.slow:g} s)" if slow else ""
        self._emit(level, method, name, args, f"-> {answer}", seconds, outcome, suffix)

    def _log_failure(
        self, method: str, name: object, args: tuple[Any, ...], exc: BaseException, seconds: float
    ) -> None:
        missing = is_not_found(exc)
        # A miss in one layer while a Fallback tries the next is routine.
        level = self.level if missing and is_probing() else logging.WARNING
        if not self.logger.isEnabledFor(level):
            return
        unexpected = not missing and not isinstance(exc, _EXPECTED_ERRORS)
        self._emit(
            level,
            method,
            name,
            args,
            f"raised {type(exc).__name__}: {exc}",
            seconds,
            "missing" if missing else "error",
            "",
            exc_info=exc if unexpected else None,
        )

    def _emit(
        self, level: int, method: str, name: object, args: tuple[Any, ...], answer: str,
        seconds: float, outcome: str, suffix: str, exc_info: BaseException | None = None,
    ) -> None:  # fmt: skip
        backend = self._backend_label()
        shown = [repr(name)]
        if method in ("open", "_open"):
            shown.append(repr(args[0]))  # the mode
        milliseconds = seconds * 1000
        self.logger.log(
            level,
            "%s(%s) %s in %.1f ms [%s]%s",
            method,
            ", ".join(shown),
            answer,
            milliseconds,
            backend,
            suffix,
            exc_info=exc_info,
            extra={
                "storage_call": method,
                "storage_file": name,
                "storage_backend": backend,
                "duration_ms": milliseconds,
                "outcome": outcome,
            },
        )

    def _backend_label(self) -> str:
        if self.backend_label is None:
            self.backend_label = storage_label(self.storage)
        return self.backend_label


def _level_number(level: int | str) -> int:
    if isinstance(level, int):
        return level
    levels = logging.getLevelNamesMapping()
    if level.upper() not in levels:
        raise ValueError(f"Unknown logging level {level!r}; use one of {', '.join(levels)}")
    return levels[level.upper()]


def _record_failed() -> None:
    """Report a log record that could not be made, as ``logging`` reports a
    handler that fails: on stderr, and never to the caller, whose call has
    already happened and whose outcome a log must not change."""
    if logging.raiseExceptions:
        traceback.print_exc(file=sys.stderr)


def _size_of(content: Any) -> int | None:
    """The size of ``content`` for the log, or ``None`` when it cannot be told.

    Asked only when a record is made, after the call. ``File.size`` seeks, and
    a stream from ``urlopen()`` or a pipe raises ``UnsupportedOperation``
    (an ``OSError``); a custom file may raise anything: the log then shows no
    size, and the save is unaffected.
    """
    try:
        size = content.size
    except Exception:  # noqa: BLE001 - a log must never change a call's outcome
        return None
    return size if isinstance(size, int) else None


def _describe_result(method: str, result: Any, size: int | None) -> str:
    """A short description of a call's answer: never file contents."""
    if method in ("save", "_save"):
        return f"{result!r} ({size:,} bytes)" if size is not None else repr(result)
    if method in ("open", "_open"):
        return type(getattr(result, "__wrapped__", result)).__name__
    if method == "listdir":
        directories, files = result
        return f"{len(directories)} directories, {len(files)} files"
    if method == "url" and isinstance(result, str):
        base, separator, _query = result.partition("?")
        return repr(f"{base}?…" if separator else base)
    if method == "delete":
        return "done"
    if hasattr(result, "isoformat"):
        return str(result.isoformat())
    return repr(result)
