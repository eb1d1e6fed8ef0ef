"""The package's layout, as docs/architecture.rst describes it: what
import-linter's contracts (``tox -e lint``) do not check."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

import storage_mixins
from storage_mixins.moved_modules import MOVED

PACKAGE = Path(storage_mixins.__file__).parent
MODULES = sorted(PACKAGE.rglob("*.py"))
#: "A module past about 500 lines probably holds two concepts."
MAX_LINES = 550


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def deferred_imports(tree: ast.Module) -> list[tuple[int, str]]:
    """Imports of the package's own modules inside functions, but for those
    under ``if TYPE_CHECKING``."""
    found = []
    for function in ast.walk(tree):
        if not isinstance(function, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        for node in ast.walk(function):
            if isinstance(node, ast.ImportFrom):
                if node.level or (node.module or "").startswith("storage_mixins"):
                    found.append(
                        (node.lineno, f"{function.name}: from {'.' * node.level}{node.module}")
                    )
            elif isinstance(node, ast.Import):
                found.extend(
                    (node.lineno, f"{function.name}: import {alias.name}")
                    for alias in node.names
                    if alias.name.startswith("storage_mixins")
                )
    return found


@pytest.mark.parametrize("path", MODULES, ids=module_name)
def test_no_deferred_import_of_the_package_s_own_modules(path: Path) -> None:
    """Imports point down, so none needs deferring; AppConfig.ready() is Django's
    place for the one that must wait (the system checks)."""
    found = deferred_imports(ast.parse(path.read_text()))
    if module_name(path) == "storage_mixins.apps":
        found = [item for item in found if not item[1].startswith("ready:")]
    assert found == []


@pytest.mark.parametrize("path", MODULES, ids=module_name)
def test_a_module_says_what_it_is_and_holds_one_concept(path: Path) -> None:
    text = path.read_text()
    tree = ast.parse(text)
    if text.strip():  # an empty __init__ names a package of commands
        assert ast.get_docstring(tree), "a module docstring says what the module is"
    assert len(text.splitlines()) <= MAX_LINES


@pytest.mark.parametrize("old", sorted(MOVED))
def test_the_modules_of_0_1_0_still_import(old: str) -> None:
    """Pickles and code name them (storage_mixins.base._rebuild…)."""
    module = importlib.import_module(f"storage_mixins.{old}")
    assert module is importlib.import_module(f"storage_mixins.{MOVED[old]}")


def test_what_0_1_0_documented_imports_from_its_old_path() -> None:
    from storage_mixins.proxy import Proxy
    from storage_mixins.recording import Recording, record

    with record() as recording:
        pass
    assert isinstance(recording, Recording)
    assert Proxy.__module__ == "storage_mixins.core.proxy"
