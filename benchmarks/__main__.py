"""``python -m benchmarks`` (``make bench``): every benchmark, one report.

Prints the tables, and writes them as JSON (``benchmarks/results.json``) and
as Markdown with a plot for the documentation (``docs/_generated/``). Targets
are printed as PASS/FAIL beside what they judge; the exit status is non-zero
if one fails. S3 is moto's server over HTTP on loopback, counting requests.
"""

from __future__ import annotations

import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks import (
    compare,
    hot_paths,
    http_layer,
    listings,
    memory,
    middleware,
    overhead,
    placeholders,
    pull,
    scaling,
    writes,
)
from benchmarks.harness import Table, s3_environment, setup_django
from benchmarks.workloads import DESCRIPTIONS, WORKLOADS

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results.json"
GENERATED = ROOT / "docs" / "_generated"

LOCAL_FIRST = ("Fallback(fs, ReadOnly(s3))", "FallbackStorage (settings)")


# What runs, in order: (section, what it measures), announced as it starts.
SECTIONS = (
    ("comparison", "every stack against the raw backends, workload by workload"),
    ("listings", "answers from listings, production first"),
    ("hot paths", "warm Caching.exists() and first-layer Fallback.exists()"),
    ("overhead", "the Python-level overhead of each wrapper, in 3 fresh processes"),
    ("writes", "uploads beside the floor, keys a save writes, 8 processes on one Redis"),
    ("middleware", "StorageTimingMiddleware, in a fresh process"),
    ("memory", "streaming 256 MiB"),
    ("scaling", "page renders of growing size"),
    ("pull", "storage_pull"),
    ("http", f"production over HTTP (nginx), beside {http_layer.PEER}"),
    ("placeholders", "a page of 200 images that are nowhere, in a fresh process"),
)


class Progress:
    """Says which section runs and how far the run is, on stderr, as it goes
    (the tables, on stdout, come at the end of each section; the whole run
    takes minutes)."""

    def __init__(self, sections: tuple[tuple[str, str], ...] = SECTIONS) -> None:
        self.sections = dict(sections)
        self.done = 0
        self.started = time.perf_counter()

    def begin(self, section: str) -> None:
        self.done += 1
        what = self.sections[section]
        self.say(f"[{self.done}/{len(self.sections)}] {section}: {what}")

    def say(self, line: str) -> None:
        minutes, seconds = divmod(int(time.perf_counter() - self.started), 60)
        print(f"bench {minutes}:{seconds:02d}  {line}", file=sys.stderr, flush=True)


def main() -> int:
    started = time.perf_counter()
    progress = Progress()
    progress.say("starting moto's S3 server, and seeding production's bucket")
    report: dict[str, Any] = {"python": platform.python_version(), "targets": []}
    with s3_environment() as s3, tempfile.TemporaryDirectory() as directory:
        root = Path(directory)
        compare.seed_s3(s3)
        setup_django(storages=_settings_storages(s3, root))

        progress.begin("comparison")
        columns = compare.columns(s3, root)
        legacy = compare.legacy_python()
        _measure(columns, s3, root, legacy, progress)
        report["comparison"] = _comparison(columns, report["targets"])
        progress.begin("listings")
        report["listings"] = _listings(s3, root, report["targets"])
        progress.begin("hot paths")
        report["hot paths"] = _hot_paths(report["targets"])
        progress.begin("overhead")
        report["overhead"] = _overhead(report["targets"])
        progress.begin("writes")
        report["writes"] = _writes(s3, root, report["targets"])
        progress.begin("middleware")
        report["middleware"] = _middleware()
        progress.begin("memory")
        report["memory"] = _memory(s3, report["targets"])
        progress.begin("scaling")
        report["scaling"] = _scaling(s3, report["targets"])
        progress.begin("pull")
        report["pull"] = _pull(s3, report["targets"])
        progress.begin("http")
        report["http"] = _http(report["targets"], progress)
        progress.begin("placeholders")
        report["placeholders"] = _placeholders(report["targets"])
        if not legacy:
            print("\n(django-fallback-storage not measured: `make bench` sets LEGACY_PYTHON)")

    print("Summary: S3 requests per run / time as a ratio to the floor\n")
    print(_summary_table(columns).render())
    failed = [target for target in report["targets"] if not target["passed"]]
    print(
        f"\nTargets: {len(report['targets']) - len(failed)} passed, {len(failed)} failed "
        f"({time.perf_counter() - started:.0f} s)"
    )
    _write(report, columns)
    return 1 if failed else 0


