"""Every Python example in README.rst and docs/*.rst runs, so none can rot.

Settings examples (blocks that define ``STORAGES``) have every alias built, as
Django would on first use, and none may write to a storage that a stack reads
as read-only (production); they run after the settings ``startproject``
writes (``BASE_DIR``, ``INSTALLED_APPS``), with production's bucket named in
the environment. Code examples run with ``tmp_path`` available.
A block whose first line is a file name, ``# myproject/storages.py``, is that
module: it is importable (as ``myproject.storages``) by every block of its
document.
"""

from __future__ import annotations

import re
import sys
import types
from pathlib import Path
from typing import Any

import pytest
from django.core.files.storage import storages

from tests.writable_aliases import writable_aliases

ROOT = Path(__file__).resolve().parent.parent
DOCUMENTS = [ROOT / "README.rst", *sorted((ROOT / "docs").glob("*.rst"))]
BLOCK = re.compile(r"^\.\. code-block:: python\n\n((?:    .*\n|\n)+)", re.MULTILINE)
MODULE = re.compile(r"# ([\w/]+)\.py\n")
# What startproject's settings define, which a settings example adds to.
STARTPROJECT_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
]


def _sources(document: Path) -> list[str]:
    return [
        "\n".join(line[4:] for line in match.group(1).splitlines())
        for match in BLOCK.finditer(document.read_text())
    ]


def python_blocks() -> list[Any]:
    blocks = []
    for document in DOCUMENTS:
        for number, source in enumerate(_sources(document), 1):
            blocks.append(pytest.param(document, source, id=f"{document.name}-{number}"))
    assert len(blocks) > 10, "no python examples found?"
    return blocks


def _install_modules(document: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Make the document's module blocks importable, freshly executed."""
    for source in _sources(document):
        match = MODULE.match(source)
        if match is None:
            continue
        dotted = match.group(1).replace("/", ".")
        parts = dotted.split(".")
        for depth in range(1, len(parts)):  # the packages above it
            package = ".".join(parts[:depth])
            if package not in sys.modules:
                module = types.ModuleType(package)
                module.__path__ = []
                monkeypatch.setitem(sys.modules, package, module)
        module = types.ModuleType(dotted)
        monkeypatch.setitem(sys.modules, dotted, module)
        monkeypatch.setattr(sys.modules[".".join(parts[:-1])], parts[-1], module, raising=False)
        exec(compile(source, f"{document}:{dotted}", "exec"), module.__dict__)


@pytest.mark.parametrize(("document", "source"), python_blocks())
def test_example_runs(
    document: Path, source: str, settings: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _install_modules(document, monkeypatch)
    monkeypatch.setenv("AWS_STORAGE_BUCKET_NAME", "production-media")
    monkeypatch.setenv("PRODUCTION_MEDIA_URL", "https://cdn.example.com/media/")  # HTTPStorage's
    namespace: dict[str, Any] = {
        "tmp_path": tmp_path,
        "BASE_DIR": tmp_path,
        "INSTALLED_APPS": list(STARTPROJECT_APPS),
    }
    exec(compile(source, str(document), "exec"), namespace)
    if "STORAGES" not in namespace:
        return
    # A settings example: build every alias, as Django would on first use.
    # The handler is given the dict directly because overridden settings lose
    # the OPTIONS of "default" on Django 4.2 (ticket #34773); a settings
    # module, as in these examples, does not.
    settings.FALLBACK_STORAGES = namespace.get("FALLBACK_STORAGES")
    if "CACHES" in namespace:
        settings.CACHES = namespace["CACHES"]
    monkeypatch.setattr(storages, "_storages", {})
    monkeypatch.setitem(storages.__dict__, "backends", dict(namespace["STORAGES"]))
    for alias in namespace["STORAGES"]:
        assert storages[alias] is not None
    assert writable_aliases(namespace["STORAGES"]) == [], "an alias can write to production"
