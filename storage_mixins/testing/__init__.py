"""Storage request budgets as test assertions: ``assertNumQueries`` for the
requests a block of code sends to S3, Azure, Google Cloud or an HTTP layer.

::

    from storage_mixins.testing import assert_max_storage_requests

    with assert_max_storage_requests(2):
        client.get("/gallery/")

* :func:`assert_storage_requests` and :func:`assert_max_storage_requests`:
  context managers and decorators, with filters (method, storage or alias, key
  prefix, kind of backend);
* :class:`StorageRequestsMixin`, for Django's test cases:
  ``self.assertStorageRequests(3)``, ``self.assertMaxStorageRequests(3)``;
* the pytest plugin's ``storage_requests`` fixture
  (``storage_mixins.testing.pytest_plugin``, registered by the ``pytest11``
  entry point).

A failure lists the requests the block sent, as ``assertNumQueries`` lists
its queries. What is counted, and where, is described in
``storage_mixins.observability.recording``.
"""

from .budgets import StorageRequestBudget, assert_max_storage_requests, assert_storage_requests
from .testcases import StorageRequestsMixin

__all__ = [
    "StorageRequestBudget",
    "StorageRequestsMixin",
    "assert_max_storage_requests",
    "assert_storage_requests",
]
