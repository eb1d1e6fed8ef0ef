"""ReadOnly: every write refused before I/O, every read unchanged."""

from __future__ import annotations

import pickle
from typing import Any

import pytest
from django.contrib.staticfiles.storage import ManifestStaticFilesStorage
from django.core.files.base import ContentFile
from django.core.files.storage import FileSystemStorage, Storage

from storage_mixins import ReadOnly, ReadOnlyError, ReadOnlyFile, is_read_only
from tests.conformance import read
from tests.spies import RecordingStorage


@pytest.fixture
def recording() -> RecordingStorage:
    storage = RecordingStorage(base_url="https://production.example/")
    storage.put("photos/a.jpg", b"production bytes")
    return storage


WRITES = {
    "save": lambda s: s.save("photos/a.jpg", ContentFile(b"x")),
    "save-new": lambda s: s.save("new.jpg", ContentFile(b"x")),
    "save-none": lambda s: s.save(None, ContentFile(b"x", name="n.jpg")),
    "_save": lambda s: s._save("photos/a.jpg", ContentFile(b"x")),
    "delete": lambda s: s.delete("photos/a.jpg"),
    "open-wb": lambda s: s.open("photos/a.jpg", "wb"),
    "open-w": lambda s: s.open("photos/a.jpg", "w"),
    "open-ab": lambda s: s.open("photos/a.jpg", "ab"),
    "open-xb": lambda s: s.open("new.jpg", "xb"),
    "open-r+": lambda s: s.open("photos/a.jpg", "r+"),
    "open-rb+": lambda s: s.open("photos/a.jpg", "rb+"),
    "_open-wb": lambda s: s._open("photos/a.jpg", "wb"),
}


@pytest.mark.parametrize("write", WRITES.values(), ids=WRITES.keys())
def test_writes_are_refused_before_any_io(recording: Any, write: Any) -> None:
    guarded = ReadOnly(recording)
    with pytest.raises(ReadOnlyError):
        write(guarded)
    assert recording.calls == []
    assert read(recording, "photos/a.jpg") == b"production bytes"


def test_error_names_operation_file_and_storage(recording: Any) -> None:
    with pytest.raises(ReadOnlyError) as caught:
        ReadOnly(recording).delete("photos/a.jpg")
    error = caught.value
    assert isinstance(error, PermissionError)
    assert (error.operation, error.name) == ("delete", "photos/a.jpg")
    assert str(error) == (
        "delete('photos/a.jpg') refused: ReadOnly(RecordingStorage()) is read-only"
    )
    with pytest.raises(ReadOnlyError, match=r"mode 'ab' would write"):
        ReadOnly(recording).open("photos/a.jpg", "ab")


def test_error_pickles() -> None:
    error = ReadOnlyError("save", "a.txt", "S3Storage('b')")
    copy = pickle.loads(pickle.dumps(error))
    assert (type(copy), str(copy), copy.name) == (ReadOnlyError, str(error), "a.txt")


def test_reads_are_the_wrapped_storage_s(recording: Any) -> None:
    guarded = ReadOnly(recording)
    assert guarded.exists("photos/a.jpg")
    assert read(guarded, "photos/a.jpg") == b"production bytes"
    assert guarded.size("photos/a.jpg") == 16
    assert guarded.url("photos/a.jpg") == "https://production.example/photos/a.jpg"
    assert guarded.listdir("photos") == ([], ["a.jpg"])
    assert guarded.get_modified_time("photos/a.jpg") == recording.get_modified_time("photos/a.jpg")
    assert guarded.get_available_name("photos/a.jpg") != "photos/a.jpg"


def test_is_the_wrapped_storage_to_the_outside(tmp_path: Any) -> None:
    fs = FileSystemStorage(location=tmp_path, base_url="/media/")
    guarded = ReadOnly(fs)
    assert isinstance(guarded, FileSystemStorage)
    assert isinstance(guarded, Storage)
    assert guarded.location == str(tmp_path)
    assert guarded.base_url == "/media/"
    assert guarded.__wrapped__ is fs
    assert is_read_only(guarded)
    assert not is_read_only(fs)
    assert not callable(guarded)


def test_backend_attributes_read_through(s3: Any) -> None:
    guarded = ReadOnly(s3.storage("production-media"))
    assert guarded.bucket_name == "production-media"
    assert guarded.querystring_auth is True


def test_opened_file_refuses_writes(tmp_path: Any) -> None:
    fs = FileSystemStorage(location=tmp_path)
    fs.save("a.txt", ContentFile(b"original"))
    guarded = ReadOnly(fs)
    handle = guarded.open("a.txt")
    assert isinstance(handle, ReadOnlyFile)
    with handle as same:
        assert same is handle
        assert list(handle) == [b"original"]
    # Django's File.open() would reopen the path in any mode: not through ReadOnly.
    with pytest.raises(ReadOnlyError, match="mode 'wb' would write"):
        handle.open("wb")
    for write in (handle.write, handle.writelines, handle.truncate):
        with pytest.raises(ReadOnlyError):
            write(b"x")
    assert handle.open() is handle  # reopening for reading is fine
    assert handle.read() == b"original"
    handle.close()
    assert read(fs, "a.txt") == b"original"


def test_field_file_reopen_for_writing_is_refused(tmp_path: Any) -> None:
    from django.db.models.fields.files import FieldFile

    from tests.testapp.models import Document

    fs = FileSystemStorage(location=tmp_path)
    fs.save("doc.txt", ContentFile(b"original"))
    field = Document._meta.get_field("file")
    field_file = FieldFile(Document(), field, "doc.txt")
    field_file.storage = ReadOnly(fs)
    with field_file.open("rb") as opened:
        assert opened.read() == b"original"
    with pytest.raises(ReadOnlyError):
        field_file.open("wb")
    assert read(fs, "doc.txt") == b"original"


def test_staticfiles_writers_are_refused(tmp_path: Any, settings: Any) -> None:
    settings.STATIC_ROOT = str(tmp_path)
    manifest = ManifestStaticFilesStorage(location=tmp_path)
    guarded = ReadOnly(manifest)
    with pytest.raises(ReadOnlyError, match=r"post_process\(\) refused"):
        guarded.post_process({}, dry_run=False)
    with pytest.raises(ReadOnlyError):
        guarded.save_manifest()
    assert list(tmp_path.iterdir()) == []
    # A backend without those methods does not gain them.
    plain = ReadOnly(FileSystemStorage(location=tmp_path))
    assert not hasattr(plain, "post_process")
    assert not hasattr(plain, "save_manifest")


def test_alias(settings: Any) -> None:
    from django.core.files.storage import storages

    guarded = ReadOnly("production")
    assert guarded.__wrapped__ is storages["production"]
    assert guarded.deconstruct() == ("storage_mixins.ReadOnly", ("production",), {})


@pytest.mark.parametrize(
    ("storage", "message"),
    [
        (FileSystemStorage, "got the class FileSystemStorage; pass an instance"),
        (42, "expects a storage instance or a STORAGES alias"),
    ],
)
def test_wrong_argument(storage: Any, message: str) -> None:
    with pytest.raises(TypeError, match=message):
        ReadOnly(storage)
