"""Collects the storage log records of the current request, for the page to show."""

from __future__ import annotations

import contextvars
import logging
from collections.abc import Callable
from typing import Any

_lines: contextvars.ContextVar[list[logging.LogRecord] | None] = contextvars.ContextVar(
    "storage_log_lines", default=None
)


class _Collector(logging.Handler):
    def emit(self, record: logging.LogRecord) -> None:
        lines = _lines.get()
        if lines is not None:
            lines.append(record)


logging.getLogger("storage_mixins").addHandler(_Collector())


def records() -> list[logging.LogRecord]:
    """The records logged so far while handling this request."""
    return list(_lines.get() or [])


class StorageLogMiddleware:
    def __init__(self, get_response: Callable[[Any], Any]) -> None:
        self.get_response = get_response

    def __call__(self, request: Any) -> Any:
        token = _lines.set([])
        try:
            return self.get_response(request)
        finally:
            _lines.reset(token)
