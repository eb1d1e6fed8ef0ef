"""storage_mixins.testing: request budgets as test assertions, in both test
styles, with the S3 server's own count as the reference.

moto runs over HTTP (tests/s3server.py counts every request it receives but
the tests' own), so each budget is checked against what the server got.
"""

from __future__ import annotations

import asyncio
import contextvars
import inspect
import re
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from django.core.files.base import ContentFile
from django.core.files.storage import InMemoryStorage, storages
from django.test import Client, SimpleTestCase

from storage_mixins import Fallback, ReadOnly
from storage_mixins.observability.recording import record
from storage_mixins.testing import (
    StorageRequestsMixin,
    assert_max_storage_requests,
    assert_storage_requests,
)

pytest_plugins = ["pytester"]

NAMES = ["photos/0.jpg", "photos/1.jpg", "photos/2.jpg"]
HERE = (
    Path(__file__).relative_to(Path.cwd())
    if Path(__file__).is_relative_to(Path.cwd())
    else Path(__file__)
)


@pytest.fixture
def site(s3: Any, use_storages: Any, settings: Any, tmp_path: Path) -> Any:
    """``default``: FallbackStorage(local, production), production on moto;
    three files only production has."""
    settings.ROOT_URLCONF = "tests.testapp.urls"
    use_storages(
        {
            **settings.STORAGES,
            "local": {
                "BACKEND": "django.core.files.storage.FileSystemStorage",
                "OPTIONS": {"location": str(tmp_path / "local")},
            },
            "production": s3.settings(),
            "default": {
                "BACKEND": "storage_mixins.FallbackStorage",
                "OPTIONS": {"backends": ["local", "production"]},
            },
        }
    )
    for name in NAMES:
        s3.put(name, b"production")
    s3.server.clear_requests()
    return s3


def three_heads() -> None:
    """One HEAD to production for each name: the local layer has none of them."""
    media = storages["default"]
    for name in NAMES:
        assert media.exists(name)


def lines_of(function: Callable[..., Any], text: str) -> list[int]:
    """The line numbers of ``function`` whose source contains ``text``."""
    source, first = inspect.getsourcelines(function)
    return [first + offset for offset, line in enumerate(source) if text in line]


# -- the budget, against what the server received ------------------------------------


def test_three_heads_against_budgets_of_two_and_three(site: Any) -> None:
    with assert_storage_requests(3) as budget:
        three_heads()
    assert len(budget.requests) == 3 == len(site.server.requests())
    assert [(r.method, r.target) for r in budget.requests] == [("HEAD", n) for n in NAMES]

    site.server.clear_requests()
    with assert_max_storage_requests(3):
        three_heads()
    assert len(site.server.requests()) == 3

    site.server.clear_requests()
    with pytest.raises(AssertionError) as failed, assert_max_storage_requests(2):
        three_heads()
    assert str(failed.value).splitlines()[0] == "expected at most 2 storage requests, got 3:"
    assert len(site.server.requests()) == 3

    with pytest.raises(AssertionError) as failed, assert_storage_requests(2):
        three_heads()
    assert str(failed.value).splitlines()[0] == "expected 2 storage requests, got 3:"
    with pytest.raises(AssertionError) as failed, assert_storage_requests(4):
        three_heads()
    assert str(failed.value).splitlines()[0] == "expected 4 storage requests, got 3:"


def test_the_failure_lists_each_request_and_the_line_of_the_caller(site: Any) -> None:
    with pytest.raises(AssertionError) as failed, assert_max_storage_requests(2):
        three_heads()
    (line,) = lines_of(three_heads, "media.exists(name)")
    caller = f"{HERE}:{line} in three_heads"
    assert str(failed.value).splitlines() == [
        "expected at most 2 storage requests, got 3:",
        *(
            f"{number}. HEAD {name} (S3 HeadObject) to production, "
            f"in default.exists('{name}'), from {caller}"
            for number, name in enumerate(NAMES, 1)
        ),
    ]


def test_a_request_outside_any_call_and_a_layer_without_an_alias(s3: Any) -> None:
    """S3File reads its contents after open() returned, in boto3's transfer
    threads: the line is the one the block's thread waits at. A storage built in
    code is named by its label, a wrapper that is no alias by its class."""
    s3.put("a.txt", b"production")
    media = Fallback(InMemoryStorage(), ReadOnly(s3.storage()))
    s3.server.clear_requests()
    budget = assert_max_storage_requests(0)
    with pytest.raises(AssertionError) as failed, budget, media.open("a.txt") as handle:
        handle.read()
    opened = inspect.currentframe().f_lineno - 2  # type: ignore[union-attr]
    listed = str(failed.value).splitlines()
    assert listed[0] == f"expected at most 0 storage requests, got {len(listed) - 1}:"
    assert len(listed) - 1 == len(s3.server.requests())
    test = "test_a_request_outside_any_call_and_a_layer_without_an_alias"
    assert listed[1] == (
        "1. HEAD a.txt (S3 HeadObject) to S3Storage('production-media'), "
        f"in Fallback.open('a.txt'), from {HERE}:{opened} in {test}"
    )
    assert listed[-1] == (
        f"{len(listed) - 1}. GET a.txt (S3 GetObject) to S3Storage('production-media'), "
        f"outside any storage call, from {HERE}:{opened + 1} in {test}"
    )


