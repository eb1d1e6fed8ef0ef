"""HTTPStorage against nginx: production's media read over HTTP, no credentials.

nginx (tests/nginx.py) serves a folder on loopback and logs every request it
receives; the tests count those, and check that nothing but GET and HEAD is
ever sent.
"""

from __future__ import annotations

import copy
import datetime
import io
import pickle
import subprocess
import sys
import threading
import time
import unicodedata
from typing import Any
from urllib.parse import urlsplit

import pytest
from asgiref.sync import async_to_sync
from django.core.exceptions import ImproperlyConfigured, SuspiciousFileOperation
from django.core.files.base import ContentFile
from django.core.files.storage import FileSystemStorage, storages

from storage_mixins import (
    Caching,
    Fallback,
    FallbackStorage,
    FileChangedError,
    HTTPStorage,
    Logging,
    ReadOnlyError,
    is_read_only,
)
from storage_mixins.backends.errors import HTTPStatusError, is_transport_error
from storage_mixins.backends.http.files import WINDOW
from storage_mixins.observability.recording import record
from storage_mixins.testing import assert_storage_requests

JPEG = b"\xff\xd8\xff\xe0" + b"jpeg" * 1000


def only_get_and_head(nginx: Any) -> None:
    assert set(nginx.counts()) <= {"GET", "HEAD"}


@pytest.fixture
def http(nginx: Any) -> HTTPStorage:
    return HTTPStorage(nginx.media_url)


# -- reads -------------------------------------------------------------------


def test_exists_is_one_head_whose_answer_serves_size_and_modified_time(
    nginx: Any, http: HTTPStorage
) -> None:
    nginx.put("photos/a.jpg", JPEG, modified=1_700_000_000)
    assert http.exists("photos/a.jpg")
    assert http.size("photos/a.jpg") == len(JPEG)
    modified = http.get_modified_time("photos/a.jpg")
    assert modified == datetime.datetime.fromtimestamp(1_700_000_000, datetime.UTC)
    assert [(r.method, r.uri) for r in nginx.requests()] == [("HEAD", "/media/photos/a.jpg")]
    assert not http.exists("photos/missing.jpg")
    with pytest.raises(FileNotFoundError):
        http.size("photos/missing.jpg")  # the HEAD's answer, again
    assert nginx.counts() == {"HEAD": 2}


def test_an_answer_is_reused_for_metadata_ttl_seconds_only(nginx: Any) -> None:
    nginx.put("a.jpg", JPEG)
    never = HTTPStorage(nginx.media_url, metadata_ttl=0)
    assert never.exists("a.jpg") and never.size("a.jpg") == len(JPEG)
    assert nginx.counts() == {"HEAD": 2}
    brief = HTTPStorage(nginx.media_url, metadata_ttl=0.05)
    assert brief.exists("a.jpg")
    nginx.put("a.jpg", b"changed")
    time.sleep(0.1)
    assert brief.size("a.jpg") == 7
    assert nginx.counts() == {"HEAD": 4}


def test_modified_time_is_naive_without_use_tz(nginx: Any, settings: Any) -> None:
    settings.USE_TZ = False
    settings.TIME_ZONE = "Europe/Paris"
    nginx.put("a.jpg", JPEG, modified=1_700_000_000)
    modified = HTTPStorage(nginx.media_url).get_modified_time("a.jpg")
    assert modified.tzinfo is None
    assert modified == datetime.datetime(2023, 11, 14, 23, 13, 20)  # 22:13:20 UTC, in Paris


def test_statuses_and_what_they_mean(nginx: Any, http: HTTPStorage) -> None:
    assert not http.exists("gone.jpg")  # 410
    assert not http.exists("photos")  # a directory: nginx redirects it to photos/
    nginx.put("photos/a.jpg", JPEG)
    assert not http.exists("photos")
    with pytest.raises(HTTPStatusError) as refused:
        http.exists("forbidden.jpg")
    assert refused.value.status == 403 and "missing_statuses" in str(refused.value)
    assert not is_transport_error(refused.value)
    with pytest.raises(HTTPStatusError) as odd:
        http.exists("teapot.jpg")
    assert odd.value.status == 418 and not is_transport_error(odd.value)
    with pytest.raises(HTTPStatusError) as broken:
        http.exists("broken.jpg")
    assert broken.value.status == 500 and is_transport_error(broken.value)
    assert pickle.loads(pickle.dumps(broken.value)).status == 500
    # A bucket or CloudFront answers 403 for a missing key: the storage says so.
    assert not HTTPStorage(nginx.media_url, missing_statuses=[403, 404]).exists("forbidden.jpg")
    only_get_and_head(nginx)


