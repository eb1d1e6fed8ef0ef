"""``python -m tests.django_suite``: see the package's docstring."""

from __future__ import annotations

import argparse
import fnmatch
import json
import os
import re
import subprocess
import sys
import tarfile
import tempfile
import time
import tomllib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import django

from tests.django_suite.shim import WRAPPERS

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
ALLOWLIST = HERE / "allowlist.toml"
DIFFERENCES_PAGE = ROOT / "docs" / "differences.rst"

# Django's test packages (and modules) that build file system storages.
LABELS = [
    "file_storage",
    "file_uploads",
    "model_fields.test_filefield",
    "model_fields.test_imagefield",
    "staticfiles_tests",
    "files",
    "model_forms",
    "admin_widgets",
]
BASELINE = "baseline"
PASSED = frozenset({"passed", "expected-failure"})
# A whole run of the labels takes ~10 s on this project's CI machine.
RUN_TIMEOUT = 600


# -- Django's tests, fetched once -------------------------------------------


def cache_directory() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "storage-mixins"


def django_tests(version: str) -> Path:
    """The ``tests/`` directory of Django ``version``'s sdist, fetched if not cached."""
    target = cache_directory() / f"django-{version}-tests"
    if (target / "runtests.py").is_file():
        return target
    if not re.fullmatch(r"\d+\.\d+(\.\d+)?", version):
        sys.exit(f"Django {version} is not a release: its tests are not on PyPI")
    target.parent.mkdir(parents=True, exist_ok=True)
    print(f"fetching the sdist of Django {version} (its tests, once)", flush=True)
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=".fetching-") as scratch:
        subprocess.run(
            [
                *(sys.executable, "-m", "pip", "download", "--quiet"),
                *("--no-deps", "--no-binary", ":all:", "--no-build-isolation"),
                *("--dest", scratch, f"Django=={version}"),
            ],
            check=True,
        )
        (sdist,) = Path(scratch).glob("*.tar.gz")
        prefix = f"{sdist.name.removesuffix('.tar.gz')}/tests/"
        with tarfile.open(sdist) as archive:
            members = [m for m in archive.getmembers() if m.name.startswith(prefix)]
            for member in members:
                member.name = member.name.removeprefix(prefix)
            archive.extractall(Path(scratch) / "tests", members=members, filter="data")
        # A run interrupted while extracting leaves no half directory behind.
        os.replace(Path(scratch) / "tests", target)
    return target


# -- running them --------------------------------------------------------------


@dataclass
class Run:
    name: str
    outcomes: dict[str, dict[str, Any]]
    seconds: float


def run_tests(name: str, tests_dir: Path, artifacts: Path) -> Run:
    """Run :data:`LABELS` with ``runtests.py`` under wrapper ``name`` (or none)."""
    results = artifacts / f"{name}.json"
    results.unlink(missing_ok=True)
    environment = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
        "DJANGO_SUITE_RESULTS": str(results),
        "DJANGO_SUITE_WRAPPER": "" if name == BASELINE else name,
        "DJANGO_SUITE_OBSERVE_WRITES": "1" if name == BASELINE else "",
    }
    command = [
        *(sys.executable, "runtests.py", "--settings=tests.django_suite.settings"),
        *("--parallel=1", "--noinput", *LABELS),
    ]
    started = time.monotonic()
    with open(artifacts / f"{name}.log", "w", encoding="utf-8") as log:
        subprocess.run(
            command,
            cwd=tests_dir,
            env=environment,
            stdout=log,
            stderr=subprocess.STDOUT,
            timeout=RUN_TIMEOUT,
            check=False,  # failing tests are compared below, not judged here
        )
    seconds = time.monotonic() - started
    if not results.is_file():
        sys.exit(f"the {name} run recorded no results: see {artifacts / f'{name}.log'}")
    return Run(name, json.loads(results.read_text(encoding="utf-8")), seconds)


# -- comparing -----------------------------------------------------------------


@dataclass
class Comparison:
    wrapper: str
    compared: int  # tests that pass in the baseline and count for this wrapper
    newly_failing: dict[str, str]  # test id -> what went wrong
    writers: int = 0  # ReadOnly: passing tests not compared, as they write
    newly_passing: list[str] = field(default_factory=list)


