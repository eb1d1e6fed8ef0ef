"""manage.py storage_audit: which layer serves each file the database refers to."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import SuspiciousFileOperation
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.core.serializers.json import DjangoJSONEncoder
from django.db import DEFAULT_DB_ALIAS

from storage_mixins.core.labels import storage_label
from storage_mixins.core.names import validate_name
from storage_mixins.references import (
    FieldReference,
    batched,
    file_fields,
    referenced_names,
    referring_rows,
)
from storage_mixins.services.lookup import Locator

from ._common import reports_backend_failures

BATCH = 5000  # names looked up at a time


@dataclass
class FieldAudit:
    """What one field's column refers to, and where each distinct name is served from."""

    reference: FieldReference
    storage: str
    rows: int = 0
    names: int = 0
    layers: Counter[str] = field(default_factory=Counter)  # layer label → names it serves
    broken: list[dict[str, Any]] = field(default_factory=list)  # name, rows, why, ids
    served: dict[str, str] = field(default_factory=dict)  # name → layer (verbosity 2)

    def as_json(self) -> dict[str, Any]:
        data = {
            "model": self.reference.model._meta.label,
            "field": self.reference.field.name,
            "storage": self.storage,
            "rows": self.rows,
            "names": self.names,
            "layers": dict(self.layers),
            "broken": self.broken,
        }
        if self.served:
            data["served"] = self.served
        return data


class Command(BaseCommand):
    help = (
        "For every file the database refers to (every model's FileField and ImageField, "
        "each with its own storage), say which layer of its storage serves it, or that "
        "no layer has it: a broken reference. Counts per model and field and per layer. "
        "Reads only; exits with an error if a reference is broken."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--model",
            action="append",
            default=[],
            metavar="APP_LABEL.MODEL",
            help="Only this model's fields (repeatable).",
        )
        parser.add_argument(
            "--field",
            action="append",
            default=[],
            metavar="FIELD",
            help="Only this field, as name or app_label.Model.field (repeatable).",
        )
        parser.add_argument(
            "--limit", type=int, metavar="N", help="At most N names a field, in name order."
        )
        parser.add_argument(
            "--format",
            choices=("text", "json"),
            default="text",
            help="text (default) or json, for machines.",
        )
        parser.add_argument(
            "--database",
            default=DEFAULT_DB_ALIAS,
            help="The database to read (default: %(default)s).",
        )

    @reports_backend_failures
    def handle(self, *args: Any, **options: Any) -> None:
        try:
            references = file_fields(options["model"], options["field"])
        except LookupError as exc:
            raise CommandError(str(exc)) from exc
        verbosity = options["verbosity"]
        locators: dict[int, Locator] = {}
        audits = []
        for reference in references:
            storage = reference.storage
            locator = locators.get(id(storage))
            if locator is None:
                locator = locators[id(storage)] = Locator(storage)
            audit = _audit(
                reference, locator, options["limit"], options["database"], keep=verbosity >= 2
            )
            audits.append(audit)
            if options["format"] == "text":
                self._write_field(audit, verbosity)
        totals: Counter[str] = Counter()
        for audit in audits:
            totals.update(audit.layers)
        broken = sum(len(audit.broken) for audit in audits)
        broken_rows = sum(entry["rows"] for audit in audits for entry in audit.broken)
        if options["format"] == "json":
            report = {
                "fields": [audit.as_json() for audit in audits],
                "layers": dict(totals),
                "broken": broken,
                "broken_rows": broken_rows,
            }
            self.stdout.write(json.dumps(report, indent=2, cls=DjangoJSONEncoder))
        else:
            self._write_totals(audits, totals, broken, broken_rows)
        if broken:
            raise CommandError(
                f"{broken} broken reference(s): name(s) no layer serves, in {broken_rows} row(s)"
            )

    def _write_field(self, audit: FieldAudit, verbosity: int) -> None:
        self.stdout.write(self.style.MIGRATE_HEADING(f"{audit.reference.label}  {audit.storage}"))
        self.stdout.write(f"  {audit.rows:,} row(s), {audit.names:,} distinct name(s)")
        for layer, count in audit.layers.items():
            self.stdout.write(f"  {count:>8,}  {layer}")
        if audit.broken:
            self.stdout.write(self.style.ERROR(f"  {len(audit.broken):>8,}  broken"))
        pk = audit.reference.model._meta.pk.name
        for entry in audit.broken:
            ids = ", ".join(map(str, entry["ids"])) + (
                ", …" if entry["rows"] > len(entry["ids"]) else ""
            )
            self.stdout.write(
                self.style.WARNING(
                    f"    {entry['name']}: {entry['why']} ({entry['rows']} row(s): {pk} {ids})"
                )
            )
        if verbosity >= 2:
            for name, layer in audit.served.items():
                self.stdout.write(f"    {name}: {layer}")

    def _write_totals(
        self, audits: list[FieldAudit], totals: Counter[str], broken: int, broken_rows: int
    ) -> None:
        self.stdout.write(self.style.MIGRATE_HEADING("Names served, by layer (all fields)"))
        for layer, count in totals.items():
            self.stdout.write(f"  {count:>8,}  {layer}")
        fields = len(audits)
        if broken:
            self.stdout.write(
                self.style.ERROR(
                    f"{broken:,} broken reference(s) in {broken_rows:,} row(s), {fields} field(s)"
                )
            )
        else:
            self.stdout.write(self.style.SUCCESS(f"No broken reference in {fields} field(s)"))


def _audit(
    reference: FieldReference, locator: Locator, limit: int | None, database: str, *, keep: bool
) -> FieldAudit:
    """Stream the field's names in batches, and locate each batch in every layer."""
    labels = [f"[{index}] {storage_label(layer)}" for index, layer in enumerate(locator.layers)]
    if locator.fallback is None:
        labels = [storage_label(locator.storage)]
    audit = FieldAudit(reference, storage_label(reference.storage))
    names = referenced_names(reference, limit=limit, database=database)
    for batch in batched(names, BATCH):
        broken = len(audit.broken)
        audit.names += len(batch)
        audit.rows += sum(rows for _name, rows in batch)
        safe = []
        for name, rows in batch:
            try:
                validate_name(name)
            except SuspiciousFileOperation as exc:
                audit.broken.append({"name": name, "rows": rows, "why": f"unsafe name: {exc}"})
                continue
            safe.append((name, rows))
        located = locator.locate(name for name, _rows in safe)
        for name, rows in safe:
            where = located[name]
            if where is None:
                why = "hidden by a tombstone" if locator.is_hidden(name) else "in no layer"
                audit.broken.append({"name": name, "rows": rows, "why": why})
                continue
            audit.layers[labels[where.index]] += 1
            if keep:
                audit.served[name] = labels[where.index]
        # The rows to fix: the keys of the rows that refer to this batch's broken names.
        entries = audit.broken[broken:]
        keys = referring_rows(reference, [entry["name"] for entry in entries], database=database)
        for entry in entries:
            entry["ids"] = keys[entry["name"]]
    return audit
