"""The machinery of the django-suite environment (tests/django_suite): the shim
that wraps every FileSystemStorage, the write observer, the comparison with
the baseline and the allowlist. The environment itself runs Django's tests."""

from __future__ import annotations

import copy
import pickle
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.contrib.staticfiles.storage import StaticFilesStorage
from django.core.files.base import ContentFile
from django.core.files.storage import FileSystemStorage, InMemoryStorage

from storage_mixins import Caching, Fallback, Logging, ReadOnly, StorageWrapper
from tests.django_suite import shim
from tests.django_suite.__main__ import (
    Difference,
    Run,
    compare,
    judge,
    load_allowlist,
)
from tests.django_suite.runner import _WriteObserver


@pytest.fixture
def installed() -> Iterator[Any]:
    def install(name: str) -> None:
        shim.install(name)

    yield install
    shim.uninstall()


# -- the shim -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "wrapper_type"),
    [
        ("wrapper", StorageWrapper),
        ("readonly", ReadOnly),
        ("fallback", Fallback),
        ("fallback-readonly", Fallback),
        ("logging", Logging),
        ("caching", Caching),
    ],
)
def test_every_file_system_storage_built_is_wrapped(
    installed: Any, tmp_path: Path, name: str, wrapper_type: type
) -> None:
    installed(name)
    storage = FileSystemStorage(location=tmp_path, base_url="/m/")
    assert type(storage) is wrapper_type
    assert isinstance(storage, FileSystemStorage)
    assert storage.location == str(tmp_path)
    assert storage.base_url == "/m/"


def test_fallback_over_read_only_memory(installed: Any, tmp_path: Path) -> None:
    installed("fallback-readonly")
    storage = FileSystemStorage(location=tmp_path)
    raw, lower = storage.layers
    assert type(raw) is FileSystemStorage
    assert isinstance(lower, ReadOnly) and type(lower.__wrapped__) is InMemoryStorage


def test_subclasses_are_wrapped_and_initialised_once(installed: Any, tmp_path: Path) -> None:
    installed("wrapper")
    calls = []

    class Custom(FileSystemStorage):
        def __init__(self, **kwargs: Any) -> None:
            calls.append(kwargs)
            super().__init__(**kwargs)

    storage = Custom(location=tmp_path)
    assert type(storage) is StorageWrapper and type(storage.__wrapped__) is Custom
    assert calls == [{"location": tmp_path}]
    assert type(StaticFilesStorage(location=tmp_path)) is StorageWrapper


def test_what_a_wrapper_builds_is_not_wrapped_again(installed: Any, tmp_path: Path) -> None:
    installed("fallback")
    storage = FileSystemStorage(location=tmp_path)
    assert type(storage.__wrapped__) is FileSystemStorage


def test_copies_and_pickles_of_the_real_storage_are_real(installed: Any, tmp_path: Path) -> None:
    installed("caching")
    storage = FileSystemStorage(location=tmp_path, base_url="/m/")
    for real in (
        copy.copy(storage.__wrapped__),
        copy.deepcopy(storage.__wrapped__),
        pickle.loads(pickle.dumps(storage.__wrapped__)),
    ):
        assert type(real) is FileSystemStorage
        assert (real.location, real.base_url) == (str(tmp_path), "/m/")
        assert real.deconstruct()[2] == {"location": tmp_path, "base_url": "/m/"}
    clone = copy.deepcopy(storage)
    assert type(clone) is Caching and type(clone.__wrapped__) is FileSystemStorage
    assert clone.__wrapped__ is not storage.__wrapped__


def test_a_subclass_with_its_own_new_is_refused(installed: Any, tmp_path: Path) -> None:
    installed("wrapper")

    class OwnNew(FileSystemStorage):
        def __new__(cls, *args: Any, **kwargs: Any) -> Any:
            return super().__new__(cls, *args, **kwargs)

    with pytest.raises(RuntimeError, match="defines its own __new__"):
        OwnNew(location=tmp_path)


def test_uninstall_restores_plain_storages(tmp_path: Path) -> None:
    shim.install("readonly")
    shim.uninstall()
    storage = FileSystemStorage(location=tmp_path)
    assert type(storage) is FileSystemStorage
    assert storage.deconstruct()[0] == "django.core.files.storage.FileSystemStorage"
    assert shim.installed() is None


# -- the write observer -----------------------------------------------------------


if hasattr(sys, "monitoring"):  # Python 3.12+, as in the django-suite environment

    def test_the_observer_notes_writes_not_reads(tmp_path: Path) -> None:
        storage = FileSystemStorage(location=tmp_path)
        storage.save("seed.txt", ContentFile(b"x"))
        observer = _WriteObserver()
        observer.start()
        try:
            observer.current = "app.tests.T.test_reads"
            storage.open("seed.txt").close()
            storage.exists("seed.txt")
            storage.listdir("")
            observer.current = "app.tests.T.test_saves"
            storage.save("new.txt", ContentFile(b"x"))
            observer.current = "app.tests.T.test_opens_for_writing"
            storage.open("seed.txt", "ab").close()
            observer.current = "app.tests.T.test_deletes"
            storage.delete("new.txt")
        finally:
            observer.stop()
        assert observer.tests == {
            "app.tests.T.test_saves",
            "app.tests.T.test_opens_for_writing",
            "app.tests.T.test_deletes",
        }
        assert not observer.wrote("app.tests.T.test_reads")

    def test_the_observer_charges_class_fixtures_to_their_class(tmp_path: Path) -> None:
        import unittest

        storage = FileSystemStorage(location=tmp_path)

        class Fixture(unittest.TestCase):
            @classmethod
            def setUpClass(cls) -> None:
                storage.save("fixture.txt", ContentFile(b"x"))

        observer = _WriteObserver()
        observer.start()
        try:
            Fixture.setUpClass()
        finally:
            observer.stop()
        class_id = f"{Fixture.__module__}.{Fixture.__qualname__}"
        assert observer.wrote(f"{class_id}.test_anything")