def test_filters(site: Any) -> None:
    """Each filter counts what the server received of it."""
    s3 = site
    s3.put("videos/a.mp4", b"video")
    s3.server.clear_requests()
    media = storages["default"]
    with (
        assert_max_storage_requests(99) as everything,
        assert_max_storage_requests(99, prefix="photos/") as photos,
        assert_max_storage_requests(99, method="GET") as gets,
        assert_max_storage_requests(99, method="GetObject") as get_objects,
        assert_max_storage_requests(99, method="head") as heads,
        assert_max_storage_requests(99, storage="production") as production,
        assert_max_storage_requests(99, storage="default") as default,
        assert_max_storage_requests(99, storage="local") as local,
        assert_max_storage_requests(99, kind="S3") as s3_requests,
        assert_max_storage_requests(99, kind="HTTP") as http,
        assert_max_storage_requests(99, method="HEAD", prefix="photos/1") as one,
    ):
        assert media.exists("photos/0.jpg")
        assert media.exists("photos/1.jpg")
        assert not media.exists("photos/missing.jpg")
        with media.open("videos/a.mp4") as handle:
            assert handle.read() == b"video"
    received = s3.server.requests()
    assert len(everything.requests) == len(received) > 4
    assert len(photos.requests) == len([r for r in received if r.key.startswith("photos/")]) == 3
    assert len(gets.requests) == s3.server.counts()["GET"] > 0
    assert get_objects.requests == gets.requests
    assert len(heads.requests) == s3.server.counts()["HEAD"]
    assert production.requests == default.requests == s3_requests.requests == everything.requests
    assert local.requests == http.requests == []
    assert [r.target for r in one.requests] == ["photos/1.jpg"]

    budget = assert_max_storage_requests(0, method="HEAD", prefix="photos/")
    with pytest.raises(AssertionError) as failed, budget:
        media.exists("photos/0.jpg")
    assert str(failed.value).splitlines()[0] == (
        "expected at most 0 HEAD storage requests for keys under 'photos/', got 1:"
    )
    with pytest.raises(AssertionError) as failed, assert_storage_requests(2, storage="production"):
        media.exists("photos/0.jpg")
    assert str(failed.value).splitlines()[0] == "expected 2 storage requests to production, got 1:"


def test_a_storage_given_as_a_filter(site: Any) -> None:
    with assert_storage_requests(3, storage=storages["production"]):
        three_heads()
    with assert_storage_requests(0, storage=storages["local"]):
        three_heads()


def test_default_storage_as_a_filter(site: Any) -> None:
    from django.core.files.storage import default_storage

    with assert_storage_requests(3, storage=default_storage):
        three_heads()


def test_a_budget_is_one_block_at_a_time(site: Any) -> None:
    budget = assert_max_storage_requests(3)
    with budget, pytest.raises(RuntimeError, match="give each block a budget"), budget:
        pass
    with budget:  # once its block is over, it can be used again
        three_heads()


def test_an_exception_in_the_block_is_not_hidden_by_the_budget(site: Any) -> None:
    def page() -> None:
        three_heads()
        raise ZeroDivisionError

    with pytest.raises(ZeroDivisionError), assert_storage_requests(0):
        page()


def test_a_budget_of_nothing_passes_with_nothing(site: Any) -> None:
    with assert_storage_requests(0) as budget:
        assert not storages["local"].exists("photos/0.jpg")
    assert budget.requests == []
    assert site.server.requests() == []


# -- blocks inside blocks, threads and tasks -------------------------------------------


def test_nested_blocks(site: Any) -> None:
    media = storages["default"]
    with assert_storage_requests(3) as outer:
        media.exists(NAMES[0])
        with assert_storage_requests(1) as inner:
            media.exists(NAMES[1])
        media.exists(NAMES[2])
    assert [r.target for r in inner.requests] == [NAMES[1]]
    assert [r.target for r in outer.requests] == NAMES
    assert len(site.server.requests()) == 3

    with pytest.raises(AssertionError) as failed, assert_storage_requests(3):  # noqa: PT012
        with assert_max_storage_requests(0):
            media.exists(NAMES[0])
        media.exists(NAMES[1])  # not reached: the inner block failed
    assert str(failed.value).splitlines()[0] == "expected at most 0 storage requests, got 1:"


