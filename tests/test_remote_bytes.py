"""Every path that reads a remote object's bytes gives what the backend's own
``open()`` gives: gzip-encoded objects decoded (``S3Storage(gzip=True)``), one
version of an object per streamed file, and a streamed file that looks like
the backend's ``S3File``. On moto, over HTTP."""

from __future__ import annotations

import contextlib
import gzip
import os
import pickle
import uuid
from collections.abc import Iterator
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.cache import caches
from django.core.files.base import ContentFile
from django.core.files.storage import FileSystemStorage, storages
from django.core.management import call_command
from django.core.management.base import CommandError

from storage_mixins import Caching, Fallback, ReadOnly, ReadOnlyError, ReadOnlyFile
from storage_mixins.backends.s3 import objects
from storage_mixins.core.errors import FileChangedError
from tests.conftest import PRODUCTION_BUCKET

CSS = b"body { color: red }\n" * 200  # compresses well: stored far smaller
NAME = "css/site.css"


@contextlib.contextmanager
def opened(storage: Any, name: str) -> Iterator[Any]:
    """``storage.open(name, "rb")``, closed after: an ``S3File`` that decodes
    closes its GzipFile, never the spooled file under it (django-storages)."""
    handle = storage.open(name, "rb")
    try:
        yield handle
    finally:
        spool = getattr(getattr(handle, "_file", None), "fileobj", None)
        handle.close()
        if spool is not None:
            spool.close()


def backend_read(storage: Any, name: str) -> bytes:
    with opened(storage, name) as handle:
        data: bytes = handle.read()
    return data


def stored(s3: Any, key: str) -> dict[str, Any]:
    response = s3.client.get_object(Bucket=PRODUCTION_BUCKET, Key=key)
    return {**response, "Body": response["Body"].read()}


def object_gets(s3: Any, key: str) -> int:
    return sum(1 for r in s3.server.requests() if r.method == "GET" and r.key == key)


def cached(storage: Any, **options: Any) -> Caching:
    return Caching(storage, key_prefix=uuid.uuid4().hex, **options)


@pytest.fixture
def gzipped(s3: Any) -> Any:
    """Production as django-storages' ``gzip=True`` writes it: CSS stored gzip-encoded."""
    production = s3.storage(gzip=True)
    production.save(NAME, ContentFile(CSS))
    raw = stored(s3, NAME)
    assert raw["ContentEncoding"] == "gzip" and raw["Body"][:2] == b"\x1f\x8b"
    assert backend_read(production, NAME) == CSS  # S3File decodes it
    s3.server.clear_requests()
    return production


# -- 1. gzip-encoded objects ---------------------------------------------------

STACKS = {
    "listings": lambda gz, fs: cached(gz),
    "listings over ReadOnly": lambda gz, fs: cached(ReadOnly(gz)),
    "no listings": lambda gz, fs: cached(gz, listings=False),
    "contents": lambda gz, fs: cached(gz, contents=fs),
    "streamed, over max_content_size": lambda gz, fs: cached(gz, contents=fs, max_content_size=8),
    "stack": lambda gz, fs: cached(Fallback(fs, ReadOnly(gz))),
}


@pytest.mark.parametrize("make", STACKS.values(), ids=STACKS.keys())
def test_a_gzip_encoded_object_reads_as_the_backend_gives_it(
    gzipped: Any, tmp_path: Path, make: Any
) -> None:
    stack = make(gzipped, FileSystemStorage(location=tmp_path / "local"))
    with opened(stack, NAME) as handle:
        assert handle.read(10) == CSS[:10]
        handle.seek(3000)
        assert handle.read(10) == CSS[3000:3010]
        handle.seek(0)
        assert handle.read() == CSS
        assert b"".join(handle.chunks(1000)) == CSS
    assert backend_read(stack, NAME) == CSS  # and again, from whatever it kept


def test_appending_to_a_gzip_encoded_production_file_copies_up_the_decoded_bytes(
    gzipped: Any, fs: FileSystemStorage
) -> None:
    stack = Fallback(fs, ReadOnly(gzipped))
    with stack.open(NAME, "ab") as handle:
        handle.write(b"/* dev */\n")
    assert backend_read(fs, NAME) == CSS + b"/* dev */\n"
    assert backend_read(stack, NAME) == CSS + b"/* dev */\n"


def test_an_encoded_object_of_a_backend_that_does_not_decode_stays_encoded(
    s3: Any, fs: FileSystemStorage
) -> None:
    # S3Storage gives a .gz file Content-Encoding: gzip (mimetypes' guess);
    # without gzip=True, its S3File serves the stored bytes as they are.
    production = s3.storage()
    archive = gzip.compress(CSS)
    production.save("dumps/site.css.gz", ContentFile(archive))
    assert stored(s3, "dumps/site.css.gz")["ContentEncoding"] == "gzip"
    assert backend_read(production, "dumps/site.css.gz") == archive
    assert backend_read(cached(production), "dumps/site.css.gz") == archive
    stack = Fallback(fs, ReadOnly(production))
    with stack.open("dumps/site.css.gz", "ab") as handle:
        handle.write(b"")
    assert backend_read(fs, "dumps/site.css.gz") == archive


@pytest.fixture
def pulling(s3: Any, settings: Any, use_storages: Any, tmp_path: Path) -> Path:
    """STORAGES: a FallbackStorage of tmp_path/local over a gzip=True production."""
    use_storages({
        **settings.STORAGES,
        "default": {
            "BACKEND": "storage_mixins.FallbackStorage",
            "OPTIONS": {"backends": ["local", "production"]},
        },
        "local": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(tmp_path / "local")},
        },
        "production": s3.settings(gzip=True),
    })  # fmt: skip
    return tmp_path / "local"


def pull(*arguments: str) -> str:
    out = StringIO()
    call_command("storage_pull", *arguments, stdout=out, stderr=StringIO())
    return out.getvalue()


def test_a_pull_writes_the_decoded_bytes_and_a_resume_finds_them_present_without_a_get(
    gzipped: Any, s3: Any, pulling: Path
) -> None:
    s3.put("css/logo.png", b"\x89PNG not encoded")
    stack = storages["default"]
    before = backend_read(stack, NAME)
    assert "Copied 2 file(s)" in pull("css")
    assert (pulling / NAME).read_bytes() == CSS
    assert backend_read(storages["default"], NAME) == before == CSS
    s3.server.clear_requests()
    assert "Copied 0 file(s), 0 bytes; 2 already present; 0 conflict(s)" in pull("css")
    # The listing, and a HEAD to learn that css/site.css is gzip-encoded (its
    # listed size and ETag are the compressed bytes'): no object is read.
    assert s3.server.counts() == {"GET": 1, "HEAD": 1}
    assert object_gets(s3, NAME) == 0


def test_a_local_copy_left_compressed_by_an_earlier_pull_is_a_conflict(
    gzipped: Any, s3: Any, pulling: Path
) -> None:
    (pulling / "css").mkdir(parents=True)
    (pulling / NAME).write_bytes(stored(s3, NAME)["Body"])  # the stored, encoded bytes
    with pytest.raises(CommandError, match="1 file\\(s\\) not copied"):
        pull("css")
    assert "Copied 1 file(s)" in pull("css", "--force")
    assert (pulling / NAME).read_bytes() == CSS


def test_a_pulled_encoded_file_that_was_edited_locally_is_a_conflict(
    gzipped: Any, s3: Any, pulling: Path
) -> None:
    pull("css")
    (pulling / NAME).write_bytes(CSS.replace(b"red", b"tan"))  # same size, other bytes
    with pytest.raises(CommandError, match="1 file\\(s\\) not copied"):
        pull("css")
    (pulling / NAME).write_bytes(CSS + b"/* more */")
    with pytest.raises(CommandError, match="1 file\\(s\\) not copied"):
        pull("css")
    assert (pulling / NAME).read_bytes() == CSS + b"/* more */"


def test_an_encoded_object_not_compressed_as_django_storages_does_is_compared_by_its_bytes(
    s3: Any, pulling: Path
) -> None:
    # Another tool's gzip (another level, a file name in the header): the
    # local file cannot be recompressed to the ETag, so the bytes decide.
    s3.client.put_object(Bucket=s3.bucket(PRODUCTION_BUCKET), Key=NAME, ContentEncoding="gzip",
                         Body=gzip.compress(CSS, compresslevel=1))  # fmt: skip
    pull("css")
    assert (pulling / NAME).read_bytes() == CSS
    s3.server.clear_requests()
    assert "1 already present" in pull("css")
    assert object_gets(s3, NAME) == 1


def test_progress_never_counts_down_past_zero_when_decoded_files_outgrow_the_listing() -> None:
    from storage_mixins.management.commands._progress import Progress

    progress = Progress(StringIO(), StringIO(), 1, total_bytes=len(gzip.compress(CSS)))
    progress.add_bytes(len(CSS))  # the decoded bytes, more than listed
    progress.file_done()
    assert "about 0 s left" in progress.line()


def test_an_expired_contents_copy_of_an_encoded_object_is_fetched_again(
    gzipped: Any, s3: Any, tmp_path: Path
) -> None:
    # Its size once decoded is not the size the storage reports (the stored,
    # compressed one), so size and modification time cannot vouch for the copy.
    stack = cached(gzipped, contents=FileSystemStorage(location=tmp_path / "copies"))
    assert backend_read(stack, NAME) == CSS
    assert backend_read(stack, NAME) == CSS
    assert object_gets(s3, NAME) == 1
    caches["default"].clear()  # every entry expired; the copy stays on disk
    assert backend_read(stack, NAME) == CSS
    assert object_gets(s3, NAME) == 2


# -- 3. one version per streamed file ------------------------------------------

OLD = bytes(range(256)) * 1024  # 256 KiB: past the stream's 64 KiB buffer
NEW = OLD[::-1]


@pytest.mark.parametrize("contents", [False, True], ids=["listings", "over max_content_size"])
def test_a_streamed_file_never_mixes_two_versions_of_an_object(
    s3: Any, tmp_path: Path, contents: bool
) -> None:
    s3.put("data/v.bin", OLD)
    options = {"contents": FileSystemStorage(location=tmp_path), "max_content_size": 1}
    stack = cached(s3.storage(), **(options if contents else {}))
    with stack.open("data/v.bin", "rb") as handle:
        assert handle.read(10) == OLD[:10]
        s3.put("data/v.bin", NEW)  # production replaces it meanwhile
        assert handle.read(10) == OLD[10:20]  # the response under way is the old version
        handle.seek(200_000)
        with pytest.raises(FileChangedError, match=r"'data/v\.bin' changed") as raised:
            handle.read(10)
        assert isinstance(raised.value, OSError) and raised.value.name == "data/v.bin"
        assert str(pickle.loads(pickle.dumps(raised.value))) == str(raised.value)
    with stack.open("data/v.bin", "rb") as handle:  # opened again: the new version
        handle.seek(200_000)
        assert handle.read(10) == NEW[200_000:200_010]


def test_a_streamed_file_whose_object_is_deleted_says_it_changed(s3: Any) -> None:
    s3.put("data/v.bin", OLD)
    with cached(s3.storage()).open("data/v.bin", "rb") as handle:
        handle.read(10)
        s3.client.delete_object(Bucket=PRODUCTION_BUCKET, Key="data/v.bin")
        handle.seek(200_000)
        with pytest.raises(FileChangedError, match=r"'data/v\.bin' changed"):
            handle.read(10)


def test_a_gzip_encoded_stream_rewound_after_a_change_raises(s3: Any) -> None:
    text = os.urandom(100_000).hex().encode()  # compressed, still past the 64 KiB buffer
    put = {"Bucket": s3.bucket(PRODUCTION_BUCKET), "Key": NAME, "ContentEncoding": "gzip"}
    s3.client.put_object(**put, Body=gzip.compress(text))
    with cached(s3.storage(gzip=True)).open(NAME, "rb") as handle:
        assert handle.read(150_000) == text[:150_000]
        s3.client.put_object(**put, Body=gzip.compress(text.upper()))
        handle.seek(0)  # GzipFile rewinds: a new request from byte 0
        with pytest.raises(FileChangedError, match=NAME):
            handle.read(10)


def test_a_server_that_ignores_if_match_is_caught_by_the_etag_of_its_answer(
    s3: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    original = objects.s3_get

    def ignoring(s3_object: Any, name: str, **arguments: Any) -> Any:
        arguments.pop("IfMatch", None)
        return original(s3_object, name, **arguments)

    monkeypatch.setattr(objects, "s3_get", ignoring)
    s3.put("data/v.bin", OLD)
    with cached(s3.storage()).open("data/v.bin", "rb") as handle:
        handle.read(10)
        s3.put("data/v.bin", NEW)
        handle.seek(200_000)
        with pytest.raises(FileChangedError, match=r"'data/v\.bin' changed"):
            handle.read(10)


# -- the streamed file looks like the backend's own ----------------------------

MISSING = object()


LAYERS = {
    "writable": lambda production, fs: production,
    "ReadOnly": lambda production, fs: ReadOnly(production),
    "stack": lambda production, fs: Fallback(fs, ReadOnly(production)),
}


@pytest.mark.parametrize("make", LAYERS.values(), ids=LAYERS.keys())
@pytest.mark.parametrize("contents", [False, True], ids=["listings", "over max_content_size"])
def test_a_streamed_file_has_the_mode_name_and_repr_of_the_backends_file(
    s3: Any, tmp_path: Path, make: Any, contents: bool
) -> None:
    production = s3.storage(location="media")
    production.save("a/b.txt", ContentFile(b"bytes"))
    storage = make(production, FileSystemStorage(location=tmp_path / "local"))
    read_only = storage is not production
    options = {"contents": FileSystemStorage(location=tmp_path / "copies"), "max_content_size": 1}
    stack = cached(storage, **(options if contents else {}))
    # S3File's name is the key cleaned (a backslash read as a slash), which a
    # Fallback refuses.
    for name in ("a/b.txt",) if isinstance(storage, Fallback) else ("a/b.txt", "a\\b.txt"):
        with storage.open(name, "rb") as raw, stack.open(name, "rb") as streamed:
            assert type(raw.__wrapped__ if read_only else raw).__name__ == "S3File"
            assert (type(streamed) is ReadOnlyFile) == (type(raw) is ReadOnlyFile) == read_only
            assert repr(streamed) == repr(raw)
            assert streamed.name == raw.name
            assert getattr(streamed, "mode", MISSING) == getattr(raw, "mode", MISSING)
            assert streamed.size == raw.size
            expected = ReadOnlyError if read_only else AttributeError
            with pytest.raises(expected):
                raw.write(b"x")
            with pytest.raises(expected):
                streamed.write(b"x")
            assert streamed.read() == raw.read() == b"bytes"