def compare(baseline: Run, run: Run) -> Comparison:
    """The tests that pass in ``baseline`` and not in ``run`` (not run counts).

    Under ReadOnly only the read tests count: those that write nothing through
    a file system storage when run unwrapped.
    """
    passing = {test for test, entry in baseline.outcomes.items() if entry["outcome"] in PASSED}
    compared = passing
    if run.name == "readonly":
        compared = {test for test in passing if not baseline.outcomes[test].get("wrote")}
    newly_failing = {}
    for test in sorted(compared):
        entry = run.outcomes.get(test, {"outcome": "not-run"})
        if entry["outcome"] not in PASSED:
            newly_failing[test] = entry.get("detail") or entry["outcome"]
    newly_passing = sorted(
        test
        for test, entry in run.outcomes.items()
        if entry["outcome"] in PASSED and test in baseline.outcomes and test not in passing
    )
    return Comparison(
        run.name, len(compared), newly_failing, len(passing - compared), newly_passing
    )


# -- the allowlist -------------------------------------------------------------


@dataclass
class Difference:
    """Tests that newly fail under some wrappers for one documented reason.

    ``tests`` are test ids, or ``fnmatch`` patterns if ``error`` is given: a
    regular expression that the failure's first line must match (for a
    difference that shows in many tests by one error).
    """

    reason: str
    wrappers: list[str]
    tests: list[str]
    error: str | None = None

    def allows(self, wrapper: str, test: str, detail: str) -> bool:
        if wrapper not in self.wrappers:
            return False
        if self.error is None:
            return test in self.tests
        return bool(re.search(self.error, detail)) and any(
            fnmatch.fnmatchcase(test, pattern) for pattern in self.tests
        )


def load_allowlist(path: Path = ALLOWLIST, page: Path = DIFFERENCES_PAGE) -> list[Difference]:
    """The allowlist's entries, checked: known wrappers, one-line reasons that
    ``docs/differences.rst`` states, patterns only with an ``error``."""
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    stated = _words(page.read_text(encoding="utf-8"))
    differences, problems = [], []
    for entry in data.get("difference", []):
        unknown_keys = set(entry) - {"reason", "wrappers", "tests", "error"}
        if unknown_keys:
            problems.append(f"unknown keys {sorted(unknown_keys)} in {entry!r}")
        difference = Difference(
            entry["reason"], list(entry["wrappers"]), list(entry["tests"]), entry.get("error")
        )
        if "\n" in difference.reason or not difference.reason.strip():
            problems.append(f"a reason must be one line: {difference.reason!r}")
        if _words(difference.reason) not in stated:
            problems.append(f"{page.name} does not state: {difference.reason!r}")
        problems.extend(
            f"unknown wrapper {wrapper!r} (known: {', '.join(WRAPPERS)})"
            for wrapper in difference.wrappers
            if wrapper not in WRAPPERS
        )
        if difference.error is None:
            problems.extend(
                f"{test!r} is a pattern: give an error for it too"
                for test in difference.tests
                if any(character in test for character in "*?[")
            )
        else:
            re.compile(difference.error)
        differences.append(difference)
    if problems:
        raise ValueError(f"{path.name}: " + "; ".join(problems))
    return differences


@dataclass
class Verdict:
    allowlisted: dict[str, str]  # test id -> reason
    unexpected: dict[str, str]  # test id -> what went wrong
    stale: list[str]  # allowlist entries (test or pattern) that no longer fail


def judge(comparison: Comparison, differences: list[Difference]) -> Verdict:
    """Sort a wrapper's newly failing tests into allowlisted and unexpected,
    and find the allowlist entries for it that nothing newly failing needs."""
    wrapper = comparison.wrapper
    allowlisted, unexpected, used = {}, {}, set()
    for test, detail in comparison.newly_failing.items():
        difference = next((d for d in differences if d.allows(wrapper, test, detail)), None)
        if difference is None:
            unexpected[test] = detail
            continue
        allowlisted[test] = difference.reason
        used.update(
            (id(difference), pattern)
            for pattern in difference.tests
            if fnmatch.fnmatchcase(test, pattern)
        )
    stale = [
        pattern
        for difference in differences
        if wrapper in difference.wrappers
        for pattern in difference.tests
        if (id(difference), pattern) not in used
    ]
    return Verdict(allowlisted, unexpected, stale)


def _words(text: str) -> str:
    return " ".join(text.split())


