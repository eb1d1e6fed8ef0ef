"""The test runner Django's ``runtests.py`` uses here (``TEST_RUNNER``): Django's
own ``DiscoverRunner``, whose result also records each test's outcome and
writes them, as JSON, to the file named by ``$DJANGO_SUITE_RESULTS``.

With ``$DJANGO_SUITE_OBSERVE_WRITES`` set (the baseline run), it also notes
which tests write through a file system storage, so that only the others, the
read tests, are compared under ``ReadOnly``. The write methods are observed
with ``sys.monitoring`` (a start event on their code objects only), which
changes nothing that the tests could see.
"""

from __future__ import annotations

import json
import os
import sys
import unittest
from typing import Any

from django.core.files.storage import FileSystemStorage, Storage
from django.test.runner import DiscoverRunner

from storage_mixins import ReadOnlyError

__all__ = ["RecordingResult", "RecordingRunner"]

# Outcomes that count as passing.
PASSED = frozenset({"passed", "expected-failure"})


class RecordingResult(unittest.TextTestResult):
    """A text result that also keeps, per test id, the outcome and, for a
    failure, the error's first line and whether a ``ReadOnlyError`` (a refused
    write) is in its chain."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.outcomes: dict[str, dict[str, Any]] = {}

    def startTest(self, test: unittest.TestCase) -> None:
        _clear_caches()  # Caching(fs) must not carry answers from one test to the next
        _observer.current = test.id()
        super().startTest(test)

    def stopTest(self, test: unittest.TestCase) -> None:
        super().stopTest(test)
        _observer.current = None

    def _record(self, test: Any, outcome: str, err: Any = None, detail: str = "") -> None:
        entry: dict[str, Any] = {"outcome": outcome}
        if err is not None:
            exc = err[1]
            entry["detail"] = detail + _first_line(exc)
            entry["refused_write"] = _refused_write(exc)
        previous = self.outcomes.get(test.id())
        if previous is not None and previous["outcome"] not in PASSED:
            return  # the first failure of a test (e.g. of one of its subtests) says most
        self.outcomes[test.id()] = entry

    def addSuccess(self, test: Any) -> None:
        super().addSuccess(test)
        self._record(test, "passed")

    def addFailure(self, test: Any, err: Any) -> None:
        super().addFailure(test, err)
        self._record(test, "failed", err)

    def addError(self, test: Any, err: Any) -> None:
        super().addError(test, err)
        self._record(test, "error", err)

    def addSkip(self, test: Any, reason: str) -> None:
        super().addSkip(test, reason)
        self._record(test, "skipped")

    def addExpectedFailure(self, test: Any, err: Any) -> None:
        super().addExpectedFailure(test, err)
        self._record(test, "expected-failure")

    def addUnexpectedSuccess(self, test: Any) -> None:
        super().addUnexpectedSuccess(test)
        self._record(test, "unexpected-success")

    def addSubTest(self, test: Any, subtest: Any, err: Any) -> None:
        super().addSubTest(test, subtest, err)
        if err is not None:
            outcome = "failed" if issubclass(err[0], test.failureException) else "error"
            self._record(test, outcome, err, detail=f"{subtest._subDescription()}: ")


class RecordingRunner(DiscoverRunner):
    def get_resultclass(self) -> Any:
        return RecordingResult

    def run_suite(self, suite: Any, **kwargs: Any) -> Any:
        if os.environ.get("DJANGO_SUITE_OBSERVE_WRITES"):
            _observer.start()
        try:
            result = super().run_suite(suite, **kwargs)
        finally:
            _observer.stop()
        for test, entry in result.outcomes.items():
            if _observer.wrote(test):
                entry["wrote"] = True
        path = os.environ.get("DJANGO_SUITE_RESULTS")
        if path:
            with open(path, "w", encoding="utf-8") as handle:
                json.dump(result.outcomes, handle, indent=0, sort_keys=True)
        return result


class _WriteObserver:
    """Notes the tests (or test classes, for writes in ``setUpClass`` and
    ``setUpTestData``) that call a write method of a file system storage."""

    def __init__(self) -> None:
        self.current: str | None = None
        self.tests: set[str] = set()
        self.classes: set[str] = set()
        self.tool: int | None = None

    def _write_methods(self) -> dict[Any, bool]:
        """The code objects to watch; ``True`` for those that write only in a
        write mode (their ``mode`` argument says)."""
        from django.contrib.staticfiles.storage import HashedFilesMixin, ManifestFilesMixin

        methods = {
            FileSystemStorage._save: False,
            FileSystemStorage.delete: False,
            FileSystemStorage._open: True,
            Storage.save: False,
            # ReadOnly refuses these whole, even where they would write nothing.
            HashedFilesMixin.post_process: False,
            ManifestFilesMixin.post_process: False,
            ManifestFilesMixin.save_manifest: False,
        }
        return {method.__code__: by_mode for method, by_mode in methods.items()}

    def start(self) -> None:
        from storage_mixins.core.modes import is_write_mode

        monitoring = getattr(sys, "monitoring", None)
        if monitoring is None:
            raise RuntimeError("the write observer needs sys.monitoring (Python 3.12 or later)")
        self.tool = next(i for i in range(6) if monitoring.get_tool(i) is None)
        monitoring.use_tool_id(self.tool, "django-suite write observer")
        watched = self._write_methods()

        def started(code: Any, offset: int) -> None:
            frame = sys._getframe(1)
            if watched[code] and not is_write_mode(frame.f_locals.get("mode", "rb")):
                return
            self._note(frame)

        monitoring.register_callback(self.tool, monitoring.events.PY_START, started)
        for code in watched:
            monitoring.set_local_events(self.tool, code, monitoring.events.PY_START)

    def stop(self) -> None:
        if self.tool is not None:
            sys.monitoring.register_callback(self.tool, sys.monitoring.events.PY_START, None)
            sys.monitoring.free_tool_id(self.tool)
            self.tool = None

    def _note(self, frame: Any) -> None:
        if self.current is not None:
            self.tests.add(self.current)
            return
        while frame is not None:  # a class fixture: which class?
            cls = frame.f_locals.get("cls")
            if isinstance(cls, type) and issubclass(cls, unittest.TestCase):
                self.classes.add(f"{cls.__module__}.{cls.__qualname__}")
                return
            frame = frame.f_back

    def wrote(self, test: str) -> bool:
        return test in self.tests or test.rpartition(".")[0] in self.classes


_observer = _WriteObserver()


def _first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {lines[0][:200] if lines else ''}"


def _refused_write(exc: BaseException | None) -> bool:
    seen = set()
    while exc is not None and id(exc) not in seen:
        if isinstance(exc, ReadOnlyError):
            return True
        seen.add(id(exc))
        exc = exc.__cause__ or exc.__context__
    return False


def _clear_caches() -> None:
    from django.core.cache import caches

    for cache in caches.all(initialized_only=True):
        cache.clear()
