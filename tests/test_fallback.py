"""Fallback: routing of every method, errors, and the requests it costs."""

from __future__ import annotations

import errno
import logging
import os
from typing import Any

import pytest
from django.core.exceptions import ImproperlyConfigured, SuspiciousFileOperation
from django.core.files.base import ContentFile
from django.core.files.storage import FileSystemStorage, InMemoryStorage, Storage

from storage_mixins import Caching, Fallback, Logging, ReadOnly, ReadOnlyError, is_read_only
from tests.conformance import read
from tests.spies import FailingStorage, MinimalStorage, ReadOnlyBackend, RecordingStorage


@pytest.fixture
def upper() -> RecordingStorage:
    return RecordingStorage(base_url="https://upper.example/")


@pytest.fixture
def lower() -> RecordingStorage:
    return RecordingStorage(base_url="https://lower.example/")


# -- the stack -------------------------------------------------------------


def test_write_layer_is_the_first_layer_not_read_only(fs: Any, mem: Any) -> None:
    stack = Fallback(ReadOnly(mem), fs)
    assert stack.write_layer is fs
    assert stack.layers == (stack.layers[0], fs)
    assert isinstance(stack, FileSystemStorage)  # it proxies its write layer
    assert stack.location == fs.location
    assert stack.base_url == "/fs/"
    assert not stack.refuses_writes


def test_without_write_layer_it_proxies_the_first_layer(fs: Any, mem: Any) -> None:
    stack = Fallback(ReadOnly(mem), ReadOnly(fs))
    assert stack.write_layer is None
    assert stack.refuses_writes and is_read_only(stack)
    assert isinstance(stack, InMemoryStorage)


def test_a_backend_that_declares_it_refuses_writes_is_read_only_to_a_stack(fs: Any) -> None:
    backend = ReadOnlyBackend()
    assert is_read_only(backend)
    stack = Fallback(backend, fs)
    assert stack.write_layer is fs  # the first layer that is not read-only
    assert stack.layers[0] is backend
    assert is_read_only(Fallback(backend)) and is_read_only(Logging(backend))
    with pytest.raises(ImproperlyConfigured, match="which is read-only"):
        Fallback(backend, fs, writable=0)
    # Only a class attribute set to True counts: an instance attribute, or a
    # truthy value that is not True, says nothing.
    other = InMemoryStorage()
    other.refuses_writes = True  # type: ignore[attr-defined]
    assert not is_read_only(other)


def test_writable_selects_the_write_layer(fs: Any, fs2: Any) -> None:
    stack = Fallback(fs, fs2, writable=1)
    assert stack.write_layer is fs2
    stack.save("a.txt", ContentFile(b"x"))
    assert fs2.exists("a.txt") and not fs.exists("a.txt")
    assert repr(stack).endswith(", writable=1)")


@pytest.mark.parametrize(
    ("writable", "message"),
    [(2, "out of range"), (0, "read-only"), ("0", "layer index"), (True, "layer index")],
)
def test_invalid_writable(fs: Any, mem: Any, writable: Any, message: str) -> None:
    with pytest.raises(ImproperlyConfigured, match=message):
        Fallback(ReadOnly(mem), fs, writable=writable)


def test_needs_a_layer() -> None:
    with pytest.raises(TypeError, match="at least one storage"):
        Fallback()


def test_layers_as_keyword(fs: Any, mem: Any) -> None:
    assert Fallback(layers=[fs, ReadOnly(mem)]).layers[0] is fs
    with pytest.raises(TypeError, match="not both"):
        Fallback(fs, layers=[mem])


def test_repr_shows_the_whole_stack(s3: Any, tmp_path: Any) -> None:
    media = FileSystemStorage(location="/srv/media")
    stack = Fallback(media, ReadOnly(s3.storage("production-media")))
    expected = "Fallback(FileSystemStorage('/srv/media'), ReadOnly(S3Storage('production-media')))"
    assert repr(stack) == expected
    assert str(stack) == expected
    nested = ReadOnly(Fallback(InMemoryStorage(), media))
    assert repr(nested) == "ReadOnly(Fallback(InMemoryStorage(), FileSystemStorage('/srv/media')))"