def test_a_catch_all_html_page_is_no_file(nginx: Any) -> None:
    spa = HTTPStorage(nginx.spa_url)
    assert not spa.exists("photos/a.jpg")  # the app's index.html, for any path
    with pytest.raises(FileNotFoundError):
        spa.open("photos/a.jpg")
    assert spa.exists("index.html")  # an HTML file is one
    assert HTTPStorage(nginx.spa_url, html_catch_all=False).exists("photos/a.jpg")


def test_redirects_are_followed_within_the_same_rules(nginx: Any) -> None:
    nginx.put("photos/a.jpg", JPEG)
    storage = HTTPStorage(nginx.media_url, headers={"Authorization": "Bearer secret"})
    assert storage.exists("moved.jpg")
    assert storage.size("elsewhere.jpg") == len(JPEG)  # another origin
    with storage.open("elsewhere.jpg") as handle:
        assert handle.read() == JPEG
    assert [(r.uri, r.status) for r in nginx.requests()] == [
        ("/media/moved.jpg", 302),
        ("/media/photos/a.jpg", 200),
        ("/media/elsewhere.jpg", 302),
        ("/media/elsewhere.jpg", 302),
    ]
    assert {r.authorization for r in nginx.requests()} == {"Bearer secret"}
    # The storage's own headers never go where a redirect points.
    elsewhere = nginx.requests("elsewhere.log")
    assert [r.method for r in elsewhere] == ["HEAD", "GET"]
    assert {r.authorization for r in elsewhere} == {""}
    with pytest.raises(HTTPStatusError, match="more than 5 redirects"):
        storage.exists("loop.jpg")
    with pytest.raises(HTTPStatusError, match="not http"):
        storage.exists("ftp.jpg")
    only_get_and_head(nginx)


# -- open: streamed, ranged ------------------------------------------------------


