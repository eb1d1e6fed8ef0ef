"""``StoragePanel``: the storage calls of a request, in django-debug-toolbar.

Install the extra (``pip install storage-mixins[debug-toolbar]``), add
``"storage_mixins"`` to ``INSTALLED_APPS`` (for the template) and the panel to
``DEBUG_TOOLBAR_PANELS``::

    DEBUG_TOOLBAR_PANELS = [..., "storage_mixins.panels.StoragePanel"]

The panel lists every recorded call (method, name, the layer that answered,
outcome, duration, backend requests) with totals, and draws each stack that
was called with :func:`~storage_mixins.describe`. What is recorded is
described in :mod:`storage_mixins.observability.recording`. It records per-call detail only
while it is enabled: a disabled panel costs nothing.
"""

from __future__ import annotations

from typing import Any

from debug_toolbar.panels import Panel
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from .core.labels import storage_label
from .observability.describe import describe
from .observability.recording import Recording, record

__all__ = ["StoragePanel"]


class StoragePanel(Panel):
    """django-debug-toolbar panel: what this request cost in storage."""

    title = _("Storage")
    template = "storage_mixins/panel.html"
    is_async = True

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._recorder: record | None = None
        self.recording: Recording | None = None

    def enable_instrumentation(self) -> None:
        if self._recorder is None:
            self._recorder = record(detail=True)
            self.recording = self._recorder.__enter__()

    def disable_instrumentation(self) -> None:
        if self._recorder is not None:
            recorder, self._recorder = self._recorder, None
            recorder.__exit__(None, None, None)

    @property
    def nav_subtitle(self) -> str:
        stats = self.get_stats()  # type: ignore[no-untyped-call]  # debug-toolbar: partly typed
        if not stats:
            return ""
        return f"{stats['summary']} in {stats['milliseconds']:.1f} ms"

    def generate_stats(self, request: Any, response: Any) -> None:
        recording = self.recording
        if recording is None:
            return
        aliases = _aliases()
        calls = [
            {
                "method": call.method,
                "name": "" if call.name is None else str(call.name),
                "storage": aliases.get(id(call.storage)) or storage_label(call.storage),
                "answered_by": call.answered_by(),
                "outcome": call.outcome,
                "error": call.error or "",
                "milliseconds": call.seconds * 1000,
                "requests": ", ".join(
                    f"{count} {kind}" for kind, count in sorted(call.requests.items())
                ),
            }
            for call in list(recording.calls)
        ]
        in_calls = sum(sum(call.requests.values()) for call in recording.calls)
        stacks = [
            {
                "name": aliases.get(key) or storage_label(storage),
                "alias": key in aliases,
                "tree": describe(storage),
            }
            for key, storage in recording.storages.items()
        ]
        outside = sum(recording.requests.values()) - in_calls
        self.record_stats(  # type: ignore[no-untyped-call]  # debug-toolbar: partly typed
            {
                "calls": calls,
                "summary": recording.summary(),
                "call_count": recording.call_count,
                "milliseconds": recording.milliseconds,
                "requests": dict(sorted(recording.requests.items())),
                "outside_calls": outside,
                "outside_calls_text": ngettext(
                    "%(count)d backend request was made outside the recorded calls "
                    "(e.g. reading a file that open() returned).",
                    "%(count)d backend requests were made outside the recorded calls "
                    "(e.g. reading files that open() returned).",
                    outside,
                )
                % {"count": outside},
                "stacks": stacks,
            }
        )


def _aliases() -> dict[int, str]:
    """The ``STORAGES`` alias of each storage Django has built, by ``id``."""
    from django.core.files.storage import storages

    return {id(storage): alias for alias, storage in getattr(storages, "_storages", {}).items()}