def test_which(upper: Any, lower: Any) -> None:
    upper.put("both.txt", b"upper")
    lower.put("both.txt", b"lower")
    lower.put("lower.txt", b"lower")
    read_only_lower = ReadOnly(lower)
    stack = Fallback(upper, read_only_lower)
    assert stack.which("both.txt") is upper
    assert stack.which("lower.txt") is read_only_lower
    assert stack.which("nowhere.txt") is None


# -- reads -----------------------------------------------------------------


def test_upper_layer_shadows_lower(upper: Any, lower: Any) -> None:
    upper.put("a.txt", b"upper!")
    lower.put("a.txt", b"lower")
    stack = Fallback(upper, ReadOnly(lower))
    assert read(stack, "a.txt") == b"upper!"
    assert stack.size("a.txt") == 6
    assert stack.url("a.txt") == "https://upper.example/a.txt"
    assert lower.calls == []


def test_reads_fall_through_to_the_layer_that_has_the_file(upper: Any, lower: Any) -> None:
    lower.put("a.txt", b"lower")
    stack = Fallback(upper, ReadOnly(lower))
    assert read(stack, "a.txt") == b"lower"
    assert stack.size("a.txt") == 5
    assert stack.get_modified_time("a.txt") == lower.get_modified_time("a.txt")
    assert stack.url("a.txt") == "https://lower.example/a.txt"


def test_exists_stops_at_the_first_hit(upper: Any, lower: Any) -> None:
    upper.put("a.txt", b"x")
    stack = Fallback(upper, ReadOnly(lower))
    assert stack.exists("a.txt")
    assert lower.calls == []
    assert not stack.exists("b.txt")
    assert lower.calls == [("exists", "b.txt")]


def test_missing_everywhere_names_the_file_and_the_layers(upper: Any, lower: Any) -> None:
    stack = Fallback(upper, ReadOnly(lower))
    for call in (stack.open, stack.size, stack.get_modified_time):
        with pytest.raises(FileNotFoundError) as caught:
            call("photos/missing.jpg")
        assert caught.value.errno == errno.ENOENT
        assert caught.value.filename == "photos/missing.jpg"
        assert "RecordingStorage(), ReadOnly(RecordingStorage())" in str(caught.value)


def test_layer_without_the_method_is_skipped(upper: Any) -> None:
    minimal = MinimalStorage({"a.txt": b"minimal"})
    stack = Fallback(upper, ReadOnly(minimal))
    assert read(stack, "a.txt") == b"minimal"
    # The file exists, but only in a layer that cannot tell its size.
    with pytest.raises(NotImplementedError, match="only in ReadOnly\\(MinimalStorage\\(\\)\\)"):
        stack.size("a.txt")
    with pytest.raises(FileNotFoundError):
        stack.size("nowhere.txt")


def test_no_layer_implements_the_method() -> None:
    stack = Fallback(MinimalStorage(), ReadOnly(MinimalStorage()))
    with pytest.raises(NotImplementedError, match=r"No layer .* implements size"):
        stack.size("a.txt")


def test_not_implemented_is_skipped(upper: Any, s3: Any) -> None:
    # S3Storage does not implement get_created_time: the in-memory layer answers.
    upper.put("a.txt", b"x")
    stack = Fallback(ReadOnly(s3.storage()), upper)
    assert stack.get_created_time("a.txt") == upper.get_created_time("a.txt")