def test_open_reads_the_file_in_two_requests_at_most(nginx: Any, http: HTTPStorage) -> None:
    small = b"s" * 1000
    big = bytes(range(256)) * (3 * WINDOW // 256 + 7)
    nginx.put("small.bin", small)
    nginx.put("big.bin", big)
    with http.open("small.bin") as handle:
        assert handle.read() == small and handle.size == len(small)
    with http.open("big.bin") as handle:
        assert b"".join(handle.chunks(100_000)) == big
    assert [(r.method, r.range) for r in nginx.requests()] == [
        ("GET", f"bytes=0-{WINDOW - 1}"),
        ("GET", f"bytes=0-{WINDOW - 1}"),
        ("GET", f"bytes={WINDOW}-"),
    ]


def test_reading_the_header_of_a_large_file_does_not_download_it(
    nginx: Any, http: HTTPStorage
) -> None:
    nginx.put_size("video.mp4", 64 * WINDOW)
    with http.open("video.mp4") as handle:
        assert handle.read(10) == bytes(10)
        assert handle.size == 64 * WINDOW
        handle.seek(-16, io.SEEK_END)
        assert handle.read() == bytes(16)
        handle.seek(20 * WINDOW)
        assert len(handle.read(100)) == 100
    requests = nginx.requests()
    assert [r.range for r in requests] == [
        f"bytes=0-{WINDOW - 1}",
        f"bytes={64 * WINDOW - 16}-{65 * WINDOW - 17}",
        f"bytes={20 * WINDOW}-{21 * WINDOW - 1}",
    ]
    assert sum(r.body for r in requests) <= 3 * WINDOW


def test_a_server_that_ignores_range_is_read_from_the_start(nginx: Any) -> None:
    body = bytes(range(256)) * (3 * WINDOW // 256)
    nginx.put("big.bin", body)
    plain = HTTPStorage(nginx.plain_url)
    with plain.open("big.bin") as handle:
        assert handle.size == len(body)
        assert handle.read(10) == body[:10]
        handle.seek(2 * WINDOW + 3)
        assert handle.read(5) == body[2 * WINDOW + 3 : 2 * WINDOW + 8]  # skipped to
        handle.seek(0)
        assert handle.read() == body
    requests = nginx.requests()
    assert [(r.method, r.status, r.range) for r in requests] == [
        ("GET", 200, f"bytes=0-{WINDOW - 1}"),
        ("GET", 200, f"bytes={2 * WINDOW + 3}-{3 * WINDOW + 2}"),
        ("GET", 200, f"bytes=0-{WINDOW - 1}"),
    ]


def test_a_missing_file_raises_at_open(nginx: Any, http: HTTPStorage) -> None:
    with pytest.raises(FileNotFoundError):
        http.open("photos/missing.jpg")
    assert not http.exists("photos/missing.jpg")  # the GET's answer serves it
    assert nginx.counts() == {"GET": 1}


def test_an_empty_file(nginx: Any, http: HTTPStorage) -> None:
    nginx.put("empty.txt", b"")
    with http.open("empty.txt") as handle:
        assert handle.read() == b"" and handle.size == 0
    assert http.size("empty.txt") == 0


def test_a_file_replaced_while_it_is_read_raises_file_changed(
    nginx: Any, http: HTTPStorage
) -> None:
    nginx.put("a.bin", b"a" * (2 * WINDOW), modified=1_700_000_000)
    with http.open("a.bin") as handle:
        assert handle.read(10) == b"a" * 10
        nginx.put("a.bin", b"b" * (2 * WINDOW), modified=1_700_000_100)
        handle.seek(WINDOW + 5)
        with pytest.raises(FileChangedError, match="no longer the version"):
            handle.read(10)
    assert nginx.requests()[-1].if_match.startswith('"')  # pinned by its ETag
    with http.open("a.bin") as handle:  # opened again: the new version
        handle.seek(WINDOW + 5)
        assert handle.read(3) == b"bbb"


def test_a_reopened_file_reads_again(nginx: Any, http: HTTPStorage) -> None:
    nginx.put("a.txt", b"hello")
    handle = http.open("a.txt")
    assert handle.read() == b"hello"
    handle.close()
    with handle.open("rb") as again:
        assert again.read() == b"hello"
    assert repr(handle) == "<HTTPFile: a.txt>"


# -- read-only by construction ------------------------------------------------


def test_every_write_is_refused_before_any_request(nginx: Any, http: HTTPStorage) -> None:
    nginx.put("a.jpg", JPEG)
    assert is_read_only(http) and http.refuses_writes
    for write in (
        lambda: http.save("a.jpg", ContentFile(b"x")),
        lambda: http.save(None, ContentFile(b"x", name="b.jpg")),
        lambda: http._save("a.jpg", ContentFile(b"x")),
        lambda: http.delete("a.jpg"),
        lambda: http.open("a.jpg", "wb"),
        lambda: http.open("a.jpg", "r+b"),
        lambda: http.open("a.jpg", "ab"),
    ):
        with pytest.raises(ReadOnlyError):
            write()
    assert nginx.requests() == []
    with http.open("a.jpg") as handle:
        for write in (lambda: handle.write(b"x"), lambda: handle.open("wb")):
            with pytest.raises(ReadOnlyError):
                write()
    assert nginx.counts() == {"GET": 1}
    assert (nginx.root / "media" / "a.jpg").read_bytes() == JPEG


@pytest.mark.parametrize("method", ["PUT", "POST", "DELETE", "PATCH", "OPTIONS", "head"])
def test_the_client_sends_nothing_but_get_and_head(
    nginx: Any, http: HTTPStorage, method: str
) -> None:
    """The last guard: whatever calls it, the client refuses any other method."""
    with pytest.raises(ValueError, match="GET and HEAD only"):
        http._client.send(method, f"{nginx.media_url}a.jpg")
    assert nginx.requests() == []


def test_listdir_and_path_raise_what_a_remote_storage_raises(
    nginx: Any, http: HTTPStorage, fs: Any
) -> None:
    nginx.put("photos/a.jpg", JPEG)
    with pytest.raises(NotImplementedError, match="HTTP has no listing"):
        http.listdir("photos")
    with pytest.raises(NotImplementedError):
        http.path("photos/a.jpg")
    fs.save("photos/local.jpg", ContentFile(b"local"))
    stack = Fallback(http, fs)
    assert stack.write_layer is fs  # the HTTP layer is read-only by construction
    assert stack.listdir("photos") == ([], ["local.jpg"])  # the other layers list
    assert nginx.requests() == []
    # Production first: whether production shadows the local file is asked.
    assert stack.path("photos/local.jpg") == fs.path("photos/local.jpg")
    assert nginx.counts() == {"HEAD": 1}


# -- names -------------------------------------------------------------------------

HOSTILE = [
    "with space.jpg",
    "hash#tag.jpg",
    "what?.jpg",
    "100%.jpg",
    "a+b.jpg",
    "semi;colon.jpg",
    "quote'.jpg",
    unicodedata.normalize("NFC", "café/crème.jpg"),
    "emoji-🐍.jpg",
    "dir with space/a b+c#d.jpg",
]


@pytest.mark.parametrize("name", HOSTILE)
def test_url_is_quoted_as_production_s_own_storage_quotes_it(
    nginx: Any, http: HTTPStorage, name: str
) -> None:
    nginx.put(name, JPEG)
    production = FileSystemStorage(location=nginx.root / "media", base_url=nginx.media_url)
    assert http.url(name) == production.url(name)
    assert http.exists(name)  # the request goes where the URL points
    with http.open(name) as handle:
        assert handle.read() == JPEG
    assert {r.uri for r in nginx.requests()} == {urlsplit(production.url(name)).path}


def test_unicode_names_are_sent_as_spelled(nginx: Any, http: HTTPStorage) -> None:
    nfc = unicodedata.normalize("NFC", "café.jpg")
    nfd = unicodedata.normalize("NFD", "café.jpg")
    nginx.put(nfc, JPEG)
    production = FileSystemStorage(location=nginx.root / "media")
    # What production's own storage answers, for each spelling.
    assert http.exists(nfc) is production.exists(nfc) is True
    assert http.exists(nfd) is production.exists(nfd) is False
    assert http.url(nfc) != http.url(nfd)


@pytest.mark.parametrize(
    "name", ["../secret.txt", "photos/../../secret.txt", "/etc/passwd", "a\x00b", "a\\b.jpg", ""]
)
def test_unsafe_names_are_refused_before_any_request(
    nginx: Any, http: HTTPStorage, name: str
) -> None:
    for read in (http.size, http.open, http.head, http.get_modified_time):
        with pytest.raises(SuspiciousFileOperation):
            read(name)
    if name:
        with pytest.raises(SuspiciousFileOperation):
            http.exists(name)
    assert nginx.requests() == []


def test_url_of_the_root_and_of_a_directory(http: HTTPStorage, nginx: Any) -> None:
    assert http.url(None) == http.url("") == nginx.media_url
    assert http.url("photos/") == f"{nginx.media_url}photos/"
    with pytest.raises(SuspiciousFileOperation):
        http.url("/etc/passwd")


# -- configuration, copies ---------------------------------------------------------------


def test_from_settings(nginx: Any, use_storages: Any, settings: Any) -> None:
    nginx.put("a.jpg", JPEG)
    use_storages(
        {
            **settings.STORAGES,
            "production": {
                "BACKEND": "storage_mixins.HTTPStorage",
                "OPTIONS": {"base_url": nginx.media_url, "timeout": 5},
            },
        }
    )
    assert storages["production"].exists("a.jpg")
    stack = FallbackStorage(["production", "local"], writable="local")
    assert stack.layers[0] is storages["production"]  # nothing to wrap: it cannot write
    assert stack.write_layer is storages["local"]
    stack.save("b.jpg", ContentFile(b"local"))
    assert storages["local"].exists("b.jpg")
    only_get_and_head(nginx)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({}, "needs base_url"),
        ({"base_url": "ftp://example.com/"}, "must be an http"),
        ({"base_url": "https://user:pw@example.com/"}, "must not hold credentials"),
        ({"base_url": "https://example.com/media/?signed=1"}, "no query"),
        ({"base_url": "https://x/", "timeout": -1}, "timeout must be"),
        ({"base_url": "https://x/", "retries": 1.5}, "retries must be a whole number"),
        ({"base_url": "https://x/", "max_connections": 0}, "max_connections must be"),
        ({"base_url": "https://x/", "missing_statuses": [200]}, "must be 4xx statuses"),
    ],
)
def test_bad_options(options: dict[str, Any], message: str) -> None:
    with pytest.raises(ImproperlyConfigured, match=message):
        HTTPStorage(**options)