def _measure(
    columns: list[compare.Column], s3: Any, root: Path, legacy: str | None, progress: Progress
) -> None:
    """Measure each stack's column, saying which runs: the old package's takes
    minutes (a page render alone, about one), so it says each workload too."""
    workloads = len(WORKLOADS)
    for number, column in enumerate(columns, 1):
        count = f"stack {number}/{len(columns)}"
        if column.make is not None:
            progress.say(f"  {count}: {column.label}")
            compare.measure_in_process(
                column,
                s3,
                on_start=lambda name, started: progress.say(
                    f"    {name} ({started}/{workloads}): {compare.RUNS + 1} runs"
                ),
            )
        elif legacy:
            progress.say(
                f"  {count}: {column.label}, {workloads} workloads two at a time, "
                "in a Django 4.2 environment (minutes)"
            )
            compare.measure_legacy(
                column,
                s3,
                root,
                legacy,
                on_done=lambda name, done: progress.say(
                    f"    {name} measured ({done}/{workloads})"
                ),
            )


def _settings_storages(s3: Any, root: Path) -> dict[str, Any]:
    return {
        "media": {
            "BACKEND": "storage_mixins.FallbackStorage",
            "OPTIONS": {"backends": ["local", "production"]},
        },
        "local": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(compare.seeded_local_dir(root)), "base_url": "/media/"},
        },
        "production": {
            "BACKEND": "storages.backends.s3.S3Storage",
            "OPTIONS": s3.storage_options(),
        },
        **listings.settings_storages(),
    }


def _target(targets: list[dict[str, Any]], what: str, passed: bool) -> str:
    targets.append({"target": what, "passed": passed})
    return "PASS" if passed else "FAIL"


def _comparison(columns: list[compare.Column], targets: list[dict[str, Any]]) -> dict[str, Any]:
    floor = columns[0]
    print(
        "S3 requests per run, and wall time as a ratio to the floor (median of "
        f"{compare.RUNS} runs after a warm-up)\n"
    )
    for workload in WORKLOADS:
        table = Table(["stack", "S3 requests", "time", "× floor", "target"])
        base = floor.cells[workload]
        for column in columns:
            cell = column.cells.get(workload)
            if cell is None:
                table.add(column.label, "not measured", "", "", "")
                continue
            if cell.error:
                table.add(column.label, f"error: {cell.error[:60]}", "", "", "")
                continue
            target = _cell_target(column.label, workload, cell, base, targets)
            table.add(
                column.label,
                _requests(cell.requests),
                f"{cell.seconds * 1000:.0f} ms",
                f"{cell.seconds / base.seconds:.2f}",
                target,
            )
        print(f"{workload}: {DESCRIPTIONS[workload]}\n{table.render()}\n")
    return {
        column.label: {
            workload: {"requests": cell.requests, "seconds": cell.seconds, "error": cell.error}
            for workload, cell in column.cells.items()
        }
        for column in columns
    }


def _cell_target(
    label: str,
    workload: str,
    cell: compare.Cell,
    floor: compare.Cell,
    targets: list[dict[str, Any]],
) -> str:
    if label in LOCAL_FIRST:
        if workload == "page render" and label.startswith("Fallback("):
            return "0: " + _target(targets, f"{label} {workload}: 0 S3 requests", cell.total == 0)
        what = f"{label} {workload}: ≤ floor ({floor.total})"
        return f"≤ {floor.total}: " + _target(targets, what, cell.total <= floor.total)
    if label.endswith(" warm") and workload in ("page render", "existence", "metadata"):
        return "0: " + _target(targets, f"{label} {workload}: 0 S3 requests", cell.total == 0)
    if label.startswith("Fallback(ReadOnly(s3)"):
        return "(S3 asked first, by design)"
    return ""