@pytest.mark.parametrize(
    "error",
    [
        ConnectionRefusedError(errno.ECONNREFUSED, "Connection refused"),
        PermissionError(errno.EACCES, "Permission denied"),
        TimeoutError("timed out"),
        SuspiciousFileOperation("rejected by the backend"),
        ValueError("bad"),
    ],
    ids=type,
)
def test_other_errors_are_raised_as_they_are(error: BaseException, lower: Any) -> None:
    lower.put("a.txt", b"x")
    broken = FailingStorage(error)
    stack = Fallback(broken, ReadOnly(lower))
    for call in (
        lambda: stack.open("a.txt"),
        lambda: stack.size("a.txt"),
        lambda: stack.exists("a.txt"),
        lambda: stack.listdir(""),
        lambda: stack.url("a.txt"),
        lambda: stack.get_modified_time("a.txt"),
    ):
        with pytest.raises(type(error)) as caught:
            call()
        assert caught.value is error
    # Nothing fell through. (url() asks the in-memory layer first, which costs
    # no request: only as it has the file is the broken layer asked at all.)
    assert lower.calls == [("exists", "a.txt")]


def test_s3_connection_error_is_raised_as_itself(fs: Any) -> None:
    from botocore.config import Config
    from botocore.exceptions import EndpointConnectionError
    from storages.backends.s3 import S3Storage

    unreachable = S3Storage(
        bucket_name="b",
        endpoint_url="http://127.0.0.1:9",  # discard port: nothing listens
        access_key="testing",
        secret_key="testing",
        region_name="us-east-1",
        client_config=Config(retries={"max_attempts": 1}, connect_timeout=1),
    )
    stack = Fallback(fs, ReadOnly(unreachable))
    fs.save("local.txt", ContentFile(b"local"))
    assert read(stack, "local.txt") == b"local"  # the dead layer is not asked
    with pytest.raises(EndpointConnectionError):
        stack.open("remote.txt")
    with pytest.raises(EndpointConnectionError):
        stack.exists("remote.txt")


def test_s3_not_found_answers_are_misses(s3: Any, fs: Any) -> None:
    # S3Storage.get_modified_time lets botocore's 404 ClientError escape.
    stack = Fallback(ReadOnly(s3.storage()), fs)
    fs.save("local.txt", ContentFile(b"x"))
    assert stack.get_modified_time("local.txt") == fs.get_modified_time("local.txt")
    with pytest.raises(FileNotFoundError):
        stack.get_modified_time("nowhere.txt")


def test_s3_forbidden_is_not_a_miss(s3: Any, fs: Any) -> None:
    from botocore.exceptions import ClientError

    forbidden = ClientError(
        {
            "Error": {"Code": "403", "Message": "Forbidden"},
            "ResponseMetadata": {"HTTPStatusCode": 403},
        },
        "HeadObject",
    )
    fs.save("a.txt", ContentFile(b"x"))
    stack = Fallback(FailingStorage(forbidden), fs)
    with pytest.raises(ClientError) as caught:
        stack.size("a.txt")
    assert caught.value is forbidden


def test_listdir_is_the_union(upper: Any, lower: Any) -> None:
    upper.put("photos/a.jpg", b"x")
    upper.put("photos/local/c.jpg", b"x")
    lower.put("photos/a.jpg", b"x")
    lower.put("photos/b.jpg", b"x")
    lower.put("photos/2024/d.jpg", b"x")
    stack = Fallback(upper, ReadOnly(lower))
    directories, files = stack.listdir("photos")
    assert directories == ["local", "2024"]
    assert files == ["a.jpg", "b.jpg"]
    assert stack.listdir("photos/local") == ([], ["c.jpg"])  # missing in lower
    assert stack.listdir("") == (["photos"], [])


def test_listdir_missing_everywhere(upper: Any, lower: Any) -> None:
    with pytest.raises(FileNotFoundError):
        Fallback(upper, ReadOnly(lower)).listdir("nowhere")


def test_url_never_asks_the_last_layer(upper: Any, lower: Any) -> None:
    stack = Fallback(upper, ReadOnly(lower))
    assert stack.url("photos/a.jpg") == "https://lower.example/photos/a.jpg"
    assert lower.methods_called() == ["url"]


