"""The view that serves placeholders over HTTP, so that ``<img src>`` shows
them without any thumbnailer: ``storage_mixins.placeholders.urls`` routes it.

It serves what the placeholder layer of the stack ``storage`` (an alias in
``STORAGES``, ``"default"`` unless the URLconf passes another) makes up for
the name, and nothing else: never a real layer's file.
"""

from __future__ import annotations

from django.core.exceptions import SuspiciousFileOperation
from django.core.files.storage import storages
from django.http import Http404, HttpRequest, HttpResponse

from ..core.names import UnusualName, file_name
from ..core.stack import invents_files, leaves
from .kinds import kind_of

__all__ = ["serve"]


def serve(request: HttpRequest, name: str, storage: str = "default") -> HttpResponse:
    """The placeholder of ``name`` in the stack ``storage``; 404 if it makes none up."""
    layer = next((leaf for leaf in leaves(storages[storage]) if invents_files(leaf)), None)
    if layer is None:
        raise Http404(f"STORAGES[{storage!r}] has no placeholder layer")
    try:
        name = file_name(name)
        with layer.open(name, "rb") as placeholder:
            content = placeholder.read()
    except (UnusualName, SuspiciousFileOperation, FileNotFoundError) as exc:
        raise Http404(f"No placeholder for {name!r}") from exc
    kind = kind_of(name, pdf=True, text=True)
    response = HttpResponse(content, content_type=kind.content_type if kind else None)
    response["Cache-Control"] = "no-cache"  # the real file may come, at another URL
    return response
