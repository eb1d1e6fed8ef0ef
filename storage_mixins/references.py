"""The files a database refers to: every ``FileField``, and the names in its column.

Every installed model's ``FileField`` counts, ``ImageField`` and other
subclasses included, third-party apps' models too (Wagtail's images and
renditions, for example), each with the storage it reads its files from.
Names are streamed from the database, grouped so that each distinct name comes
once with the number of rows that refer to it; no model instance is built.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from django.apps import apps
from django.db import DEFAULT_DB_ALIAS, models
from django.utils.functional import LazyObject, empty

T = TypeVar("T")

__all__ = ["FieldReference", "batched", "file_fields", "referenced_names", "referring_rows"]


@dataclass(frozen=True)
class FieldReference:
    """One model's ``FileField``, with the storage its files are read from."""

    model: type[models.Model]
    field: models.FileField

    @property
    def label(self) -> str:
        """``app_label.Model.field``, as ``--field`` accepts it."""
        return f"{self.model._meta.label}.{self.field.name}"

    @property
    def storage(self) -> Any:
        storage = self.field.storage
        if isinstance(storage, LazyObject):  # default_storage: the storage behind it
            if storage._wrapped is empty:
                storage._setup()
            return storage._wrapped
        return storage


def file_fields(
    model_labels: Sequence[str] = (), field_labels: Sequence[str] = ()
) -> list[FieldReference]:
    """Every concrete model's file fields, optionally narrowed.

    ``model_labels`` are ``app_label.Model`` (case-insensitive); ``field_labels``
    are field names of those models, or ``app_label.Model.field``. Proxy models
    are left out (their concrete model's table is walked once). Raises
    ``LookupError`` for a model or field that is not there.
    """
    wanted_models = {_model(label) for label in model_labels}
    references = []
    for model in apps.get_models():
        if model._meta.proxy or (wanted_models and model not in wanted_models):
            continue
        for field in model._meta.concrete_fields:
            if isinstance(field, models.FileField):
                references.append(FieldReference(model, field))
    if not field_labels:
        return references
    chosen: list[FieldReference] = []
    for label in field_labels:
        matches = [r for r in references if label in (r.field.name, r.label)]
        if not matches:
            raise LookupError(f"No file field {label!r} in the models walked")
        chosen.extend(r for r in matches if r not in chosen)
    return chosen


def referenced_names(
    reference: FieldReference,
    *,
    limit: int | None = None,
    database: str = DEFAULT_DB_ALIAS,
    chunk_size: int = 2000,
) -> Iterator[tuple[str, int]]:
    """Each distinct non-empty name in the field's column, in name order, with the
    number of rows that refer to it; at most ``limit`` names.

    One query, grouped by name, streamed with ``.iterator()``. The model's base
    manager is used, so rows a custom default manager hides count too.
    """
    column = reference.field.name
    rows = (
        reference.model._base_manager.using(database)
        .exclude(**{f"{column}__isnull": True})
        .exclude(**{column: ""})
        .values_list(column)
        .annotate(rows=models.Count("*"))
        .order_by(column)
    )
    if limit is not None:
        rows = rows[:limit]
    for name, count in rows.iterator(chunk_size=chunk_size):
        yield str(name), int(count)


def referring_rows(
    reference: FieldReference,
    names: Sequence[str],
    *,
    database: str = DEFAULT_DB_ALIAS,
    per_name: int = 10,
) -> dict[str, list[Any]]:
    """The primary keys of the rows whose column holds each of ``names``: the
    first ``per_name`` of each, in key order (the rows to fix, for a name no
    layer serves)."""
    column = reference.field.name
    keys: dict[str, list[Any]] = {name: [] for name in names}
    for chunk in batched(names, 500):  # within SQLite's 999 parameters a query
        rows = (
            reference.model._base_manager.using(database)
            .filter(**{f"{column}__in": chunk})
            .values_list(column, "pk")
            .order_by(column, "pk")
        )
        for name, key in rows.iterator():
            if len(keys[name]) < per_name:
                keys[name].append(key)
    return keys


def _model(label: str) -> type[models.Model]:
    app_label, _, model_name = label.partition(".")
    try:
        return apps.get_model(app_label, model_name)
    except (LookupError, ValueError) as exc:
        raise LookupError(f"No model {label!r} (expected app_label.ModelName)") from exc


def batched(items: Iterable[T], size: int) -> Iterator[list[T]]:
    """``items`` in lists of ``size`` (the last may be shorter): Python 3.12's
    ``itertools.batched``, which Python 3.11, still supported, lacks."""
    batch: list[T] = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch
