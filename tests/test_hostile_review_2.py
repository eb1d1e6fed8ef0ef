"""A hostile review of issue 21's fixes ("Hardening, second round").

Each test is an attack on one of the promises: production is never written;
dev never loses data; ``Caching`` is never stale once a write has returned; a
wrapper behaves as its storage; no extra backend requests. The first ones
found bugs (fixed with them); the others found none and stay as regression
tests of a real risk, which each one names.
"""

from __future__ import annotations

import gzip
import os
import uuid
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.contrib.staticfiles.storage import ManifestStaticFilesStorage
from django.core.cache import caches
from django.core.files.base import ContentFile
from django.core.files.storage import FileSystemStorage, InMemoryStorage, storages
from django.core.management import call_command
from django.core.management.base import CommandError

from storage_mixins import Caching, Fallback, ReadOnly, ReadOnlyError
from tests.conformance import read
from tests.conftest import PRODUCTION_BUCKET, local_over_production
from tests.test_caching_staleness import Clock, clock  # noqa: F401 - a fixture
from tests.test_remote_bytes import CSS, NAME, backend_read, pull, pulling  # noqa: F401

# -- bugs found ------------------------------------------------------------------


def test_a_stack_without_a_write_layer_can_be_asked_for_its_staticfiles_writers(
    tmp_path: Path,
) -> None:
    # dir() asks hasattr() of every public name: Fallback.post_process raised
    # ReadOnlyError on access for a stack with no write layer, so dir() (and
    # hasattr(), getattr(x, name, default)) raised, where dir() of the storage
    # works. Now it is refused when called, as ReadOnly's is.
    static = ManifestStaticFilesStorage(location=tmp_path / "static")
    for stack in (Fallback(ReadOnly(static)), Caching(Fallback(ReadOnly(static)))):
        assert {"post_process", "save_manifest"} <= set(dir(stack))
        assert hasattr(stack, "post_process")
        with pytest.raises(ReadOnlyError, match=r"post_process\(\) refused"):
            list(stack.post_process({}, dry_run=False))
        with pytest.raises(ReadOnlyError, match=r"save_manifest\(\) refused"):
            stack.save_manifest()
    assert not os.path.exists(tmp_path / "static")
    assert not hasattr(Fallback(ReadOnly(InMemoryStorage())), "post_process")


def test_a_contents_copy_lives_no_longer_than_the_listing_that_chose_its_layer(
    clock: Clock,  # noqa: F811 - the fixture
    tmp_path: Path,
) -> None:
    # The copy's entry came from a listing of the local layer (the file was
    # not there) but lived `timeout`: url() turned to the local file when the
    # listing expired, open() kept serving production's copy for 300 s.
    production = InMemoryStorage(base_url="https://production.example/")
    production.save("photos/a.jpg", ContentFile(b"production"))
    local = FileSystemStorage(location=tmp_path / "local", base_url="/local/")
    local.save("photos/other.jpg", ContentFile(b"other"))
    cached = Caching(
        Fallback(local, ReadOnly(production)),
        listings=True,
        timeout=300,
        missing_timeout=2,
        contents=FileSystemStorage(location=tmp_path / "copies"),
    )
    assert read(cached, "photos/a.jpg") == b"production"
    (tmp_path / "local/photos/a.jpg").write_bytes(b"local!")  # around the wrapper
    clock.advance(3)
    assert cached.url("photos/a.jpg") == "/local/photos/a.jpg"
    assert read(cached, "photos/a.jpg") == b"local!"


class _Flaky(InMemoryStorage):
    """A remote layer that can be taken down."""

    down = False
    opened = 0

    def exists(self, name: str) -> bool:
        if self.down:
            raise ConnectionError("down")
        return super().exists(name)

    def _open(self, name: str, mode: str = "rb") -> Any:
        if self.down:
            raise ConnectionError("down")
        self.opened += 1
        return super()._open(name, mode)


