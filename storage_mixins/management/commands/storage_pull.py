"""manage.py storage_pull: copy files from read-only layers into the write layer."""

from __future__ import annotations

import contextlib
import os
import signal
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import SuspiciousFileOperation
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import DEFAULT_DB_ALIAS

from storage_mixins.backends.listers import lister_for
from storage_mixins.backends.listing import Entry
from storage_mixins.backends.local_writes import LocalWriteGuard
from storage_mixins.core.labels import storage_label
from storage_mixins.core.names import file_name, validate_directory, validate_name
from storage_mixins.core.stack import find_router
from storage_mixins.references import batched, file_fields, referenced_names
from storage_mixins.services.lookup import Locator
from storage_mixins.services.transfers import (
    CONFLICT,
    COPIED,
    FAILED,
    PRESENT,
    WOULD_COPY,
    Transfer,
    Transfers,
    blocked_by_each_other,
)
from storage_mixins.wrappers.caching import Caching
from storage_mixins.wrappers.fallback import Fallback

from ._common import (
    add_storage_argument,
    caches_over,
    fallback_for,
    reports_backend_failures,
    storage_for,
)
from ._progress import Progress, human_bytes

INTERRUPTED = 130  # the exit status of a program stopped by Ctrl-C (128 + SIGINT)
BATCH = 5000  # referenced names looked up at a time
MISSING_SHOWN = 20  # referenced names in no layer listed, at verbosity 1


@dataclass
class _Plan:
    """What one pull into one write layer will do."""

    fallback: Fallback
    target: Any
    transfers: dict[str, Transfer] = field(default_factory=dict)
    caches: list[Caching] = field(default_factory=list)
    hidden: int = 0
    unsafe: list[tuple[str, str]] = field(default_factory=list)
    seen: set[str] = field(default_factory=set)  # referenced names planned (--referenced)
    missing: list[str] = field(default_factory=list)  # referenced, in no layer (--referenced)


