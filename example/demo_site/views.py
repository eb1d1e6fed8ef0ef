"""The demo's pages: a gallery of the files a development site's page shows
(production's, and the uploads made since; and the rows whose files are
nowhere, as placeholders), an upload form and delete buttons, with what each
request cost in storage calls and S3 requests, and its storage log lines."""

from __future__ import annotations

import logging
from urllib.parse import urlencode

from django.core.files.storage import storages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.views.decorators.http import require_POST
from sample_images import SAMPLES

from storage_mixins import Fallback, Placeholders, describe
from storage_mixins.observability.recording import record

from .models import Photo
from .request_log import records

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".gif", ".webp", ".svg")
_format = logging.Formatter("%(levelname)-7s %(name)s: %(message)s").format


def gallery(request: HttpRequest) -> HttpResponse:
    stack = storages["default"]
    entries = []
    # Inside the request's recording (StorageTimingMiddleware's): what the
    # page cost so far, which is all of its storage calls.
    with record() as recording:
        for name in _rows(stack):
            if not stack.exists(name):  # hidden by a delete
                continue
            entries.append(
                {
                    "name": name,
                    "url": stack.url(name),
                    "size": stack.size(name),
                    "local": stack.which(name) is stack.write_layer,
                    "image": name.lower().endswith(IMAGE_SUFFIXES),
                }
            )
        lost = [_lost(stack, photo) for photo in Photo.objects.order_by("pk")]
        cost = recording.summary()
    context = {
        "entries": entries,
        "lost": lost,
        "cost": cost,
        "notice": request.GET.get("notice", ""),
        "stack": describe(stack),
        "log": [_format(line) for line in records()],
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


def _lost(stack: Fallback, photo: Photo) -> dict[str, object]:
    """A row whose file no layer has: the placeholder layer draws it, at the
    size the row records (until the file is uploaded, or pulled)."""
    name = photo.image.name
    return {
        "name": name,
        "url": stack.url(name),
        "size": stack.size(name),
        "width": photo.width,
        "height": photo.height,
        "placeholder": isinstance(stack.which(name), Placeholders),
    }


def _rows(stack: Fallback) -> list[str]:
    """The names a page of a development site shows: those of the production
    database's rows (here, the sample images run.py put in the bucket), and
    those of the files uploaded since, which only the local disk has: listing
    it costs no request, as a query for the rows made since would not."""
    uploads = stack.write_layer.listdir("uploads")[1]
    return [*SAMPLES, *(f"uploads/{name}" for name in sorted(uploads))]


def _back(notice: str) -> HttpResponse:
    return HttpResponseRedirect("/?" + urlencode({"notice": notice}))
