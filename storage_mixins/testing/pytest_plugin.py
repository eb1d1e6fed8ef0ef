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

from ..observability.backend_requests import BackendRequest
from ..observability.recording import Recording, record
from .budgets import assert_max_storage_requests, assert_storage_requests

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

    # The module's functions, as pytest-django's fixture offers its assertions.
    __call__ = staticmethod(assert_storage_requests)  # exactly ``count``
    at_most = staticmethod(assert_max_storage_requests)


@pytest.fixture
def storage_requests() -> Iterator[StorageRequests]:
    """Storage request budgets (``storage_requests(3)``,
    ``storage_requests.at_most(2)``) and the test's requests
    (``storage_requests.requests``, ``storage_requests.recording``)."""
    with record(detail=True) as recording:
        yield StorageRequests(recording)