class Command(BaseCommand):
    help = (
        "Copy files from the read-only layers of a stack into its write layer, so that "
        "a development machine can work offline: the files under each PREFIX, or with "
        "--referenced the files the database refers to. Copies run concurrently "
        "(--jobs), streamed and atomic; files already there with the same contents are "
        "skipped, so an interrupted pull can be run again; a local file that differs is "
        "a conflict, reported and left alone unless --force is given. Exits with an "
        "error if a file was not copied because of a conflict or a failure. Nothing is "
        "ever written to a read-only layer."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "prefixes",
            nargs="*",
            metavar="PREFIX",
            help="Directories (or file names) to copy, relative to the storage root; '' for all.",
        )
        add_storage_argument(parser)
        parser.set_defaults(storage=None)
        parser.add_argument(
            "--referenced",
            action="store_true",
            help="Copy the files the database's FileFields refer to, each through its "
            "field's own storage, instead of prefixes.",
        )
        parser.add_argument(
            "--model",
            action="append",
            default=[],
            metavar="APP_LABEL.MODEL",
            help="With --referenced: only this model's fields (repeatable).",
        )
        parser.add_argument(
            "--field",
            action="append",
            default=[],
            metavar="FIELD",
            help="With --referenced: only this field, as name or app_label.Model.field "
            "(repeatable).",
        )
        parser.add_argument(
            "--limit",
            type=int,
            metavar="N",
            help="With --referenced: at most N names a field, in name order.",
        )
        parser.add_argument(
            "--database",
            default=DEFAULT_DB_ALIAS,
            help="With --referenced: the database to read (default: %(default)s).",
        )
        parser.add_argument(
            "--jobs",
            type=int,
            default=8,
            metavar="N",
            help="Files to copy at once (default: %(default)s).",
        )
        parser.add_argument(
            "--force",
            action="store_true",
            help="Replace local files that differ from the read-only layers' copies.",
        )
        parser.add_argument(
            "--dry-run", action="store_true", help="List what would be copied; copy nothing."
        )

    @reports_backend_failures
    def handle(self, *args: Any, **options: Any) -> None:
        if options["jobs"] < 1:
            raise CommandError("--jobs must be at least 1")
        try:
            with _interrupts_as_keyboard_interrupt():
                plans = self._plans(options)
        except KeyboardInterrupt:
            raise CommandError(
                "Interrupted while listing; nothing was copied", returncode=INTERRUPTED
            ) from None
        problems = 0
        for plan in plans:
            problems += self._pull(plan, options)
        if problems:
            raise CommandError(
                f"{problems} file(s) not copied because of a conflict or a failure "
                "(listed above); the other files were copied"
            )

    # -- planning ------------------------------------------------------------

    def _plans(self, options: dict[str, Any]) -> list[_Plan]:
        if options["referenced"]:
            if options["prefixes"] or options["storage"] is not None:
                raise CommandError(
                    "--referenced copies what each FileField refers to through the field's "
                    "own storage: give no PREFIX nor --storage (narrow it with --model, "
                    "--field, --limit)"
                )
            return self._referenced_plans(options)
        if options["model"] or options["field"] or options["limit"] is not None:
            raise CommandError("--model, --field and --limit go with --referenced")
        if not options["prefixes"]:
            raise CommandError("Give at least one PREFIX ('' for everything), or --referenced")
        alias = options["storage"] or "default"
        stack = storage_for(alias)
        plan = _new_plan(fallback_for(alias, stack), stack)
        for prefix in options["prefixes"]:
            try:
                validate_directory(prefix)
            except SuspiciousFileOperation as exc:
                raise CommandError(f"{prefix!r}: {exc}") from exc
            self._plan_prefix(plan, prefix.strip("/"))
        return [plan]

    def _plan_prefix(self, plan: _Plan, prefix: str) -> None:
        """Every file under ``prefix`` in a source layer (the first that has it
        wins), from one walk of each source and of the target."""
        target_lister = lister_for(plan.target)
        present: dict[str, Entry | None] = {
            entry.name: entry for entry in target_lister.walk(prefix)
        }
        found: dict[str, tuple[Any, Entry]] = {}
        for source in _sources(plan.fallback):
            lister = lister_for(source)
            entries = list(lister.walk(prefix))
            if prefix and not entries:  # perhaps the name of a file
                entry = lister.find([prefix])[prefix]
                entries = [entry] if entry is not None else []
            for entry in entries:
                found.setdefault(entry.name, (source, entry))
        if prefix in found and prefix not in present:  # a file's name, not a directory's
            present[prefix] = target_lister.find([prefix])[prefix]
        for name, (source, entry) in found.items():
            self._add(plan, name, source, entry, present.get(name))

    def _referenced_plans(self, options: dict[str, Any]) -> list[_Plan]:
        try:
            references = file_fields(options["model"], options["field"])
        except LookupError as exc:
            raise CommandError(str(exc)) from exc
        plans: dict[int, _Plan] = {}
        for reference in references:
            storage = reference.storage
            fallback = find_router(storage)
            if fallback is None or fallback.write_layer is None:
                self.stderr.write(
                    f"{reference.label}: skipped, its storage {storage_label(storage)} is not "
                    "a stack with a write layer to copy into"
                )
                continue
            plan = plans.get(id(fallback.write_layer))
            if plan is None:
                plan = plans[id(fallback.write_layer)] = _new_plan(fallback, storage)
            else:
                plan.caches.extend(c for c in _caches(storage) if c not in plan.caches)
            locator = Locator(fallback)
            sources = {
                index for index, layer in enumerate(locator.layers) if layer is not plan.target
            }
            target_lister = lister_for(plan.target)
            names = referenced_names(
                reference, limit=options["limit"], database=options["database"]
            )
            for batch in batched((name for name, _rows in names), BATCH):
                # Each file once, by the one spelling the stack reads it by
                # ("docs//a.txt" and "./docs/a.txt" are "docs/a.txt").
                files = [file_name(name) for name in batch if self._is_safe(plan, name)]
                new = [name for name in dict.fromkeys(files) if name not in plan.seen]
                plan.seen.update(new)
                located = locator.locate(new, among=sources)
                present = target_lister.find(located)
                for name, where in located.items():
                    if locator.is_hidden(name):
                        plan.hidden += 1
                    elif where is not None:
                        self._add(plan, name, where.layer, where.entry, present.get(name))
                    elif present.get(name) is None:  # not even in the write layer
                        plan.missing.append(name)
        return list(plans.values())

    def _is_safe(self, plan: _Plan, name: str) -> bool:
        try:
            validate_name(name)
        except SuspiciousFileOperation as exc:
            plan.unsafe.append((name, str(exc)))
            return False
        return True

    def _add(self, plan: _Plan, name: str, source: Any, entry: Entry, present: Any) -> None:
        if name in plan.transfers or not self._is_safe(plan, name):
            return
        tombstones = plan.fallback.tombstones
        if tombstones is not None and name in tombstones:
            plan.hidden += 1  # deleted in development: the stack does not serve it
            return
        plan.transfers[name] = Transfer(name, source, entry, present)

    # -- pulling ---------------------------------------------------------------

    def _pull(self, plan: _Plan, options: dict[str, Any]) -> int:
        """Carry out ``plan``; return the number of files not copied because of a
        conflict or a failure."""
        verbosity = options["verbosity"]
        dry_run = options["dry_run"]
        names = sorted(plan.transfers)
        blocked = blocked_by_each_other(names, lambda name: _is_local_directory(plan.target, name))
        transfers = [
            Transfer(t.name, t.source, t.entry, t.present, blocked.get(t.name))
            for t in (plan.transfers[name] for name in names)
        ]
        for name, reason in plan.unsafe:
            self.stderr.write(self.style.WARNING(f"{name!r}: skipped, unsafe name ({reason})"))
        shown = plan.missing if verbosity >= 2 else plan.missing[:MISSING_SHOWN]
        for name in shown:
            self.stderr.write(self.style.WARNING(f"{name!r}: referenced, but in no layer"))
        if len(shown) < len(plan.missing):
            self.stderr.write(
                self.style.WARNING(
                    f"… and {len(plan.missing) - len(shown)} more referenced names in no layer "
                    "(--verbosity 2 lists them)"
                )
            )
        sizes = [t.entry.size for t in transfers]
        total_bytes = None if None in sizes else sum(s or 0 for s in sizes)
        progress = Progress(
            self.stdout,
            self.stderr,
            len(transfers),
            total_bytes,
            enabled=verbosity >= 1 and not dry_run,
        )
        guard = LocalWriteGuard.for_stack(plan.target, plan.fallback.layers)
        runner = Transfers(
            plan.target,
            jobs=options["jobs"],
            force=options["force"],
            dry_run=dry_run,
            on_bytes=progress.add_bytes,
            on_copied=lambda name: _invalidate(plan.caches, name),
            refuse=None if guard is None else lambda name: _refusal(guard, name),
        )
        started = time.perf_counter()
        problems = would_copy_bytes = 0
        try:
            with (
                _interrupts_as_keyboard_interrupt(),
                contextlib.closing(runner.run(transfers, tick=progress.tick)) as results,
            ):
                for result in results:
                    progress.file_done()
                    line = _describe(result)
                    if result.outcome in (CONFLICT, FAILED):
                        problems += 1
                        progress.write(line, self.stderr)
                    elif result.outcome == WOULD_COPY:
                        would_copy_bytes += result.size or 0
                        if verbosity >= 1:
                            progress.write(line, self.stdout)
                    elif verbosity >= 2:
                        progress.write(line, self.stdout)
        except KeyboardInterrupt:
            progress.close()
            counts = runner.counts
            raise CommandError(
                f"Interrupted: {counts[COPIED]} of {len(transfers)} file(s) copied "
                f"({runner.bytes_copied:,} bytes), {counts[PRESENT]} already present, "
                f"{counts[CONFLICT]} conflict(s), {counts[FAILED]} failed; no partial file "
                "is left behind. Run the same command again to resume.",
                returncode=INTERRUPTED,
            ) from None
        finally:
            progress.close()
        seconds = time.perf_counter() - started
        self._summary(plan, runner, seconds, would_copy_bytes if dry_run else None)
        return problems

    def _summary(
        self, plan: _Plan, runner: Transfers, seconds: float, would_copy_bytes: int | None
    ) -> None:
        counts = runner.counts
        dry_run = would_copy_bytes is not None
        copied = counts[WOULD_COPY] if dry_run else counts[COPIED]
        copied_bytes = runner.bytes_copied if would_copy_bytes is None else would_copy_bytes
        rate = f", {human_bytes(copied_bytes / seconds)}/s" if seconds and not dry_run else ""
        extras = []
        if plan.hidden:
            extras.append(f"{plan.hidden} hidden by a tombstone")
        if plan.unsafe:
            extras.append(f"{len(plan.unsafe)} unsafe name(s) skipped")
        if plan.missing:
            extras.append(
                f"{len(plan.missing)} referenced but in no layer (storage_audit lists their rows)"
            )
        verb = "Would copy" if dry_run else "Copied"
        line = (
            f"{verb} {copied} file(s), {copied_bytes:,} bytes; "
            f"{counts[PRESENT]} already present; {counts[CONFLICT]} conflict(s); "
            f"{counts[FAILED]} failed; "
            + "".join(f"{extra}; " for extra in extras)
            + f"into {storage_label(plan.target)} in {seconds:.1f} s{rate}"
        )
        fine = not (counts[CONFLICT] or counts[FAILED] or plan.missing)
        style = self.style.SUCCESS if fine else self.style.WARNING
        self.stdout.write(style(line))


