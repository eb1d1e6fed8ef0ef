"""The demo's pages: a gallery of every file in the stack, an upload form and
delete buttons, with the storage log lines of each request."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode

from django.core.files.storage import storages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.views.decorators.http import require_POST

from storage_mixins import describe

from .request_log import records

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".gif", ".webp", ".svg")
_format = logging.Formatter("%(levelname)-7s %(name)s: %(message)s").format


def gallery(request: HttpRequest) -> HttpResponse:
    stack = storages["default"]
    entries = []
    for name in _files(stack):
        local = stack.which(name) is stack.write_layer
        entries.append(
            {
                "name": name,
                "url": stack.url(name),
                "size": stack.size(name),
                "local": local,
                "image": name.lower().endswith(IMAGE_SUFFIXES),
            }
        )
    context = {
        "entries": entries,
        "notice": request.GET.get("notice", ""),
        "stack": describe(stack),
        "log": [_format(record) for record in records()],
    }
    return render(request, "gallery.html", context)


@require_POST
def upload(request: HttpRequest) -> HttpResponse:
    stack = storages["default"]
    uploaded = request.FILES.get("file")
    if uploaded is None:
        return _back("Choose a file to upload first.")
    name = stack.save(f"uploads/{uploaded.name}", uploaded)
    return _back(f"Saved as {name} on the local disk. The production bucket was not touched.")


@require_POST
def delete(request: HttpRequest) -> HttpResponse:
    stack = storages["default"]
    name = request.POST.get("name", "")
    local = stack.which(name) is stack.write_layer
    stack.delete(name)
    if stack.exists(name):
        return _back(
            f"{name} is still here: it is in production, which is read-only. Delete "
            f"policy {stack.on_delete!r}: nothing was changed, and a warning was logged."
        )
    if local:
        return _back(f"Deleted {name} from the local disk.")
    return _back(
        f"Hidden {name}: delete policy {stack.on_delete!r} records a tombstone on the local "
        "disk, and the production copy is untouched. `manage.py storage_tombstones --clear` "
        "shows it again."
    )


def _files(storage: Any, path: str = "") -> Iterator[str]:
    directories, files = storage.listdir(path)
    for name in sorted(files):
        yield f"{path}/{name}" if path else name
    for directory in sorted(directories):
        yield from _files(storage, f"{path}/{directory}" if path else directory)


def _back(notice: str) -> HttpResponse:
    return HttpResponseRedirect("/?" + urlencode({"notice": notice}))
