"""Every Python example in README.rst runs, so none can rot.

Settings examples (blocks that define ``STORAGES``) are loaded into a storage
handler of their own and every alias is built; code examples are executed with
``tmp_path`` available.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from django.core.files.storage import storages

README = Path(__file__).resolve().parent.parent / "README.rst"
BLOCK = re.compile(r"^\.\. code-block:: python\n\n((?:    .*\n|\n)+)", re.MULTILINE)


def python_blocks() -> list[str]:
    blocks = [
        "\n".join(line[4:] for line in match.group(1).splitlines())
        for match in BLOCK.finditer(README.read_text())
    ]
    assert blocks, "README.rst has no python examples?"
    return blocks


@pytest.mark.parametrize("source", python_blocks(), ids=lambda s: s.strip().splitlines()[0][:40])
def test_readme_example_runs(
    source: str, settings: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    namespace: dict[str, Any] = {"tmp_path": tmp_path}
    exec(compile(source, str(README), "exec"), namespace)
    if "STORAGES" not in namespace:
        return
    # A settings example: build every alias, as Django would on first use.
    # The handler is given the dict directly because overridden settings lose
    # the OPTIONS of "default" on Django 4.2 (ticket #34773); a settings
    # module, as in the README, does not.
    settings.FALLBACK_STORAGES = namespace.get("FALLBACK_STORAGES")
    if "CACHES" in namespace:
        settings.CACHES = namespace["CACHES"]
    monkeypatch.setattr(storages, "_storages", {})
    monkeypatch.setitem(storages.__dict__, "backends", dict(namespace["STORAGES"]))
    for alias in namespace["STORAGES"]:
        assert storages[alias] is not None