def test_a_contents_copy_made_while_a_layer_was_skipped_is_not_kept(tmp_path: Path) -> None:
    # With the primary down, the stack serves the archive's file: the copy of
    # it was remembered (and stored under the name's version, which a later
    # read took for the primary's file at the same size and second).
    primary = _Flaky(base_url="https://primary.example/")
    archive = InMemoryStorage(base_url="https://archive.example/")
    primary.save("a.txt", ContentFile(b"primary"))
    archive.save("a.txt", ContentFile(b"archive"))  # same size, same second
    cached = Caching(
        Fallback(ReadOnly(primary), ReadOnly(archive), on_error="skip", retry_after=0),
        contents=FileSystemStorage(location=tmp_path / "copies"),
    )
    primary.down = True
    assert read(cached, "a.txt") == b"archive"  # all the stack can give meanwhile
    primary.down = False
    assert cached.url("a.txt") == "https://primary.example/a.txt"
    assert read(cached, "a.txt") == b"primary"
    primary.down = True
    assert read(cached, "a.txt") == b"primary"  # a complete answer's copy is kept


def test_a_copy_kept_by_another_process_is_fetched_once_around_a_skipping_stack(
    tmp_path: Path,
) -> None:
    # The fix above names such copies apart: a process whose folder lacks the
    # copy another process's entry names fetches it once, under that name.
    primary = _Flaky()
    primary.save("a.txt", ContentFile(b"primary"))
    stack = Fallback(ReadOnly(primary), ReadOnly(InMemoryStorage()), on_error="skip")
    first, second = (
        Caching(stack, contents=FileSystemStorage(location=tmp_path / folder))
        for folder in ("first", "second")
    )
    assert read(first, "a.txt") == b"primary"
    for _ in range(3):
        assert read(second, "a.txt") == b"primary"
    assert primary.opened == 2


def test_a_command_passes_over_an_alias_that_cannot_be_built(
    s3: Any, settings: Any, use_storages: Any, tmp_path: Path
) -> None:
    # Looking for the caches to invalidate, storage_pull and storage_tombstones
    # built every alias of STORAGES: one whose backend's package is installed
    # in production only stopped them before anything was done.
    use_storages({
        **settings.STORAGES,
        **local_over_production(s3, tmp_path / "local"),
        "archive": {"BACKEND": "storages.backends.gcloud.GoogleCloudStorage"},
        "misspelt": {"BACKEND": "storage_mixins.NoSuchWrapper"},
    })  # fmt: skip
    s3.put("photos/a.jpg", b"production a")
    call_command("storage_pull", "photos", stdout=StringIO())
    assert (tmp_path / "local/photos/a.jpg").read_bytes() == b"production a"
    assert storages["default"].exists("photos/a.jpg")


# -- regression tests: attacks that found no bug -----------------------------------


def _encoded(s3: Any, key: str, body: bytes) -> None:
    s3.client.put_object(
        Bucket=s3.bucket(PRODUCTION_BUCKET), Key=key, ContentEncoding="gzip", Body=body
    )


def _outcome(storage: Any, name: str) -> tuple[bytes | None, type[BaseException] | None]:
    try:
        return backend_read(storage, name), None
    except (OSError, EOFError) as exc:
        return None, type(exc)


@pytest.mark.parametrize(
    "body",
    [b"not gzip at all", gzip.compress(CSS)[:-20], b""],
    ids=["not gzip", "truncated", "empty"],
)
def test_an_encoded_object_whose_bytes_are_not_gzip_fails_as_the_backend_does(
    s3: Any, tmp_path: Path, body: bytes
) -> None:
    """Risk: a read that decodes part of a broken object and publishes it (a
    contents copy, a copy-up) as if it were the file."""
    _encoded(s3, NAME, body)
    production = s3.storage(gzip=True)
    expected = _outcome(production, NAME)
    copies = FileSystemStorage(location=tmp_path / "copies")
    stacks = [
        Caching(production, key_prefix=uuid.uuid4().hex),
        Caching(production, key_prefix=uuid.uuid4().hex, contents=copies),
        Caching(production, key_prefix=uuid.uuid4().hex, contents=copies, max_content_size=1),
        Fallback(FileSystemStorage(location=tmp_path / "local"), ReadOnly(production)),
    ]
    for stack in stacks:
        assert _outcome(stack, NAME) == expected, stack
    if expected[1] is None:
        return
    stack = Fallback(FileSystemStorage(location=tmp_path / "local"), ReadOnly(production))
    with pytest.raises(expected[1]), stack.open(NAME, "ab") as handle:
        handle.write(b"/* dev */")
    assert [p for p in tmp_path.rglob("*") if p.is_file()] == []  # no copy, no partial file