def test_url_asks_a_remote_layer_only_when_a_later_layer_has_the_file(s3: Any, fs: Any) -> None:
    """Production first: a name the local layer lacks gets production's URL
    unasked (had production the file or not, that is the answer); only a name
    the local layer has costs a HEAD, to learn whether production shadows it."""
    s3.put("photos/a.jpg", b"production")
    s3.put("both.jpg", b"production")
    fs.save("uploads/mine.jpg", ContentFile(b"local"))
    fs.save("both.jpg", ContentFile(b"local"))
    production = s3.storage(querystring_auth=False)
    stack = Fallback(ReadOnly(production), fs)
    s3.server.clear_requests()
    assert stack.url("photos/a.jpg") == production.url("photos/a.jpg")
    assert stack.url("photos/nowhere.jpg") == production.url("photos/nowhere.jpg")
    assert s3.server.requests() == []
    assert stack.url("uploads/mine.jpg") == "/fs/uploads/mine.jpg"
    assert stack.url("both.jpg") == production.url("both.jpg")
    assert s3.server.counts() == {"HEAD": 2}
    # Two remote layers: the first is asked (the second may have the file),
    # the last never; a name nowhere gets the last remote layer's URL.
    archive = s3.storage("archive-media", querystring_auth=False)
    s3.put("old.jpg", b"archived", bucket="archive-media")
    stack = Fallback(ReadOnly(production), ReadOnly(archive), fs)
    s3.server.clear_requests()
    assert stack.url("old.jpg") == archive.url("old.jpg")
    assert stack.url("nowhere.jpg") == archive.url("nowhere.jpg")
    assert s3.server.counts() == {"HEAD": 2}


def test_url_passes_extra_arguments(s3: Any, fs: Any) -> None:
    stack = Fallback(fs, ReadOnly(s3.storage()))
    url = stack.url("a.jpg", parameters={"ResponseContentType": "image/jpeg"}, expire=60)
    assert "response-content-type=image%2Fjpeg" in url and "Expires=" in url


def test_path(fs: Any, fs2: Any) -> None:
    fs.save("local.txt", ContentFile(b"x"))
    fs2.save("archived.txt", ContentFile(b"x"))
    stack = Fallback(fs, ReadOnly(fs2), ReadOnly(MinimalStorage({"minimal.txt": b"x"})))
    assert stack.path("local.txt") == fs.path("local.txt")
    assert stack.path("new.txt") == fs.path("new.txt")  # missing: the write layer
    # A read-only layer hands out no path that could be written through.
    for name in ("archived.txt", "minimal.txt"):
        with pytest.raises(NotImplementedError, match="only in layers without local paths"):
            stack.path(name)
    assert Fallback(ReadOnly(fs2), fs).path("new.txt") == fs.path("new.txt")
    with pytest.raises(NotImplementedError):
        Fallback(ReadOnly(fs), ReadOnly(fs2)).path("nowhere.txt")


def test_absolute_paths_write_only_to_the_write_layer(fs: Any, fs2: Any) -> None:
    # read_only=False leaves the lower layer unwrapped: only routing protects it.
    fs2.save("x.txt", ContentFile(b"production"))
    stack = Fallback(fs, fs2, writable=0)
    absolute = fs2.path("x.txt")
    assert stack.exists(absolute)  # reads may address it
    for write in (
        lambda: stack.open(absolute, "wb"),
        lambda: stack._open(absolute, mode="ab"),
        lambda: stack.delete(absolute),
        lambda: stack.save(absolute, ContentFile(b"x")),
        lambda: stack._save(absolute, ContentFile(b"x")),
    ):
        with pytest.raises(SuspiciousFileOperation):
            write()
    assert read(fs2, "x.txt") == b"production"
    # Inside the write layer, Django's own rules apply.
    fs.save("mine.txt", ContentFile(b"mine"))
    stack.delete(fs.path("mine.txt"))
    assert not fs.exists("mine.txt")