# -- the command ---------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.django_suite", description=__doc__)
    parser.add_argument(
        "--wrappers",
        default=",".join(WRAPPERS),
        help=f"comma-separated wrapper configurations to run (default: all: {', '.join(WRAPPERS)})",
    )
    parser.add_argument(
        "--print-new",
        action="store_true",
        help="print every newly failing test per wrapper, in the allowlist's format",
    )
    parser.add_argument(
        "--jobs", type=int, default=os.cpu_count() or 1, help="runs at a time (default: cores)"
    )
    parser.add_argument(
        "--artifacts",
        type=Path,
        default=ROOT / "test-artifacts" / "django-suite",
        help="where each run's log and results go",
    )
    options = parser.parse_args(argv)
    wrappers = [name for name in options.wrappers.split(",") if name]
    unknown = [name for name in wrappers if name not in WRAPPERS]
    if unknown:
        parser.error(f"unknown wrappers: {', '.join(unknown)} (known: {', '.join(WRAPPERS)})")
    differences = load_allowlist()

    started = time.monotonic()
    version = django.get_version()
    tests_dir = django_tests(version)
    options.artifacts.mkdir(parents=True, exist_ok=True)
    with ThreadPoolExecutor(max_workers=max(1, options.jobs)) as pool:
        runs = dict(
            zip(
                [BASELINE, *wrappers],
                pool.map(
                    lambda name: run_tests(name, tests_dir, options.artifacts),
                    [BASELINE, *wrappers],
                ),
                strict=True,
            )
        )
    baseline = runs[BASELINE]
    comparisons = [compare(baseline, runs[name]) for name in wrappers]

    if options.print_new:
        print_new(comparisons)
        return 0
    failed = report(version, baseline, runs, comparisons, differences)
    print(f"\n{len(runs)} runs in {time.monotonic() - started:.0f} s; logs in {options.artifacts}")
    return 1 if failed else 0


def report(
    version: str,
    baseline: Run,
    runs: dict[str, Run],
    comparisons: list[Comparison],
    differences: list[Difference],
) -> bool:
    """Print the comparison; whether it fails (unexpected or stale entries)."""
    passing = sum(entry["outcome"] in PASSED for entry in baseline.outcomes.values())
    print(
        f"Django {version}'s tests ({', '.join(LABELS)}): {passing} of "
        f"{len(baseline.outcomes)} pass unwrapped ({baseline.seconds:.0f} s).\n"
    )
    print(f"{'wrapper':44} {'compared':>8} {'newly failing':>13} {'allowlisted':>11}   time")
    failed = False
    notes = []
    for comparison in comparisons:
        verdict = judge(comparison, differences)
        label = WRAPPERS[comparison.wrapper][0]
        print(
            f"{label:44} {comparison.compared:>8} {len(comparison.newly_failing):>13} "
            f"{len(verdict.allowlisted):>11} {runs[comparison.wrapper].seconds:5.0f} s"
        )
        if comparison.writers:
            notes.append(
                f"{label}: only the read tests are compared: not the {comparison.writers} "
                "tests that write through a file system storage when unwrapped"
            )
        for test, detail in verdict.unexpected.items():
            notes.append(f"{label}: NEWLY FAILING, not allowlisted: {test}\n    {detail}")
        notes.extend(
            f"{label}: STALE allowlist entry (nothing newly failing needs it): {entry}"
            for entry in verdict.stale
        )
        notes.extend(
            f"{label}: passes, though it fails unwrapped: {test}"
            for test in comparison.newly_passing
        )
        failed = failed or bool(verdict.unexpected or verdict.stale)
    if notes:
        print("\n" + "\n".join(notes))
    print(
        "\nFAILED: fix the bug; or, for a deliberate difference that docs/differences.rst "
        "states, allowlist it (python -m tests.django_suite --print-new); remove stale entries"
        if failed
        else "\nOK: every newly failing test is a documented difference"
    )
    return failed


def print_new(comparisons: list[Comparison]) -> None:
    """The newly failing tests, one TOML entry per test, with the wrappers it
    fails under; group them by reason by hand when updating the allowlist."""
    by_test: dict[str, list[tuple[str, str]]] = {}
    for comparison in comparisons:
        for test, detail in comparison.newly_failing.items():
            by_test.setdefault(test, []).append((comparison.wrapper, detail))
    for comparison in comparisons:
        print(f"# {WRAPPERS[comparison.wrapper][0]}: {len(comparison.newly_failing)} newly failing")
    for test, failures in sorted(by_test.items()):
        print("\n[[difference]]")
        for wrapper, detail in failures:
            print(f"# {wrapper}: {detail}")
        print('reason = ""')
        print(f"wrappers = {json.dumps([wrapper for wrapper, _ in failures])}")
        print(f"tests = [{json.dumps(test)}]")


if __name__ == "__main__":
    sys.exit(main())