def test_inside_a_recording_that_began_before(site: Any) -> None:
    """The middleware records the request; a budget inside it counts its own."""
    media = storages["default"]
    with record() as recording:
        media.exists(NAMES[0])
        with assert_storage_requests(2):
            media.exists(NAMES[1])
            media.exists(NAMES[2])
    assert recording.requests["S3"] == 3


def test_threads_and_tasks_on_behalf_of_the_block_count_an_unrelated_one_does_not(
    site: Any,
) -> None:
    media = storages["default"]
    started, finish = threading.Event(), threading.Event()

    def unrelated() -> None:
        media.exists(NAMES[0])  # a thread of its own, at the same time
        started.set()
        finish.wait(timeout=30)
        media.exists(NAMES[1])

    other = threading.Thread(target=unrelated)
    with assert_storage_requests(4) as budget:
        other.start()
        started.wait(timeout=30)
        async_to_sync(sync_to_async(media.exists))(NAMES[0])
        context = contextvars.copy_context()
        with ThreadPoolExecutor(max_workers=2) as pool:
            list(pool.map(lambda name: context.copy().run(media.exists, name), NAMES[1:]))
        asyncio.run(_in_a_task(media))
        finish.set()
        other.join()
    assert len(budget.requests) == 4
    assert len(site.server.requests()) == 6  # and the unrelated thread's two


async def _in_a_task(media: Any) -> None:
    await asyncio.create_task(sync_to_async(media.exists)(NAMES[2]))


def test_an_upload_in_boto3_s_transfer_threads(s3: Any, use_storages: Any, settings: Any) -> None:
    """The transfer thread has no line of the caller's code: the call's is given."""
    use_storages({**settings.STORAGES, "uploads": s3.settings("dev-media")})
    stack = Fallback(ReadOnly(InMemoryStorage()), storages["uploads"])
    s3.server.clear_requests()
    with pytest.raises(AssertionError) as failed, assert_max_storage_requests(0):
        stack.save("new.txt", ContentFile(b"new"))
    line = inspect.currentframe().f_lineno - 1  # type: ignore[union-attr]
    listed = str(failed.value).splitlines()[1:]
    assert len(listed) == len(s3.server.requests())
    (put,) = (entry for entry in listed if "PutObject" in entry)
    assert re.fullmatch(
        rf"\d+\. PUT new\.txt \(S3 PutObject\) to uploads, in Fallback\.save\('new\.txt'\), "
        rf"from {re.escape(str(HERE))}:{line} in test_an_upload_in_boto3_s_transfer_threads",
        put,
    ), put


# -- as a decorator ---------------------------------------------------------------------------


def test_as_a_decorator(site: Any) -> None:
    @assert_max_storage_requests(3)
    def page() -> str:
        three_heads()
        return "page"

    assert page() == "page"
    assert page() == "page"  # each call is a block of its own
    assert len(site.server.requests()) == 6

    @assert_storage_requests(2)
    def too_many() -> None:
        three_heads()

    with pytest.raises(AssertionError, match=r"^expected 2 storage requests, got 3:"):
        too_many()


def test_as_a_decorator_of_a_coroutine_function(site: Any) -> None:
    @assert_storage_requests(3)
    async def page() -> str:
        await sync_to_async(three_heads)()
        return "page"

    assert asyncio.run(page()) == "page"


# -- Django's TestCase style --------------------------------------------------------------


@pytest.mark.usefixtures("site")
class TestTheMixin(StorageRequestsMixin, SimpleTestCase):
    def test_assert_storage_requests(self) -> None:
        with self.assertStorageRequests(3):
            three_heads()
        with self.assertMaxStorageRequests(3, method="HEAD"):
            three_heads()
        self.assertStorageRequests(3, three_heads)
        self.assertMaxStorageRequests(1, storages["default"].exists, "photos/0.jpg")

    def test_a_failure_is_the_test_case_s_failure(self) -> None:
        self.failureException = type("Failure", (AssertionError,), {})
        with pytest.raises(self.failureException) as failed, self.assertMaxStorageRequests(2):
            three_heads()
        assert str(failed.value).splitlines()[0] == "expected at most 2 storage requests, got 3:"

    def test_a_budget_on_a_view(self) -> None:
        """The page asks exists() of three names and size() of those found: a
        HEAD for each name the local layer lacks, and one more for each size."""
        storages["production"].save("photos/a.jpg", ContentFile(b"a" * 10))
        storages["local"].save("photos/b.jpg", ContentFile(b"b" * 20))
        with self.assertStorageRequests(3, method="HEAD") as budget:
            response = self.client.get("/page/")
        assert response.status_code == 200
        assert [request.target for request in budget.requests] == [
            "photos/a.jpg",
            "photos/a.jpg",
            "photos/missing.jpg",
        ]
        with self.assertStorageRequests(0, method="HEAD", prefix="photos/b"):
            self.client.get("/page/")

    def test_a_budget_around_the_middleware(self) -> None:
        middleware = ["storage_mixins.middleware.StorageTimingMiddleware"]
        with self.settings(MIDDLEWARE=middleware), self.assertStorageRequests(3):
            response = Client().get("/page/")
        assert "3 S3 requests" in response.headers["Server-Timing"]