def test_a_file_where_a_lower_layer_has_a_directory(fs: Any, s3: Any) -> None:
    # S3 holds "a" and "a/b.txt" side by side; a filesystem cannot.
    production = s3.storage()
    s3.put("a/b.txt", b"production")
    s3.put("d", b"production d")
    fs.save("a", ContentFile(b"local file named a"))
    fs.save("d/inside.txt", ContentFile(b"local"))
    stack = Fallback(fs, ReadOnly(production))
    assert stack.which("a/b.txt") is stack.layers[1]
    assert read(stack, "a/b.txt") == b"production"
    assert stack.size("a/b.txt") == 10
    assert stack.listdir("a") == ([], ["b.txt"])
    assert read(stack, "d") == b"production d"  # "d" is a directory locally


# -- writes ----------------------------------------------------------------


def test_writes_go_to_the_write_layer(upper: Any, lower: Any) -> None:
    stack = Fallback(ReadOnly(lower), upper)
    name = stack.save("a.txt", ContentFile(b"x"))
    with stack.open("b.txt", "wb") as handle:
        handle.write(b"y")
    assert upper.exists(name) and upper.exists("b.txt")
    assert [m for m in lower.methods_called() if m not in ("exists",)] == []


def test_shadow_lets_the_write_layer_hide_lower_files(
    upper: Any, lower: Any, caplog: pytest.LogCaptureFixture
) -> None:
    lower.put("css/site.css", b"production css")
    stack = Fallback(upper, ReadOnly(lower), shadow=True)
    assert repr(stack).endswith(", shadow=True)")
    with caplog.at_level(logging.INFO, logger="storage_mixins"):
        stack.delete("css/site.css")  # as collectstatic does before copying
    assert [r.levelno for r in caplog.records] == [logging.INFO]
    assert stack.save("css/site.css", ContentFile(b"dev css")) == "css/site.css"
    assert read(stack, "css/site.css") == b"dev css"
    assert read(lower, "css/site.css") == b"production css"
    # The write layer's own rules still apply to its own files.
    assert stack.save("css/site.css", ContentFile(b"again")) != "css/site.css"


def test_write_errors_never_fall_through(lower: Any) -> None:
    full = FailingStorage(OSError(errno.ENOSPC, "No space left on device"))
    full.exists = lambda name: False  # type: ignore[method-assign]
    spare = RecordingStorage()
    stack = Fallback(full, spare, writable=0)
    with pytest.raises(OSError, match="No space left") as caught:
        stack.save("a.txt", ContentFile(b"x"))
    assert caught.value is full.error
    assert "_save" not in spare.methods_called()
    assert not spare.exists("a.txt")


def test_no_write_layer_refuses_before_any_io(upper: Any, lower: Any) -> None:
    stack = Fallback(ReadOnly(upper), ReadOnly(lower))
    for write in (
        lambda: stack.save("a.txt", ContentFile(b"x")),
        lambda: stack._save("a.txt", ContentFile(b"x")),
        lambda: stack.open("a.txt", "wb"),
        lambda: stack._open("a.txt", "ab"),
    ):
        with pytest.raises(ReadOnlyError, match="has no writable layer"):
            write()
    assert upper.calls == lower.calls == []


def test_available_name_is_free_in_every_layer(upper: Any, lower: Any) -> None:
    lower.put("photo.jpg", b"production")
    stack = Fallback(upper, ReadOnly(lower))
    name = stack.get_available_name("photo.jpg")
    assert name != "photo.jpg"
    saved = stack.save("photo.jpg", ContentFile(b"dev"))
    assert saved != "photo.jpg"
    assert read(lower, "photo.jpg") == b"production"


