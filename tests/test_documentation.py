"""Every Python example in README.rst and docs/*.rst runs, so none can rot.

Settings examples (blocks that define ``STORAGES``) have every alias built, as
Django would on first use; code examples run with ``tmp_path`` available.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from django.core.files.storage import storages

ROOT = Path(__file__).resolve().parent.parent
DOCUMENTS = [ROOT / "README.rst", *sorted((ROOT / "docs").glob("*.rst"))]
BLOCK = re.compile(r"^\.\. code-block:: python\n\n((?:    .*\n|\n)+)", re.MULTILINE)


def python_blocks() -> list[Any]:
    blocks = []
    for document in DOCUMENTS:
        for number, match in enumerate(BLOCK.finditer(document.read_text()), 1):
            source = "\n".join(line[4:] for line in match.group(1).splitlines())
            blocks.append(pytest.param(document, source, id=f"{document.name}-{number}"))
    assert len(blocks) > 10, "no python examples found?"
    return blocks


@pytest.mark.parametrize(("document", "source"), python_blocks())
def test_example_runs(
    document: Path, source: str, settings: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    namespace: dict[str, Any] = {"tmp_path": tmp_path}
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
