"""Which rows of the database refer to a name, and the real size of the image
they record; and the size a thumbnailer writes into a name.

The database is asked, column by column, until a row gives the size:

* every model's ``FileField`` whose column holds the name
  (:func:`~storage_mixins.references.file_fields`); an ``ImageField`` with
  ``width_field`` and ``height_field`` gives the image's size (Wagtail's
  images and renditions are such fields), asked first;
* easy-thumbnails' thumbnails (``Thumbnail.name``, with the size its
  ``ThumbnailDimensions`` keep), where the app is installed;
* sorl-thumbnail's key-value store in the database (``thumbnail.KVStore``:
  the size sorl recorded of each image, sources and thumbnails), where the
  app is installed.

At most one query per column and name: answers (misses too) are kept in
memory, a bounded number of them, for ``timeout`` seconds. A size must be two
whole numbers over 0; anything else in a column (``NULL``, ``-1``, text in a
corrupt row) counts as no size.
"""

from __future__ import annotations

import json
import posixpath
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Protocol

from cachetools import TTLCache
from django.apps import apps
from django.conf import settings
from django.db import models

from ..references import FieldReference, file_fields

__all__ = ["Found", "Referrers", "size_in_name", "valid_size"]

# A thumbnailer's size in a name: easy-thumbnails' "a.jpg.100x100_q85_crop.jpg",
# Wagtail's "a.fill-100x100.jpg" and "a.max-165x165.jpg", or "banner-1200x400.png".
_WIDTH_X_HEIGHT = re.compile(r"(?<![0-9])([0-9]{1,6})x([0-9]{1,6})(?![0-9])")
# Wagtail's renditions of one side: "a.width-500.jpg", "a.height-300.jpg".
_ONE_SIDE = re.compile(r"(?<![A-Za-z])(width|height)-([0-9]{1,6})(?![0-9])")


@dataclass(frozen=True, slots=True)
class Found:
    """A row that refers to a name: where (``gallery.Poster.image``), and the
    size it records, if any."""

    source: str
    size: tuple[int, int] | None


class _Column(Protocol):
    def find(self, name: str) -> Found | None: ...


def valid_size(width: object, height: object) -> tuple[int, int] | None:
    """``(width, height)`` if both are whole numbers over 0, else ``None``."""
    for side in (width, height):
        if type(side) is not int or side <= 0:
            return None
    return width, height  # type: ignore[return-value]  # both checked above


def size_in_name(name: str, ratio: tuple[int, int]) -> tuple[int, int] | None:
    """The size a thumbnailer wrote into the base name of ``name`` (the last one
    in it), or ``None``; a side missing or 0 follows the aspect ``ratio``."""
    base = posixpath.basename(name)
    both = _WIDTH_X_HEIGHT.findall(base)
    if both:
        width, height = (int(side) for side in both[-1])
    else:
        one = _ONE_SIDE.findall(base)
        if not one:
            return None
        side, value = one[-1]
        width, height = (int(value), 0) if side == "width" else (0, int(value))
    if width and not height:
        height = max(1, round(width * ratio[1] / ratio[0]))
    elif height and not width:
        width = max(1, round(height * ratio[0] / ratio[1]))
    return valid_size(width, height)


class Referrers:
    """What the database says of names: :meth:`find` gives the first row that
    refers to a name, preferring one that records its size."""

    def __init__(self, *, timeout: float, maxsize: int = 10_000) -> None:
        self._found: TTLCache[str, Found | None] = TTLCache(maxsize=maxsize, ttl=timeout)
        self._lock = threading.Lock()
        self._columns: list[_Column] | None = None

    def find(self, name: str) -> Found | None:
        """The row that refers to ``name`` (with its size, if a row has one), or ``None``."""
        with self._lock:
            if name in self._found:
                return self._found[name]
        found = None
        for column in self.columns():
            here = column.find(name)
            if here is not None and (found is None or here.size is not None):
                found = here
                if here.size is not None:
                    break
        with self._lock:
            self._found[name] = found
        return found

    def forget(self) -> None:
        """Forget every answer: the next ones are asked of the database again."""
        with self._lock:
            self._found.clear()
            self._columns = None

    def columns(self) -> list[_Column]:
        columns = self._columns
        if columns is None:  # the models are known once the apps are ready
            columns = self._columns = list(_columns())
        return columns


def _columns() -> Iterator[_Column]:
    fields = file_fields()
    yield from (_FileFieldColumn(r) for r in fields if _dimension_fields(r.field))
    yield from (_FileFieldColumn(r) for r in fields if not _dimension_fields(r.field))
    if apps.is_installed("easy_thumbnails"):
        yield _EasyThumbnailsColumn()
    if apps.is_installed("sorl.thumbnail"):
        yield _SorlColumn()


def _dimension_fields(field: models.FileField) -> tuple[str, str] | None:
    width, height = getattr(field, "width_field", None), getattr(field, "height_field", None)
    return (width, height) if width and height else None


class _FileFieldColumn:
    """A model's ``FileField`` (an ``ImageField`` with its dimension fields)."""

    def __init__(self, reference: FieldReference) -> None:
        self.reference = reference
        self.dimensions = _dimension_fields(reference.field)

    def find(self, name: str) -> Found | None:
        reference = self.reference
        rows = reference.model._base_manager.filter(**{reference.field.name: name})
        if self.dimensions is None:
            return Found(reference.label, None) if rows.exists() else None
        row = rows.values_list(*self.dimensions)[:1]
        for width, height in row:
            return Found(reference.label, valid_size(width, height))
        return None


class _EasyThumbnailsColumn:
    """easy-thumbnails' record of the thumbnails it made, and their sizes."""

    def find(self, name: str) -> Found | None:
        thumbnail = apps.get_model("easy_thumbnails", "Thumbnail")
        rows = thumbnail.objects.filter(name=name)
        for width, height in rows.values_list("dimensions__width", "dimensions__height")[:1]:
            return Found("easy_thumbnails.Thumbnail", valid_size(width, height))
        return None


class _SorlColumn:
    """sorl-thumbnail's key-value store: a JSON value per image, with its size."""

    def find(self, name: str) -> Found | None:
        store = apps.get_model("thumbnail", "KVStore")
        prefix = getattr(settings, "THUMBNAIL_KEY_PREFIX", "sorl-thumbnail")
        values = store.objects.filter(
            key__startswith=f"{prefix}||image||", value__contains=f'"name": {json.dumps(name)}'
        ).values_list("value", flat=True)
        for value in values[:10]:  # LIKE may ignore case: the name must match exactly
            data = _json_object(value)
            if data.get("name") == name:
                size = data.get("size")
                if isinstance(size, list) and len(size) == 2:
                    return Found("sorl-thumbnail", valid_size(*size))
                return Found("sorl-thumbnail", None)
        return None


def _json_object(value: str) -> dict[str, Any]:
    try:
        data = json.loads(value)
    except ValueError:  # a corrupt row: it says nothing
        return {}
    return data if isinstance(data, dict) else {}