STACK_ORDERS = {
    "Fallback(ReadOnly(s3), fs)": lambda s3, fs: Fallback(ReadOnly(s3), fs),
    "Fallback(fs, ReadOnly(s3))": lambda s3, fs: Fallback(fs, ReadOnly(s3)),
    "Caching(Fallback(ReadOnly(s3), fs))": lambda s3, fs: Caching(Fallback(ReadOnly(s3), fs)),
}


@pytest.mark.parametrize("order", STACK_ORDERS.values(), ids=STACK_ORDERS.keys())
def test_a_name_the_write_layer_has_costs_production_one_request(
    order: Any, s3: Any, fs: Any
) -> None:
    # Django's commonest save: a second upload of photo.jpg. The local disk
    # rules the name out before production is asked about it; production is
    # asked only about the name chosen (the floor: one HEAD).
    stack = order(s3.storage(), fs)
    assert stack.save("uploads/photo.jpg", ContentFile(b"1")) == "uploads/photo.jpg"
    s3.server.clear_requests()
    saved = stack.save("uploads/photo.jpg", ContentFile(b"2"))
    assert saved != "uploads/photo.jpg" and saved.startswith("uploads/photo_")
    assert [(r.method, r.key) for r in s3.server.requests()] == [("HEAD", saved)]


def test_a_name_only_production_has_is_still_refused(s3: Any, fs: Any) -> None:
    s3.put("uploads/photo.jpg", b"production")
    stack = Fallback(ReadOnly(s3.storage()), fs)
    saved = stack.save("uploads/photo.jpg", ContentFile(b"dev"))
    assert saved != "uploads/photo.jpg"
    assert read(stack, "uploads/photo.jpg") == b"production"


def _overwriting(location: Any) -> FileSystemStorage:
    return FileSystemStorage(location=location, allow_overwrite=True)


def test_overwriting_write_layer_overwrites_its_own_files(tmp_path: Any, lower: Any) -> None:
    # Avatars saved under a fixed name replace each other, as without a stack.
    overwriting = _overwriting(tmp_path / "o")
    lower.put("photo.jpg", b"production")
    stack = Fallback(overwriting, ReadOnly(lower))
    assert stack.save("avatar.jpg", ContentFile(b"1")) == "avatar.jpg"
    assert stack.save("avatar.jpg", ContentFile(b"2")) == "avatar.jpg"
    assert read(overwriting, "avatar.jpg") == b"2"
    assert overwriting.listdir("") == ([], ["avatar.jpg"])


def test_overwriting_write_layer_never_hides_another_layer(tmp_path: Any, lower: Any) -> None:
    overwriting = _overwriting(tmp_path / "o")
    lower.put("photo.jpg", b"production")
    stack = Fallback(overwriting, ReadOnly(lower))
    saved = stack.save("photo.jpg", ContentFile(b"dev"))
    assert saved != "photo.jpg" and saved.startswith("photo_")
    assert read(stack, "photo.jpg") == b"production"


def test_overwriting_s3_write_layer(s3: Any, lower: Any) -> None:
    dev = s3.storage("dev-media", file_overwrite=True)
    lower.put("photo.jpg", b"production")
    stack = Fallback(dev, ReadOnly(lower))
    first = stack.save("doc.txt", ContentFile(b"1"))
    second = stack.save("doc.txt", ContentFile(b"2"))
    assert first == second == "doc.txt"
    assert read(stack, "doc.txt") == b"2"
    assert stack.save("photo.jpg", ContentFile(b"dev")) != "photo.jpg"


class NumberedStorage(FileSystemStorage):
    """A storage whose own naming numbers duplicates: name-1.txt, name-2.txt…"""

    def get_available_name(self, name: str, max_length: int | None = None) -> str:
        root, ext = os.path.splitext(name)
        candidate, number = name, 0
        while self.exists(candidate):
            number += 1
            candidate = f"{root}-{number}{ext}"
        return candidate


