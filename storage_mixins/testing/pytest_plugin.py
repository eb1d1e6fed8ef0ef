"""The pytest plugin: the ``storage_requests`` fixture, in the manner of
pytest-django's ``django_assert_num_queries``::

    def test_gallery(client, storage_requests):
        with storage_requests.at_most(2):
            client.get("/gallery/")

pytest loads it in every project that has storage-mixins installed (the
``pytest11`` entry point ``storage_mixins``; ``-p no:storage_mixins`` turns it
off), before Django's settings are configured, if they ever are: it imports
nothing that reads them. The package imports Django's storage, file and
utility modules, none of which reads a setting when imported; a fixture reads
them only when a test asks for an alias by name.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.core.files.storage import Storage

from ..observability.backend_requests import BackendRequest
from ..observability.recording import Recording, record
from .budgets import StorageRequestBudget

__all__ = ["StorageRequests", "storage_requests"]


class StorageRequests:
    """What the ``storage_requests`` fixture gives: budgets for blocks, and the
    recording of the whole test (from the fixture's setup on)."""

    def __init__(self, recording: Recording) -> None:
        self.recording = recording

    @property
    def requests(self) -> list[BackendRequest]:
        """Every storage request the test has sent so far."""
        return list(self.recording.backend_requests)

    def __call__(
        self,
        count: int,
        *,
        method: str | None = None,
        storage: str | Storage | None = None,
        prefix: str | None = None,
        kind: str | None = None,
    ) -> StorageRequestBudget:
        """Exactly ``count`` storage requests in the ``with`` block; the filters
        are :class:`~storage_mixins.testing.StorageRequestBudget`'s."""
        return StorageRequestBudget(
            count, exact=True, method=method, storage=storage, prefix=prefix, kind=kind
        )

    def at_most(
        self,
        count: int,
        *,
        method: str | None = None,
        storage: str | Storage | None = None,
        prefix: str | None = None,
        kind: str | None = None,
    ) -> StorageRequestBudget:
        """At most ``count`` storage requests in the ``with`` block."""
        return StorageRequestBudget(
            count, exact=False, method=method, storage=storage, prefix=prefix, kind=kind
        )


@pytest.fixture
def storage_requests() -> Iterator[StorageRequests]:
    """Storage request budgets (``storage_requests(3)``,
    ``storage_requests.at_most(2)``) and the test's requests
    (``storage_requests.requests``, ``storage_requests.recording``)."""
    with record(detail=True) as recording:
        yield StorageRequests(recording)
