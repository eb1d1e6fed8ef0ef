"""Eight processes sharing one redis-server, each rendering the same cold page of
200 production files at the same moment, list its directory once for the whole
fleet (issue 25), and a lister that dies holding the listing's claim blocks
nobody: the claim expires. Requests are counted at moto's server."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest

from storage_mixins import Fallback, ReadOnly
from storage_mixins.services.single_flight import CLAIM_SECONDS, WAIT_SECONDS
from tests import fleet
from tests.seeding import put_many

pytestmark = pytest.mark.reliability

FILES = [f"photos/{index:03d}.jpg" for index in range(200)]
PAGE = [*FILES, "photos/missing.jpg", "photos/local.jpg"]
PROCESSES = 8


def listings_sent(s3: Any) -> int:
    return sum(1 for r in s3.server.requests() if r.method == "GET" and "list-type=2" in r.query)


@pytest.fixture
def workers(s3: Any, redis_server: Any, tmp_path: Path) -> Any:
    """A function that starts workers on the same production, disk and cache."""
    put_many(s3, ((name, b"\xff" * 100) for name in FILES), "production-media")
    (tmp_path / "photos").mkdir()
    (tmp_path / "photos" / "local.jpg").write_bytes(b"local")
    started: list[fleet.Worker] = []
    settings = fleet.config(redis=redis_server.url, endpoint=s3.server.endpoint_url,
                            location=str(tmp_path), prefix=uuid.uuid4().hex, names=PAGE)  # fmt: skip

    def start(count: int, **extra: Any) -> list[fleet.Worker]:
        new = [fleet.Worker({**settings, **extra}) for _ in range(count)]
        started.extend(new)
        for worker in new:
            worker.ready()
        return new

    yield start
    for worker in started:
        worker.stop()


def expected(s3: Any, tmp_path: Path) -> list[list[Any]]:
    from django.core.files.storage import FileSystemStorage

    plain = Fallback(
        ReadOnly(s3.storage(querystring_auth=False)),
        FileSystemStorage(location=tmp_path, base_url="/local/"),
    )
    return [[plain.exists(name), plain.url(name)] for name in PAGE]


@pytest.mark.parametrize("placement", fleet.PLACEMENTS)
def test_a_fleet_lists_a_cold_directory_once(
    placement: str, workers: Any, s3: Any, tmp_path: Path
) -> None:
    fleet_ = workers(PROCESSES, placement=placement)
    s3.server.clear_requests()
    for worker in fleet_:
        worker.go()
    results = [worker.result() for worker in fleet_]
    assert listings_sent(s3) <= 2  # one a process without single-flight: 8
    # The page's files asked about one by one: none (a waiter that gave up would).
    assert not [r for r in s3.server.requests() if r.method == "HEAD"]
    truth = expected(s3, tmp_path)
    for result in results:
        assert result["answers"] == truth


def test_a_lister_killed_while_it_holds_the_claim_blocks_nobody(
    workers: Any, s3: Any, tmp_path: Path
) -> None:
    (dying,) = workers(1, die_while_listing=True)
    others = workers(PROCESSES - 1)
    s3.server.clear_requests()
    dying.go()
    assert dying.killed()  # after its listing was answered, before it stored it
    assert listings_sent(s3) == 1
    for worker in others:
        worker.go()
    results = [worker.result() for worker in others]
    # The claim expired after CLAIM_SECONDS: one other process listed, the
    # rest waited for its listing (WAIT_SECONDS at most, which is longer).
    assert CLAIM_SECONDS < WAIT_SECONDS
    assert listings_sent(s3) == 2
    assert not [r for r in s3.server.requests() if r.method == "HEAD"]
    truth = expected(s3, tmp_path)
    for result in results:
        assert result["answers"] == truth
