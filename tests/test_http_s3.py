"""HTTPStorage over a public S3 bucket (moto's server): objects with a
public-read ACL read anonymously, as a site's ``MEDIA_URL`` on a bucket.

moto answers an anonymous request for an object that anonymous users may not
read with 403, which is what S3 answers for a *missing* key when anonymous
users may not list the bucket (moto itself answers 404 for a missing key):
``missing_statuses`` says which a given server means. moto's request log
counts every request: GET and HEAD only, never anything that writes.
"""

from __future__ import annotations

import datetime
from typing import Any

import pytest

from storage_mixins import HTTPStorage
from storage_mixins.backends.errors import HTTPStatusError, is_transport_error
from tests.conftest import PRODUCTION_BUCKET

NAMES = ["photos/a.jpg", "with space/a b+c.jpg", "hash#and?query.jpg", "100%.jpg", "café/ü.jpg"]


@pytest.fixture
def bucket(s3: Any) -> Any:
    s3.bucket(PRODUCTION_BUCKET)
    for name in NAMES:
        s3.client.put_object(
            Bucket=PRODUCTION_BUCKET, Key=name, Body=name.encode() * 10, ACL="public-read"
        )
    s3.client.put_object(Bucket=PRODUCTION_BUCKET, Key="private.jpg", Body=b"secret")
    s3.server.clear_requests()
    return s3


def public_url(s3: Any) -> str:
    return f"{s3.server.endpoint_url}/{PRODUCTION_BUCKET}/"


def only_reads(s3: Any) -> None:
    assert s3.server.mutations(PRODUCTION_BUCKET) == []
    assert set(s3.server.counts()) <= {"GET", "HEAD"}


@pytest.mark.parametrize("name", NAMES)
def test_public_objects_read_anonymously(bucket: Any, name: str) -> None:
    storage = HTTPStorage(public_url(bucket))
    body = name.encode() * 10
    assert storage.exists(name)
    assert storage.size(name) == len(body)
    assert storage.get_modified_time(name).tzinfo is datetime.UTC
    with storage.open(name) as handle:
        assert handle.read() == body
    # (The server's log has WSGI's PATH_INFO: UTF-8 bytes read as Latin-1.)
    assert [(r.method, r.key.encode("latin-1").decode()) for r in bucket.server.requests()] == [
        ("HEAD", name),
        ("GET", name),
    ]
    only_reads(bucket)


@pytest.mark.parametrize("name", NAMES)
def test_url_is_what_django_storages_gives_for_the_bucket(bucket: Any, name: str) -> None:
    from storages.backends.s3 import S3Storage

    production = S3Storage(
        bucket_name=PRODUCTION_BUCKET,
        custom_domain=f"{bucket.server.endpoint_url.removeprefix('http://')}/{PRODUCTION_BUCKET}",
        url_protocol="http:",
        querystring_auth=False,
    )
    assert HTTPStorage(public_url(bucket)).url(name) == production.url(name)


def test_a_missing_key_and_a_key_anonymous_users_may_not_read(bucket: Any) -> None:
    storage = HTTPStorage(public_url(bucket))
    assert not storage.exists("photos/missing.jpg")  # moto: 404
    with pytest.raises(FileNotFoundError):
        storage.open("photos/missing.jpg")
    with pytest.raises(HTTPStatusError) as caught:
        storage.exists("private.jpg")  # 403: refused, not missing, by default
    assert caught.value.status == 403 and not is_transport_error(caught.value)
    assert isinstance(caught.value, OSError) and "missing_statuses" in str(caught.value)
    # S3's own 403 for a missing key: a storage told so reads it as a miss.
    bucket_like = HTTPStorage(public_url(bucket), missing_statuses=[403, 404])
    assert not bucket_like.exists("private.jpg")
    with pytest.raises(FileNotFoundError):
        bucket_like.open("private.jpg")
    only_reads(bucket)


def test_reading_part_of_an_object_asks_for_a_range(bucket: Any) -> None:
    body = bytes(range(256)) * 8192  # 2 MiB
    bucket.client.put_object(Bucket=PRODUCTION_BUCKET, Key="big.bin", Body=body, ACL="public-read")
    bucket.server.clear_requests()
    storage = HTTPStorage(public_url(bucket))
    with storage.open("big.bin") as handle:
        assert handle.read(10) == body[:10]
        handle.seek(len(body) - 5)
        assert handle.read() == body[-5:]
    with storage.open("big.bin") as handle:
        assert handle.read() == body  # two requests: the first window, the rest
    assert bucket.server.counts() == {"GET": 4}
    only_reads(bucket)


def test_an_object_stored_gzipped_is_read_as_stored(bucket: Any) -> None:
    """``Content-Encoding: gzip`` from S3's metadata: the bytes as stored, and
    their size (what ``Content-Length`` says), not decoded."""
    import gzip

    stored = gzip.compress(b"text " * 1000)
    bucket.client.put_object(
        Bucket=PRODUCTION_BUCKET,
        Key="a.txt",
        Body=stored,
        ContentEncoding="gzip",
        ACL="public-read",
    )
    storage = HTTPStorage(public_url(bucket))
    assert storage.size("a.txt") == len(stored)
    with storage.open("a.txt") as handle:
        assert handle.read() == stored and handle.size == len(stored)