def test_a_pull_of_an_encoded_object_that_is_not_gzip_leaves_no_file(
    s3: Any,
    pulling: Path,  # noqa: F811 - the fixture
) -> None:
    """Risk: a partial, half-decoded local file taken for the pulled one."""
    _encoded(s3, NAME, b"not gzip at all")
    with pytest.raises(CommandError, match="not copied"):
        pull("css")
    assert [p for p in pulling.rglob("*") if p.is_file()] == []


def test_a_multipart_encoded_object_is_present_once_pulled(
    s3: Any,
    pulling: Path,  # noqa: F811 - the fixture
) -> None:
    """Risk: a resume that never finds a decoded multipart object present (its
    ETag is no MD5, and the local file is not the stored bytes): a conflict
    at every run, or a copy at every run."""
    text = os.urandom(3 * 1024 * 1024).hex().encode()  # 6 MiB, stored uncompressed
    body = gzip.compress(text, compresslevel=0)
    bucket = s3.bucket(PRODUCTION_BUCKET)
    upload = s3.client.create_multipart_upload(
        Bucket=bucket, Key=NAME, ContentEncoding="gzip", ContentType="text/css"
    )
    parts = []
    for number, start in enumerate((0, 5 * 1024 * 1024), 1):
        part = s3.client.upload_part(
            Bucket=bucket, Key=NAME, UploadId=upload["UploadId"], PartNumber=number,
            Body=body[start : start + 5 * 1024 * 1024],
        )  # fmt: skip
        parts.append({"ETag": part["ETag"], "PartNumber": number})
    s3.client.complete_multipart_upload(
        Bucket=bucket, Key=NAME, UploadId=upload["UploadId"], MultipartUpload={"Parts": parts}
    )
    assert "Copied 1 file(s)" in pull("css")
    assert (pulling / NAME).read_bytes() == text
    assert "1 already present; 0 conflict(s)" in pull("css")
    assert (pulling / NAME).read_bytes() == text


def test_a_gz_name_reads_pulls_and_resumes_as_the_backend_reads_it(
    s3: Any,
    pulling: Path,  # noqa: F811 - the fixture
) -> None:
    """Risk: ``x.css.gz`` (Content-Encoding gzip from mimetypes, stored as given)
    read one way by the backend and another by the stack or the pull."""
    production = s3.storage(gzip=True)
    production.save("dumps/site.css.gz", ContentFile(gzip.compress(CSS)))
    expected = backend_read(production, "dumps/site.css.gz")  # S3File decodes it
    assert backend_read(storages["default"], "dumps/site.css.gz") == expected
    pull("dumps")
    assert (pulling / "dumps/site.css.gz").read_bytes() == expected
    assert "1 already present; 0 conflict(s)" in pull("dumps")


def test_contents_copies_stay_current_when_the_cache_evicts_everything(
    settings: Any, tmp_path: Path
) -> None:
    """Risk: a copy named by a version that eviction lost, taken for the file
    after a rewrite of the same size within the same second."""
    from tests.test_caching_staleness import _SameSecond

    settings.CACHES = {
        **settings.CACHES,
        "tiny": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "LOCATION": "h21-tiny",
            "OPTIONS": {"MAX_ENTRIES": 4, "CULL_FREQUENCY": 1},  # culls everything
        },
    }
    remote = _SameSecond()
    remote.save("a.txt", ContentFile(b"v000"))
    # Two processes: one cache, each its own contents folder.
    first, second = (
        Caching(remote, cache="tiny", contents=FileSystemStorage(location=tmp_path / folder))
        for folder in ("first", "second")
    )
    try:
        for version in range(1, 30):
            expected = f"v{version - 1:03}".encode()
            assert read(first, "a.txt") == expected
            assert read(second, "a.txt") == expected
            writer = first if version % 2 else second
            writer.delete("a.txt")
            writer.save("a.txt", ContentFile(f"v{version:03}".encode()))
            assert read(second if version % 2 else first, "a.txt") == f"v{version:03}".encode()
    finally:
        caches["tiny"].clear()