def test_copies_pickles_and_deconstruct_give_a_working_storage(nginx: Any) -> None:
    nginx.put("a.jpg", JPEG)
    storage = HTTPStorage(nginx.media_url, headers={"X-Token": "t"}, retries=1)
    assert storage.exists("a.jpg")
    path, args, kwargs = storage.deconstruct()
    assert (path, args, kwargs) == (
        "storage_mixins.HTTPStorage",
        (nginx.media_url,),
        {"headers": {"X-Token": "t"}, "retries": 1},
    )
    for other in (copy.copy(storage), copy.deepcopy(storage), pickle.loads(pickle.dumps(storage))):
        assert other.size("a.jpg") == len(JPEG)
    assert repr(storage) == f"HTTPStorage({nginx.media_url!r})"


def test_basic_auth_is_sent_to_the_base_url_s_host(nginx: Any) -> None:
    nginx.put("a.jpg", JPEG)
    HTTPStorage(nginx.media_url, basic_auth=("dev", "s3cret")).exists("a.jpg")
    assert nginx.requests()[0].authorization == "Basic ZGV2OnMzY3JldA=="
    assert nginx.requests()[0].user_agent == "storage-mixins HTTPStorage"


# -- connections --------------------------------------------------------------------


def test_one_pool_of_kept_alive_connections(nginx: Any, http: HTTPStorage) -> None:
    names = [f"photos/{index:03d}.jpg" for index in range(200)]
    for name in names[:100]:
        nginx.put(name, JPEG)
    assert sum(http.exists(name) for name in names) == 100
    assert nginx.counts() == {"HEAD": 200}
    assert nginx.connections() <= 4