def _requests(requests: dict[str, int]) -> str:
    total = sum(requests.values())
    methods = " ".join(f"{method} {count}" for method, count in sorted(requests.items()))
    return f"{total} ({methods})" if total else "0"


def _listings(s3: Any, root: Path, targets: list[dict[str, Any]]) -> dict[str, Any]:
    results = listings.measure(s3, root)
    return listings.report(results, lambda what, passed: _target(targets, what, passed), Table)


def _hot_paths(targets: list[dict[str, Any]]) -> list[dict[str, Any]]:
    runs = hot_paths.measure_runs()
    return hot_paths.report(runs, lambda what, passed: _target(targets, what, passed), Table)


def _writes(s3: Any, root: Path, targets: list[dict[str, Any]]) -> dict[str, Any]:
    columns = writes.measure_uploads(s3, root)
    keys = writes.keys_a_save_writes(s3, root)
    fleet = writes.measure_fleet(s3, root)
    return writes.report(columns, keys, fleet, lambda w, p: _target(targets, w, p), Table)


def _overhead(targets: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """The overhead table of each of 3 fresh processes: a target passes only
    if it passes in all three."""
    return [_overhead_once(targets, run) for run in range(1, 4)]


def _overhead_once(targets: list[dict[str, Any]], run: int) -> list[dict[str, Any]]:
    rows = overhead.measure_in_fresh_process()
    table = Table(["operation", "stack", "µs per call", "× raw", "Python-level × raw", "target"])
    for row in rows:
        for label, microseconds in row["microseconds"].items():
            extra = row["required_extra_microseconds"][label]
            python_level = row["python_level_ratios"][label]
            limit = overhead.TARGETS.get(label)
            verdict = ""
            if limit is not None:
                what = f"{row['operation']} through {label}: Python-level ≤ {limit}× raw ({run}/3)"
                verdict = f"≤ {limit}: " + _target(targets, what, python_level <= limit)
            table.add(
                row["operation"],
                label,
                f"{microseconds:.1f}" + (f" (of which {extra:.1f} needed)" if extra else ""),
                f"{row['ratios'][label]:.2f}",
                f"{python_level:.2f}",
                verdict,
            )
    print(
        f"Python-level overhead on a file in the first layer (logger disabled), process {run}/3. "
        "'needed': what a\nsave must do beyond the raw storage's (the second layer's "
        "exists(), the symlink check's lstat()s,\nthe cache's invalidation), as its floor "
        "(a save by hand that makes those calls) takes.\n"
        f"{table.render()}\n"
    )
    return rows


def _middleware() -> dict[str, Any]:
    results = middleware.measure_in_fresh_process()
    table = Table(["measured", "without", "with", "× without"])
    requests = results["request_microseconds"]
    table.add(
        f"request rendering {results['files']} files ({results['calls_per_request']} calls)",
        f"{requests['without']:.0f} µs",
        f"{requests['with']:.0f} µs (middleware)",
        f"{results['request_ratio']:.2f}",
    )
    calls = results["call_microseconds"]
    table.add(
        "warm Caching exists()",
        f"{calls['not recorded']:.1f} µs",
        f"{calls['recorded']:.1f} µs (recorded)",
        f"{calls['recorded'] / calls['not recorded']:.2f}",
    )
    print(
        "StorageTimingMiddleware: a request with it on, and a call while a request is "
        f"recorded\n{table.render()}\n"
    )
    return results


def _memory(s3: Any, targets: list[dict[str, Any]]) -> dict[str, float] | None:
    results = memory.measure(s3)
    if results is None:
        print("Memory: not measured (needs Linux's /proc)\n")
        return None
    table = Table(["streaming 256 MiB through", "peak RSS growth", "target"])
    table.add("S3Storage", f"{results['raw']:.0f} MiB", "")
    what = "stack ≤ raw S3Storage + 16 MiB"
    verdict = _target(targets, what, results["stack"] <= results["raw"] + 16)
    table.add("Fallback(fs, ReadOnly(s3))", f"{results['stack']:.0f} MiB", f"≤ raw + 16: {verdict}")
    table.add("Caching(..., contents=...)", f"{results['cached']:.0f} MiB", "")
    print(f"Memory\n{table.render()}\n")
    return results


def _scaling(s3: Any, targets: list[dict[str, Any]]) -> list[dict[str, Any]]:
    rows = scaling.measure(s3)
    table = Table(["page render of", "stack", "S3 requests", "time", "per file", "target"])
    by_stack: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        by_stack.setdefault(row["stack"], []).append(row)
    for label, series in by_stack.items():
        smallest = series[0]
        for row in series:
            grows = row["seconds"] / smallest["seconds"]
            linear = grows <= 2 * row["files"] / smallest["files"]
            scale = row["files"] / smallest["files"]
            requests_linear = row["requests"] <= smallest["requests"] * scale
            verdict = ""
            if row is not smallest:
                what = f"{label}: {row['files']} files linear in time and requests"
                verdict = _target(targets, what, linear and requests_linear)
            table.add(
                f"{row['files']:,} files",
                label,
                row["requests"],
                f"{row['seconds'] * 1000:.0f} ms",
                f"{row['seconds'] / row['files'] * 1e6:.1f} µs",
                verdict,
            )
    print(f"Scaling (linear: at most twice the proportional time)\n{table.render()}\n")
    return rows


def _placeholders(targets: list[dict[str, Any]]) -> dict[str, Any]:
    results = placeholders.measure_in_fresh_process()
    table = Table(["render", "S3 requests", "queries", "placeholders", "time", "target"])
    files = results["files"]
    limits = {"cold": files, "warm": 0}  # one query a name, then none
    for run, limit in limits.items():
        cell = results[run]
        passed = cell["queries"] <= limit and (run == "cold" or cell["s3_requests"] == 0)
        what = f"placeholders, {run}: at most {limit} queries" + (
            ", no S3 request" if run == "warm" else ""
        )
        table.add(
            run,
            cell["s3_requests"],
            cell["queries"],
            cell["placeholders"],
            f"{cell['seconds'] * 1000:.0f} ms",
            _target(targets, what, passed),
        )
    print(
        f"A page of {files} images that are nowhere (url, exists, size of each, "
        f"{results['read']} read), placeholders last in the recommended stack\n"
        f"{table.render()}\n"
    )
    return results


def _pull(s3: Any, targets: list[dict[str, Any]]) -> dict[str, Any]:
    results = pull.measure(s3)
    pull.report(results, lambda what, passed: _target(targets, what, passed), Table)
    return results


def _http(targets: list[dict[str, Any]], progress: Progress) -> dict[str, Any] | None:
    peer = os.environ.get("HTTP_PEER_PYTHON")
    peer = peer if peer and Path(peer).exists() else None
    results = http_layer.measure(peer, progress.say)
    if results is None:
        print("HTTP: not measured (nginx is not installed: apt-get install nginx)\n")
        return None
    http_layer.report(results, lambda what, passed: _target(targets, what, passed), Table)
    if peer is None:
        print(f"({http_layer.PEER} not measured: `make bench` sets HTTP_PEER_PYTHON)\n")
    return http_layer.as_json(results)


def _write(report: dict[str, Any], columns: list[compare.Column]) -> None:
    RESULTS.write_text(json.dumps(report, indent=2, default=str) + "\n")
    GENERATED.mkdir(parents=True, exist_ok=True)
    (GENERATED / "benchmarks.md").write_text(_markdown(report, columns))
    _plot(columns, GENERATED / "benchmark-requests.png")
    print(f"Wrote {RESULTS.relative_to(ROOT)}, docs/_generated/benchmarks.md and the plot")


def _cells(column: compare.Column, floor: compare.Column) -> list[str]:
    cells = []
    for workload in WORKLOADS:
        cell = column.cells.get(workload)
        if cell is None:
            cells.append("not measured")
        elif cell.error:
            cells.append(f"error: {cell.error.split(':')[0]}")
        else:
            cells.append(f"{cell.total} / {cell.seconds / floor.cells[workload].seconds:.2f}×")
    return cells


def _summary_table(columns: list[compare.Column]) -> Table:
    table = Table(["stack", *WORKLOADS])
    for column in columns:
        table.add(column.label, *_cells(column, columns[0]))
    return table


def _markdown(report: dict[str, Any], columns: list[compare.Column]) -> str:
    lines = [
        f"S3 requests per run / wall time as a ratio to the floor (median of {compare.RUNS} "
        f"runs after a warm-up; for django-fallback-storage, whose page render alone takes "
        f"about a minute, one run, two workloads at a time), Python {report['python']}.",
        "",
        "| stack | " + " | ".join(WORKLOADS) + " |",
        "|---|" + "---|" * len(WORKLOADS),
    ]
    for column in columns:
        lines.append(f"| {column.label} | " + " | ".join(_cells(column, columns[0])) + " |")
    lines += ["", *_listings_markdown(report["listings"])]
    lines += ["", *_placeholders_markdown(report["placeholders"])]
    lines += ["", "| target | result |", "|---|---|"]
    lines += [f"| {t['target']} | {'PASS' if t['passed'] else 'FAIL'} |" for t in report["targets"]]
    return "\n".join(lines) + "\n"


def _placeholders_markdown(results: dict[str, Any]) -> list[str]:
    """A page of images that are nowhere: S3 requests, queries, time, cold and warm."""
    lines = [
        f"A page of {results['files']} images that are nowhere, placeholders last "
        "(benchmarks/placeholders.py).",
        "",
        "| render | S3 requests | queries | time |",
        "|---|---|---|---|",
    ]
    for run in ("cold", "warm"):
        cell = results[run]
        lines.append(
            f"| {run} | {cell['s3_requests']} | {cell['queries']} | "
            f"{cell['seconds'] * 1000:.0f} ms |"
        )
    return lines


def _listings_markdown(results: dict[str, Any]) -> list[str]:
    """Answers from listings: S3 requests / time in ms, per stack and workload."""
    stacks = results["workloads"]
    workloads = list(listings.WORKLOADS)
    lines = [
        "Answers from listings, production first: S3 requests per run / wall time.",
        "",
        "| stack | " + " | ".join(workloads) + " |",
        "|---|" + "---|" * len(workloads),
    ]
    for label, cells in stacks.items():
        row = [
            f"{sum(cells[w]['requests'].values())} / {cells[w]['seconds'] * 1000:.0f} ms"
            for w in workloads
        ]
        lines.append(f"| {label} | " + " | ".join(row) + " |")
    return lines


def _plot(columns: list[compare.Column], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    shown = [c for c in columns if c.cells and not c.label.startswith("Caching(Fallback(ReadOnly")]
    workloads = list(WORKLOADS)
    figure, axes = plt.subplots(figsize=(11, 5))
    width = 0.8 / len(shown)
    for index, column in enumerate(shown):
        totals = [
            column.cells[w].total if w in column.cells and not column.cells[w].error else 0
            for w in workloads
        ]
        positions = [x + index * width for x in range(len(workloads))]
        axes.bar(positions, totals, width, label=column.label)
    axes.set_xticks([x + 0.4 - width / 2 for x in range(len(workloads))], workloads)
    axes.set_ylabel("S3 requests per run")
    axes.set_title("S3 requests per workload: django-fallback-storage 1.1.1 vs storage_mixins")
    axes.legend(fontsize="small")
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


if __name__ == "__main__":
    sys.exit(main())