else:

    def test_the_observer_says_it_needs_python_3_12() -> None:
        with pytest.raises(RuntimeError, match=r"Python 3\.12 or later"):
            _WriteObserver().start()


# -- comparing and judging -------------------------------------------------------


def _run(name: str, **outcomes: str | dict[str, Any]) -> Run:
    return Run(
        name,
        {
            test: value if isinstance(value, dict) else {"outcome": value}
            for test, value in outcomes.items()
        },
        0,
    )


def test_compare_finds_what_newly_fails() -> None:
    baseline = _run("baseline", a="passed", b="passed", c="failed", d="passed", e="skipped")
    run = _run(
        "fallback",
        a="passed",
        b={"outcome": "error", "detail": "TypeError: nope"},
        c="passed",
        e="skipped",
    )
    comparison = compare(baseline, run)
    assert comparison.newly_failing == {"b": "TypeError: nope", "d": "not-run"}
    assert comparison.newly_passing == ["c"]
    assert comparison.compared == 3


def test_compare_counts_only_read_tests_under_read_only() -> None:
    baseline = _run(
        "baseline", reads="passed", writes={"outcome": "passed", "wrote": True}, more="passed"
    )
    run = _run("readonly", reads="failed", writes="error", more="passed")
    comparison = compare(baseline, run)
    assert list(comparison.newly_failing) == ["reads"]
    assert (comparison.compared, comparison.writers) == (2, 1)


def test_judge_sorts_allowlisted_unexpected_and_stale() -> None:
    differences = [
        Difference("reason one", ["fallback"], ["app.T.test_listed", "app.T.test_fixed"]),
        Difference("reason two", ["fallback"], ["app.Links.*"], error="remote destination"),
        Difference("other wrapper", ["caching"], ["app.T.test_new"]),
    ]
    comparison = compare(
        _run(
            "baseline",
            **dict.fromkeys(
                ["app.T.test_listed", "app.T.test_fixed", "app.T.test_new", "app.Links.test_a"],
                "passed",
            ),
            **{"app.Links.test_b": "passed"},
        ),
        _run(
            "fallback",
            **{
                "app.T.test_listed": {"outcome": "failed", "detail": "AssertionError"},
                "app.T.test_fixed": "passed",
                "app.T.test_new": {"outcome": "failed", "detail": "AssertionError"},
                "app.Links.test_a": {
                    "outcome": "error",
                    "detail": "CommandError: remote destination",
                },
                "app.Links.test_b": {"outcome": "error", "detail": "TypeError: a bug"},
            },
        ),
    )
    verdict = judge(comparison, differences)
    assert verdict.allowlisted == {
        "app.T.test_listed": "reason one",
        "app.Links.test_a": "reason two",
    }
    assert set(verdict.unexpected) == {"app.T.test_new", "app.Links.test_b"}
    assert verdict.stale == ["app.T.test_fixed"]


# -- the allowlist ------------------------------------------------------------------


def test_the_allowlist_is_valid_and_every_reason_is_documented() -> None:
    differences = load_allowlist()
    assert differences
    assert all(difference.tests for difference in differences)


def _allowlist(tmp_path: Path, entry: str, page: str = "Stated reason.") -> tuple[Path, Path]:
    allowlist = tmp_path / "allowlist.toml"
    allowlist.write_text(entry)
    differences = tmp_path / "differences.rst"
    differences.write_text(page)
    return allowlist, differences


@pytest.mark.parametrize(
    ("entry", "problem"),
    [
        (
            '[[difference]]\nreason = "Not stated."\nwrappers = ["fallback"]\ntests = ["a.T.t"]',
            "does not state",
        ),
        (
            '[[difference]]\nreason = "Stated reason."\nwrappers = ["nope"]\ntests = ["a.T.t"]',
            "unknown wrapper",
        ),
        (
            '[[difference]]\nreason = "Stated reason."\nwrappers = ["fallback"]\ntests = ["a.*"]',
            "is a pattern",
        ),
        (
            '[[difference]]\nreason = "Stated reason."\nwrappers = ["fallback"]\ntests = ["a.T.t"]\nwhy = 1',
            "unknown keys",
        ),
    ],
)
def test_a_bad_allowlist_is_refused(tmp_path: Path, entry: str, problem: str) -> None:
    allowlist, page = _allowlist(tmp_path, entry)
    with pytest.raises(ValueError, match=problem):
        load_allowlist(allowlist, page)


def test_reasons_may_wrap_in_the_documentation(tmp_path: Path) -> None:
    allowlist, page = _allowlist(
        tmp_path,
        '[[difference]]\nreason = "A reason that wraps."\nwrappers = ["fallback"]\ntests = ["a.T.t"]',
        page="Heading\n\nA reason\n   that wraps.\n",
    )
    assert load_allowlist(allowlist, page)[0].reason == "A reason that wraps."
