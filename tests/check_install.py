"""Run by ``tox -e install`` (so by ``make test``): the README's install
commands work, as written, in a fresh virtual environment.

The checkout is copied as a clone has it (``storage-mixins/``, without what
builds and tests leave behind), then the ``python -m pip`` lines of the
README's "Installation" section run in a new venv, in order: the install from
the clone, with the ``s3`` extra (its dependencies come from the package
index), then, once it is uninstalled, the wheel built with pip and installed
with the same extra. The venv then imports every module of the package
(``check_wheel.py``), and the ``s3`` extra builds the quick start's
production stack.
"""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CLONE = "storage-mixins"
LEFT_BEHIND = shutil.ignore_patterns(
    ".git", ".tox", ".venv", "build", "dist", "*.egg-info", "__pycache__", "node_modules",
    ".*_cache", ".hypothesis", "_build", "test-artifacts",
)  # fmt: skip

STACK = """
import django
from django.conf import settings

settings.configure(STORAGES={"production": {
    "BACKEND": "storage_mixins.ReadOnly",
    "OPTIONS": {"storage": {
        "BACKEND": "storage_mixins.Caching",
        "OPTIONS": {"storage": {
            "BACKEND": "storages.backends.s3.S3Storage",
            "OPTIONS": {"bucket_name": "production-media", "region_name": "us-east-1"},
        }},
    }},
}})
django.setup()
from django.core.files.storage import storages
from storages.backends.s3 import S3Storage

from storage_mixins import describe

production = storages["production"]
assert isinstance(production, S3Storage) and production.refuses_writes
print(describe(production))
"""


def pip_lines(readme: str) -> list[list[str]]:
    """The ``$ python -m pip ...`` lines of the README's "Installation" section."""
    section = readme.split("\nInstallation\n------------\n", 1)[1].split("\n-----", 1)[0]
    lines = re.findall(r"^    \$ (python -m pip .*)$", section, re.MULTILINE)
    assert len(lines) == 3, lines
    return [shlex.split(line) for line in lines]


def run(command: list[str], cwd: Path) -> None:
    started = time.monotonic()
    result = subprocess.run(command, cwd=cwd, capture_output=True, text=True, check=False)
    print(f"$ {shlex.join(command)[:120]}  ({time.monotonic() - started:.1f} s)", flush=True)
    if result.returncode != 0:
        sys.exit(f"failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")


def main() -> None:
    install, build_wheel, install_wheel = pip_lines((ROOT / "README.rst").read_text())
    with tempfile.TemporaryDirectory(prefix="storage-mixins-install-") as directory:
        here = Path(directory)
        shutil.copytree(ROOT, here / CLONE, ignore=LEFT_BEHIND)
        venv.create(here / "venv", with_pip=True)
        python = str(here / "venv" / "bin" / "python")

        run([python, *install[1:]], cwd=here)
        run([python, "-m", "pip", "uninstall", "--yes", "storage-mixins"], cwd=here)
        run([python, *build_wheel[1:]], cwd=here)
        wheel = install_wheel[-1].split("[")[0]
        assert (here / wheel).is_file(), (
            f"the README names {wheel}; pip built {list(here.glob('dist/*'))}"
        )
        run([python, *install_wheel[1:]], cwd=here)

        run(
            [python, "-I", str(ROOT / "tests" / "check_wheel.py"), str(ROOT / "storage_mixins")],
            cwd=here,
        )
        run([python, "-I", "-c", STACK], cwd=here)
    print("installed from the clone and from its wheel, with the s3 extra, and imported")


if __name__ == "__main__":
    main()