# -- the pytest plugin ------------------------------------------------------------------------

CHILD_SETTINGS = """
import os

SECRET_KEY = "child"
INSTALLED_APPS = ["storage_mixins"]
STORAGES = {
    "production": {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": "production-media",
            "endpoint_url": os.environ["CHILD_S3_ENDPOINT"],
            "access_key": "testing",
            "secret_key": "testing",
            "region_name": "us-east-1",
            "addressing_style": "path",
        },
    },
    "default": {
        "BACKEND": "storage_mixins.FallbackStorage",
        "OPTIONS": {"backends": ["local", "production"]},
    },
    "local": {"BACKEND": "django.core.files.storage.InMemoryStorage"},
    "static": {
        "BACKEND": "storages.backends.s3.S3ManifestStaticStorage",
        "OPTIONS": {
            "bucket_name": "production-media",
            "location": "static",
            "endpoint_url": os.environ["CHILD_S3_ENDPOINT"],
            "access_key": "testing",
            "secret_key": "testing",
            "region_name": "us-east-1",
            "addressing_style": "path",
        },
    },
}
"""

CHILD_TESTS = """
from django.core.files.storage import storages


def test_a_storage_built_in_the_first_block(storage_requests):
    # The first test: nothing had imported boto3 when the fixture began.
    with storage_requests.at_most(9, method="GET") as budget:
        storages["static"]  # reads its manifest as it is built
    assert [request.target for request in budget.requests] == ["static/staticfiles.json"]


def page():
    for name in ["photos/0.jpg", "photos/1.jpg", "photos/2.jpg"]:
        storages["default"].exists(name)


def test_exact(storage_requests):
    with storage_requests(3) as budget:
        page()
    assert [request.method for request in budget.requests] == ["HEAD"] * 3


def test_at_most(storage_requests):
    with storage_requests.at_most(3, method="HEAD", storage="production"):
        page()
    assert storage_requests.recording.requests["S3"] == 3


def test_the_whole_test(storage_requests):
    page()
    page()
    assert len(storage_requests.requests) == 6


def test_over_budget(storage_requests):
    with storage_requests.at_most(2):
        page()
"""


@pytest.fixture
def child_env(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    """A subprocess's environment without this suite's settings."""
    monkeypatch.delenv("DJANGO_SETTINGS_MODULE", raising=False)
    monkeypatch.delenv("PYTEST_ADDOPTS", raising=False)
    return pytester


def test_the_pytest_fixture_in_a_project(
    site: Any, child_env: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CHILD_S3_ENDPOINT", site.server.endpoint_url)
    site.put("static/staticfiles.json", b'{"version": "1.1", "paths": {}, "hash": ""}')
    child_env.makepyfile(child_settings=CHILD_SETTINGS, test_page=CHILD_TESTS)
    result = child_env.runpytest_subprocess(
        "-W", "error", "--ds=child_settings", "-p", "no:cacheprovider"
    )
    (line,) = (n for n, text in enumerate(CHILD_TESTS.strip().splitlines(), 1) if "exists" in text)
    result.assert_outcomes(passed=4, failed=1)
    result.stdout.fnmatch_lines(
        [
            "E*expected at most 2 storage requests, got 3:",
            "E*1. HEAD photos/0.jpg (S3 HeadObject) to production, in default.exists('photos/0.jpg'), "
            f"from test_page.py:{line} in page",
        ]
    )


def test_the_plugin_leaves_a_project_without_django_settings_alone(
    child_env: pytest.Pytester,
) -> None:
    child_env.makepyfile(test_plain="def test_plain():\n    assert True\n")
    result = child_env.runpytest_subprocess("-W", "error", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)
    result = child_env.runpytest_subprocess(
        "-W", "error", "-p", "no:cacheprovider", "-p", "no:django"
    )
    result.assert_outcomes(passed=1)
    assert "storage_mixins" in "\n".join(child_env.runpytest_subprocess("--trace-config").outlines)


def test_the_plugin_is_registered_by_its_entry_point() -> None:
    from importlib.metadata import entry_points

    (plugin,) = entry_points(group="pytest11", name="storage_mixins")
    assert plugin.value == "storage_mixins.testing.pytest_plugin"
