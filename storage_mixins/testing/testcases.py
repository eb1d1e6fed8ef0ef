"""Storage request budgets for Django's test cases, in the manner of
``assertNumQueries``::

    class GalleryTests(StorageRequestsMixin, TestCase):
        def test_gallery(self):
            with self.assertMaxStorageRequests(2):
                self.client.get("/gallery/")
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.core.files.storage import Storage

from .budgets import StorageRequestBudget

__all__ = ["StorageRequestsMixin"]


class StorageRequestsMixin:
    """Adds ``assertStorageRequests`` and ``assertMaxStorageRequests`` to a
    ``unittest.TestCase`` (Django's ``SimpleTestCase``, ``TestCase``…)."""

    failureException: type[BaseException]  # unittest.TestCase's

    def assertStorageRequests(  # unittest's spelling
        self,
        count: int,
        func: Callable[..., Any] | None = None,
        /,
        *args: Any,
        method: str | None = None,
        storage: str | Storage | None = None,
        prefix: str | None = None,
        kind: str | None = None,
        **kwargs: Any,
    ) -> StorageRequestBudget:
        """Exactly ``count`` storage requests: in the ``with`` block of the
        budget returned, or in ``func(*args, **kwargs)``, called at once. The
        filters are :class:`~storage_mixins.testing.StorageRequestBudget`'s."""
        budget = StorageRequestBudget(
            count,
            exact=True,
            method=method,
            storage=storage,
            prefix=prefix,
            kind=kind,
            failure=self.failureException,
        )
        return _run(budget, func, args, kwargs)

    def assertMaxStorageRequests(  # unittest's spelling
        self,
        count: int,
        func: Callable[..., Any] | None = None,
        /,
        *args: Any,
        method: str | None = None,
        storage: str | Storage | None = None,
        prefix: str | None = None,
        kind: str | None = None,
        **kwargs: Any,
    ) -> StorageRequestBudget:
        """At most ``count`` storage requests, as :meth:`assertStorageRequests`."""
        budget = StorageRequestBudget(
            count,
            exact=False,
            method=method,
            storage=storage,
            prefix=prefix,
            kind=kind,
            failure=self.failureException,
        )
        return _run(budget, func, args, kwargs)


def _run(
    budget: StorageRequestBudget,
    func: Callable[..., Any] | None,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
) -> StorageRequestBudget:
    if func is not None:
        with budget:
            func(*args, **kwargs)
    return budget