def test_the_write_layer_s_own_naming_is_honoured(tmp_path: Any, lower: Any) -> None:
    numbered = NumberedStorage(location=tmp_path / "n")
    assert Fallback(numbered).save("a.txt", ContentFile(b"1")) == "a.txt"
    assert Fallback(numbered).save("a.txt", ContentFile(b"2")) == "a-1.txt"
    stack = Fallback(numbered, ReadOnly(lower))
    assert stack.save("a.txt", ContentFile(b"3")) == "a-2.txt"
    lower.put("b.txt", b"production")
    lower.put("c-1.txt", b"production")
    numbered.save("c.txt", ContentFile(b"local"))
    # A name another layer serves: free everywhere, by the stack's algorithm.
    assert stack.save("b.txt", ContentFile(b"dev")).startswith("b_")
    # The write layer's choice, c-1.txt, is production's: the stack picks again.
    assert stack.save("c.txt", ContentFile(b"dev")).startswith("c_")
    assert read(lower, "b.txt") == read(lower, "c-1.txt") == b"production"


def test_delete_removes_from_the_write_layer_only(upper: Any, lower: Any) -> None:
    upper.put("a.txt", b"dev")
    lower.put("a.txt", b"production")
    stack = Fallback(upper, ReadOnly(lower))
    stack.delete("a.txt")
    assert not upper.exists("a.txt")
    assert read(lower, "a.txt") == b"production"
    assert "delete" not in lower.methods_called()


def test_delete_of_a_file_only_in_read_only_layers_logs(
    upper: Any, lower: Any, caplog: pytest.LogCaptureFixture
) -> None:
    lower.put("a.txt", b"production")
    stack = Fallback(upper, ReadOnly(lower))
    with caplog.at_level(logging.WARNING, logger="storage_mixins"):
        stack.delete("a.txt")
    assert read(stack, "a.txt") == b"production"
    [record] = caplog.records
    assert record.levelno == logging.WARNING
    assert "delete('a.txt') did nothing" in record.getMessage()
    assert "(ReadOnly(RecordingStorage()))" in record.getMessage()


def test_delete_of_a_missing_file_is_quiet(
    upper: Any, lower: Any, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.DEBUG, logger="storage_mixins"):
        Fallback(upper, ReadOnly(lower)).delete("nowhere.txt")
    assert caplog.records == []


def test_delete_on_a_stack_without_write_layer(
    upper: Any, lower: Any, caplog: pytest.LogCaptureFixture
) -> None:
    lower.put("a.txt", b"production")
    with caplog.at_level(logging.WARNING, logger="storage_mixins"):
        Fallback(ReadOnly(upper), ReadOnly(lower)).delete("a.txt")
    assert lower.exists("a.txt")
    assert len(caplog.records) == 1


def test_names_and_valid_names_are_the_write_layer_s(fs: Any, mem: Any) -> None:
    class Custom(FileSystemStorage):
        def get_valid_name(self, name: str) -> str:
            return f"custom-{name}"

    custom = Custom(location=fs.location)
    stack = Fallback(ReadOnly(mem), custom)
    assert stack.get_valid_name("a.txt") == "custom-a.txt"
    assert stack.generate_filename("dir/a.txt") == "dir/custom-a.txt"


# -- nesting ---------------------------------------------------------------


def test_stacks_nest_in_any_order(fs: Any, fs2: Any, mem: Any) -> None:
    mem.save("deep.txt", ContentFile(b"deep"))
    inner = Fallback(fs, ReadOnly(mem))
    outer = Fallback(inner, ReadOnly(fs2))
    assert read(outer, "deep.txt") == b"deep"
    name = outer.save("new.txt", ContentFile(b"new"))
    assert fs.exists(name)
    guarded = ReadOnly(inner)
    with pytest.raises(ReadOnlyError):
        guarded.save("x.txt", ContentFile(b"x"))
    assert read(guarded, "deep.txt") == b"deep"
    assert isinstance(outer, Storage) and isinstance(guarded, FileSystemStorage)