def test_threads_share_the_pool(nginx: Any, http: HTTPStorage) -> None:
    for index in range(40):
        nginx.put(f"{index}.jpg", JPEG)
    answers: list[bool] = []

    def work(start: int) -> None:
        answers.extend(http.exists(f"{index}.jpg") for index in range(start, start + 10))

    threads = [threading.Thread(target=work, args=(start,)) for start in range(0, 40, 10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert answers.count(True) == 40
    assert nginx.connections() <= 10  # max_connections


# -- composing -----------------------------------------------------------------------


def test_a_recording_counts_each_request_where_it_is_sent(
    nginx: Any, http: HTTPStorage, fs: Any
) -> None:
    nginx.put("photos/a.jpg", JPEG)
    stack = Fallback(fs, http)
    with record(detail=True) as recording:
        assert stack.exists("photos/a.jpg")
        with stack.open("photos/a.jpg") as handle:
            handle.read()
        stack.url("photos/a.jpg")
        assert not stack.exists("moved-nowhere.jpg")
    assert recording.requests == {"HTTP": len(nginx.requests())} == {"HTTP": 3}
    assert "3 HTTP requests" in recording.summary()


def test_each_request_is_kept_with_its_name_and_the_storage_that_sent_it(
    nginx: Any, http: HTTPStorage
) -> None:
    nginx.put("photos/a b.jpg", JPEG)
    copied = copy.deepcopy(http)
    with record(detail=True) as recording:
        assert http.exists("photos/a b.jpg")
        assert copied.size("photos/a b.jpg") == len(JPEG)
    assert [(r.kind, r.method, r.target, r.storage) for r in recording.backend_requests] == [
        ("HTTP", "HEAD", "photos/a b.jpg", http),  # the name, not the URL's quoted path
        ("HTTP", "HEAD", "photos/a b.jpg", copied),  # a copy's requests are its own
    ]
    with assert_storage_requests(1, prefix="photos/"):
        assert HTTPStorage(nginx.media_url).exists("photos/a b.jpg")


def test_caching_keeps_its_facts_and_never_lists_it(
    nginx: Any, http: HTTPStorage, caplog: Any
) -> None:
    nginx.put("photos/a.jpg", JPEG)
    for listings in ("auto", True):
        # metadata_ttl=0: what is not asked again is Caching's doing.
        uncached = HTTPStorage(nginx.media_url, metadata_ttl=0)
        cached = Caching(uncached, key_prefix=f"http-{listings}", listings=listings)
        for _ in range(3):
            assert cached.exists("photos/a.jpg")
            assert cached.size("photos/a.jpg") == len(JPEG)
            assert not cached.exists("photos/b.jpg")
        described = cached.describe_node()[0]
        assert ("listings=True: none listable" in described) is (listings is True)
    # Per Caching, cold: exists(a), size(a), exists(b); warm, nothing.
    assert nginx.counts() == {"HEAD": 6}
    assert not [r for r in caplog.records if r.levelname == "WARNING"]


def test_the_rendition_pattern_is_one_head_and_one_get_then_nothing(
    nginx: Any, http: HTTPStorage, tmp_path: Any
) -> None:
    nginx.put("photos/a.jpg", JPEG)
    contents = FileSystemStorage(location=tmp_path / "contents")
    stack = Fallback(
        Caching(http, key_prefix="renditions", contents=contents), FileSystemStorage(tmp_path / "l")
    )

    def rendition() -> bytes:
        assert stack.exists("photos/a.jpg")
        assert stack.size("photos/a.jpg") == len(JPEG)
        with stack.open("photos/a.jpg") as handle:
            return handle.read()

    assert rendition() == JPEG
    assert nginx.counts() == {"HEAD": 1, "GET": 1}
    nginx.clear_requests()
    assert rendition() == JPEG
    assert nginx.requests() == []


def test_logging_logs_each_call(nginx: Any, http: HTTPStorage, caplog: Any) -> None:
    nginx.put("a.jpg", JPEG)
    caplog.set_level("DEBUG")
    logged = Logging(http)
    assert logged.exists("a.jpg")
    messages = [r.getMessage() for r in caplog.records]
    assert any("exists('a.jpg') -> True" in message for message in messages)
    assert any(
        message.startswith(f"HEAD {nginx.media_url}a.jpg: 200") for message in messages
    )  # the client's own line, on storage_mixins.http


def test_the_package_imports_without_urllib3_and_says_what_is_missing() -> None:
    """urllib3 is the ``http`` extra: without it, only building an HTTPStorage fails."""
    script = (
        "import sys; sys.modules['urllib3'] = None\n"
        "import django; from django.conf import settings; settings.configure(); django.setup()\n"
        "import storage_mixins\n"
        "from django.core.exceptions import ImproperlyConfigured\n"
        "try:\n"
        "    storage_mixins.HTTPStorage('https://cdn.example.com/media/')\n"
        "except ImproperlyConfigured as exc:\n"
        "    print(exc)\n"
    )
    completed = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    )
    assert completed.stdout.strip() == (
        "HTTPStorage needs urllib3: pip install 'storage-mixins[http]'"
    )


@pytest.mark.parametrize("path", ["/page/", "/async-page/"])
def test_server_timing_counts_the_http_requests_of_a_page(
    nginx: Any, settings: Any, use_storages: Any, path: str
) -> None:
    from django.test import AsyncClient, Client

    nginx.put("photos/a.jpg", JPEG)
    settings.ROOT_URLCONF = "tests.testapp.urls"
    settings.MIDDLEWARE = ["storage_mixins.middleware.StorageTimingMiddleware"]
    use_storages(
        {
            **settings.STORAGES,
            "default": {
                "BACKEND": "storage_mixins.FallbackStorage",
                "OPTIONS": {"backends": ["production", "local"], "writable": "local"},
            },
            "production": {
                "BACKEND": "storage_mixins.HTTPStorage",
                "OPTIONS": {"base_url": nginx.media_url},
            },
        }
    )
    client = Client().get if path == "/page/" else async_to_sync(AsyncClient().get)
    response = client(path)
    assert response.status_code == 200
    sent = len(nginx.requests())
    assert sent == 3  # exists() of the three names; size() and url() ask nothing more
    assert f'{sent} HTTP requests"' in response.headers["Server-Timing"]