def _new_plan(fallback: Fallback, stack: Any) -> _Plan:
    target = fallback.write_layer
    if target is None:
        raise CommandError(f"{fallback!r} has no writable layer to copy into")
    return _Plan(fallback, target, caches=_caches(stack))


def _sources(fallback: Fallback) -> list[Any]:
    return [layer for layer in fallback.layers if layer is not fallback.write_layer]


def _caches(stack: Any) -> list[Caching]:
    return caches_over(stack)  # every alias's caches over the same layers


def _invalidate(caches: list[Caching], name: str) -> None:
    for cache in caches:
        cache.invalidate(name)


def _refusal(guard: LocalWriteGuard, name: str) -> str | None:
    refusal = guard.refusal(name)
    return None if refusal is None else refusal[1]


def _is_local_directory(target: Any, name: str) -> bool:
    try:
        return os.path.isdir(target.path(name))
    except (NotImplementedError, AttributeError):
        return False


def _describe(result: Any) -> str:
    transfer = result.transfer
    size = f" ({result.size:,} bytes)" if result.size is not None else ""
    if result.outcome == COPIED:
        return f"{transfer.name}{size}: copied from {storage_label(transfer.source)}"
    if result.outcome == WOULD_COPY:
        return f"{transfer.name}{size}: would copy from {storage_label(transfer.source)}"
    if result.outcome == PRESENT:
        return f"{transfer.name}{size}: already present"
    if result.outcome == CONFLICT:
        return f"{transfer.name}{size}: conflict, not copied: {result.reason}"
    return f"{transfer.name}{size}: failed: {result.reason}"


@contextlib.contextmanager
def _interrupts_as_keyboard_interrupt() -> Iterator[None]:
    """Meanwhile, SIGTERM (and SIGHUP) stop the pull as Ctrl-C does: cleanly.

    Only the main thread can set signal handlers; elsewhere nothing changes.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    signals = [signal.SIGTERM] + ([signal.SIGHUP] if hasattr(signal, "SIGHUP") else [])
    previous = {signum: signal.signal(signum, interrupt) for signum in signals}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
