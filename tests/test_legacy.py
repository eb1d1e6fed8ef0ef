"""What 0.1.0 wrote still loads: pickles (a cache, a task queue), ``deconstruct()``
output and the migrations ``makemigrations`` wrote for it.

The fixtures in tests/legacy/ were written by 0.1.0 (``python -m
tests.legacy.make 0.1.0``) and are never rewritten: they hold the module
paths of that version's classes, which later layouts must keep loading.
"""

from __future__ import annotations

import json
import pickle
from pathlib import Path
from typing import Any

import pytest
from django.utils.module_loading import import_string

from storage_mixins import ReadOnlyError, is_read_only
from tests.legacy import stacks

FIXTURES = Path(__file__).parent / "legacy"
VERSIONS = ["0.1.0"]


@pytest.fixture(params=VERSIONS)
def pickled(request: Any) -> dict[str, Any]:
    loaded: dict[str, Any] = pickle.loads((FIXTURES / f"{request.param}.pickle").read_bytes())
    return loaded


@pytest.fixture(params=VERSIONS)
def deconstructed(request: Any) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(
        (FIXTURES / f"{request.param}-deconstruct.json").read_text()
    )
    return loaded


@pytest.mark.parametrize("label", list(stacks.stacks()))
def test_a_pickled_stack_loads_as_the_same_stack(pickled: dict[str, Any], label: str) -> None:
    today = stacks.stacks()[label]
    loaded = pickled[label]
    assert type(loaded) is type(today)
    assert loaded == today
    assert repr(loaded) == repr(today)
    assert is_read_only(loaded) == is_read_only(today)


def test_a_pickled_stack_over_memory_loads(pickled: dict[str, Any]) -> None:
    loaded = pickled["InMemoryStorage stack"]
    assert repr(loaded) == repr(stacks.in_memory())
    assert not loaded.exists("a.txt")


def test_a_pickled_error_loads(pickled: dict[str, Any]) -> None:
    error = pickled["ReadOnlyError"]
    assert type(error) is ReadOnlyError
    assert (error.operation, error.name, error.reason) == ("save", "a.txt", "it is read-only")
    assert str(error) == str(stacks.errors()["ReadOnlyError"])


@pytest.mark.parametrize("label", list(stacks.stacks()))
def test_deconstruct_output_is_unchanged(deconstructed: dict[str, Any], label: str) -> None:
    """A changed ``deconstruct()`` would make ``makemigrations`` write a migration
    for every FileField over a stack; old output must also still rebuild."""
    today = stacks.stacks()[label]
    path, args, kwargs = deconstructed[label]["deconstruct"]
    assert json.loads(json.dumps(today.deconstruct())) == [path, args, kwargs]
    assert import_string(path)(*args, **kwargs) == today


@pytest.mark.parametrize("label", list(stacks.stacks()))
def test_a_migration_written_by_an_older_version_builds_the_stack(
    deconstructed: dict[str, Any], label: str
) -> None:
    migration = deconstructed[label]["migration"]
    namespace: dict[str, Any] = {}
    exec("\n".join(migration["imports"]), namespace)
    assert eval(migration["source"], namespace) == stacks.stacks()[label]
