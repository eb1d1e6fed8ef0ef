"""A hostile review of issue 21's fixes ("Hardening, second round").

Each test is an attack on one of the promises: production is never written;
dev never loses data; ``Caching`` is never stale once a write has returned; a
wrapper behaves as its storage; no extra backend requests. The first ones
found bugs (fixed with them); the others found none and stay as regression
tests of a real risk, which each one names.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from django.contrib.staticfiles.storage import ManifestStaticFilesStorage
from django.core.files.storage import InMemoryStorage

from storage_mixins import Caching, Fallback, ReadOnly, ReadOnlyError
from tests.test_caching_staleness import Clock, clock  # noqa: F401 - a fixture
from tests.test_remote_bytes import CSS, NAME, backend_read, pull, pulling  # noqa: F401

# -- bugs found ------------------------------------------------------------------


def test_a_stack_without_a_write_layer_can_be_asked_for_its_staticfiles_writers(
    tmp_path: Path,
) -> None:
    # dir() asks hasattr() of every public name: Fallback.post_process raised
    # ReadOnlyError on access for a stack with no write layer, so dir() (and
    # hasattr(), getattr(x, name, default)) raised, where dir() of the storage
    # works. Now it is refused when called, as ReadOnly's is.
    static = ManifestStaticFilesStorage(location=tmp_path / "static")
    for stack in (Fallback(ReadOnly(static)), Caching(Fallback(ReadOnly(static)))):
        assert {"post_process", "save_manifest"} <= set(dir(stack))
        assert hasattr(stack, "post_process")
        with pytest.raises(ReadOnlyError, match=r"post_process\(\) refused"):
            list(stack.post_process({}, dry_run=False))
        with pytest.raises(ReadOnlyError, match=r"save_manifest\(\) refused"):
            stack.save_manifest()
    assert not os.path.exists(tmp_path / "static")
    assert not hasattr(Fallback(ReadOnly(InMemoryStorage())), "post_process")
