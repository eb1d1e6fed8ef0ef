"""The developer entry points say what they do: tox.ini's environments are the
ones it lists, and ``make test-env`` runs one of them with the interpreters
that ``make test`` finds under pyenv on ``PATH``."""

from __future__ import annotations

import configparser
import inspect
import re
import subprocess
from pathlib import Path

import pytest

from tests.conftest import require_component

ROOT = Path(__file__).resolve().parent.parent
# tox reads a line that starts with a factor expression and a colon
# ("py312,django52: ...", "Benchmarks: ...") as a condition on those factors.
FACTOR_CONDITION = re.compile(r"[\w.{},!-]+:(\s|$)")


def test_no_tox_description_is_a_factor_condition() -> None:
    """``description = Benchmarks: ...`` gave the description to a factor
    ``Benchmarks``, and ``tox list`` showed a phantom environment of that name."""
    tox = configparser.ConfigParser(interpolation=None)
    tox.read(ROOT / "tox.ini")
    conditional = [
        f"[{section}] {line}"
        for section in tox.sections()
        for line in tox[section].get("description", "").splitlines()
        if FACTOR_CONDITION.match(line.strip())
    ]
    assert conditional == []


def make(*arguments: str, extra: str = "", pyenv_root: Path | None = None) -> str:
    """``make`` in the checkout, with ``extra`` rules read after the Makefile."""
    binary = require_component("make", "apt-get install make")
    variables = [f"PYENV_ROOT={pyenv_root}"] if pyenv_root else []
    result = subprocess.run(
        [binary, "-s", "--no-print-directory", "-f", "Makefile", "-f", "-", *variables, *arguments],
        input=extra,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return result.stdout


def test_make_test_env_runs_one_environment() -> None:
    commands = make("-n", "test-env", "ENV=py312-django52", "ARGS=-x tests/test_caching.py")
    assert (
        commands.splitlines()[-1]
        == ".venv/bin/tox run -e py312-django52 -- -x tests/test_caching.py"
    )


def test_make_puts_the_newest_pyenv_build_of_each_python_first_on_path(tmp_path: Path) -> None:
    """What ``make test-env`` (and ``make test``) run sees, where pyenv's
    shims answer for the global version only."""
    for version in ("3.11.7", "3.12.9", "3.12.10", "3.13.0", "3.10.13"):
        (tmp_path / "versions" / version / "bin").mkdir(parents=True)
    path = make("show-path", extra="show-path:\n\t@echo $$PATH\n", pyenv_root=tmp_path)
    bins = [str(tmp_path / "versions" / v / "bin") for v in ("3.11.7", "3.12.10", "3.13.0")]
    assert path.split(":")[:3] == bins  # 3.12.10, newer than 3.12.9


def test_the_readme_runs_one_environment_with_make() -> None:
    readme = (ROOT / "README.rst").read_text()
    assert "make test-env ENV=py312-django52" in readme
    assert ".venv/bin/tox run" not in readme


def test_bench_says_which_section_runs_as_it_goes(capsys: pytest.CaptureFixture[str]) -> None:
    """Issue 23: ``make bench`` printed nothing for five minutes and more."""
    from benchmarks.__main__ import SECTIONS, Progress, main

    announced = re.findall(r'progress\.begin\("([^"]+)"\)', inspect.getsource(main))
    assert announced == [section for section, _what in SECTIONS]  # each, in order
    progress = Progress()
    progress.begin("comparison")
    progress.say("  stack 1/11: floor: raw S3Storage + FileSystemStorage")
    progress.begin("listings")
    lines = capsys.readouterr().err.splitlines()
    assert [re.sub(r"^bench \d+:\d\d  ", "", line) for line in lines] == [
        "[1/9] comparison: every stack against the raw backends, workload by workload",
        "  stack 1/11: floor: raw S3Storage + FileSystemStorage",
        "[2/9] listings: answers from listings, production first",
    ]
