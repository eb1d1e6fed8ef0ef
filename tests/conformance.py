"""The storage contract, as a reusable suite (in the spirit of PyFilesystem2's
``FSTestCases``).

A test class mixes in the contracts that apply and provides a ``subject``
fixture returning a :class:`Subject`. ``tests/test_conformance.py`` runs them
over every stack shape on ``FileSystemStorage``, ``InMemoryStorage`` and
``S3Storage``.
"""

from __future__ import annotations

import contextlib
import datetime
import io
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import pytest
from django.core.files.base import ContentFile, File
from django.core.files.storage import Storage

from storage_mixins import ReadOnlyError
from tests.conftest import tree


@dataclass
class Subject:
    """A storage under test and where its readable files come from."""

    storage: Any
    # The raw backend that ``seed`` writes to: the lowest layer, so that reads
    # have to find the file through every wrapper above it.
    seed_into: Any
    writable: bool
    # Raw backends behind ReadOnly: nothing done through the subject may
    # change them. (For a read-only subject, every backend.)
    protected: list[Any] = field(default_factory=list)
    seeded: dict[int, dict[str, bytes]] = field(default_factory=dict)

    def seed(self, name: str, data: bytes) -> None:
        saved = self.seed_into.save(name, ContentFile(data))
        assert saved == name, f"seed name taken: {saved}"
        self.seeded.setdefault(id(self.seed_into), {})[name] = data

    def snapshot(self) -> list[dict[str, bytes]]:
        return [tree(backend) for backend in self.protected or [self.seed_into]]

    def assert_protected_unchanged(self) -> None:
        """Each protected backend holds exactly what the test seeded into it."""
        for backend in self.protected:
            assert tree(backend) == self.seeded.get(id(backend), {}), backend


def read(storage: Any, name: str) -> bytes:
    with storage.open(name, "rb") as handle:
        return handle.read()


SubjectFactory = Callable[[Callable[[str], Any]], Subject]


class ReadContract:
    """What every storage, writable or not, must do."""

    def test_is_a_storage(self, subject: Subject) -> None:
        assert isinstance(subject.storage, Storage)

    def test_exists(self, subject: Subject) -> None:
        subject.seed("present.txt", b"x")
        assert subject.storage.exists("present.txt") is True
        assert subject.storage.exists("absent.txt") is False

    def test_open_reads_the_bytes(self, subject: Subject) -> None:
        subject.seed("photos/a.jpg", b"\x89PNG bytes")
        with subject.storage.open("photos/a.jpg") as handle:
            assert handle.read() == b"\x89PNG bytes"

    def test_open_in_chunks(self, subject: Subject) -> None:
        data = bytes(range(256)) * 1000
        subject.seed("big.bin", data)
        with subject.storage.open("big.bin", "rb") as handle:
            assert b"".join(handle.chunks(chunk_size=4096)) == data

    def test_open_missing_file(self, subject: Subject) -> None:
        with pytest.raises(FileNotFoundError):
            subject.storage.open("absent.txt")

    def test_size(self, subject: Subject) -> None:
        subject.seed("sized.txt", b"12345")
        assert subject.storage.size("sized.txt") == 5

    def test_size_of_missing_file(self, subject: Subject) -> None:
        with pytest.raises(FileNotFoundError):
            subject.storage.size("absent.txt")

    def test_modified_time_is_aware(self, subject: Subject) -> None:
        subject.seed("timed.txt", b"x")
        modified = subject.storage.get_modified_time("timed.txt")
        assert modified.tzinfo is not None
        age = datetime.datetime.now(datetime.UTC) - modified
        assert abs(age) < datetime.timedelta(minutes=5)

    @pytest.mark.parametrize("method", ["get_accessed_time", "get_created_time"])
    def test_other_times_answer_or_say_unsupported(self, subject: Subject, method: str) -> None:
        # A file that exists is never reported missing, even by a stack whose
        # holder cannot answer.
        subject.seed("timed.txt", b"x")
        try:
            value = getattr(subject.storage, method)("timed.txt")
        except NotImplementedError:
            return
        assert isinstance(value, datetime.datetime)

    def test_listdir(self, subject: Subject) -> None:
        subject.seed("top.txt", b"x")
        subject.seed("photos/2024/a.jpg", b"x")
        subject.seed("photos/b.jpg", b"x")
        directories, files = subject.storage.listdir("")
        assert "photos" in directories
        assert "top.txt" in files
        directories, files = subject.storage.listdir("photos")
        assert (directories, sorted(files)) == (["2024"], ["b.jpg"])
        assert subject.storage.listdir("photos/") == (directories, files)

    def test_url(self, subject: Subject) -> None:
        subject.seed("photos/my photo.jpg", b"x")
        url = subject.storage.url("photos/my photo.jpg")
        assert quote("photos/my photo.jpg") in url

    def test_get_available_name(self, subject: Subject) -> None:
        subject.seed("taken.txt", b"x")
        assert subject.storage.get_available_name("free.txt") == "free.txt"
        alternative = subject.storage.get_available_name("taken.txt")
        assert alternative != "taken.txt"
        assert alternative.startswith("taken_") and alternative.endswith(".txt")
        truncated = subject.storage.get_available_name("taken.txt", max_length=14)
        assert truncated.startswith("ta_") and len(truncated) == 14

    def test_generate_filename(self, subject: Subject) -> None:
        assert subject.storage.generate_filename("dir/my file!.txt") == "dir/my_file.txt"
        assert subject.storage.get_valid_name("my file!.txt") == "my_file.txt"


class WriteContract:
    """What a storage that accepts writes must do."""

    @pytest.fixture(autouse=True)
    def _writes_never_reach_protected_backends(self, subject: Subject) -> Iterator[None]:
        yield
        subject.assert_protected_unchanged()

    def test_save_and_read_back(self, subject: Subject) -> None:
        name = subject.storage.save("uploads/new.txt", ContentFile(b"new bytes"))
        assert name == "uploads/new.txt"
        assert subject.storage.exists(name)
        assert subject.storage.size(name) == 9
        with subject.storage.open(name) as handle:
            assert handle.read() == b"new bytes"
        assert "new.txt" in subject.storage.listdir("uploads")[1]

    def test_save_plain_file_object(self, subject: Subject) -> None:
        name = subject.storage.save("plain.bin", io.BytesIO(b"plain"))
        assert read(subject.storage, name) == b"plain"

    def test_save_file_without_name_uses_content_name(self, subject: Subject) -> None:
        name = subject.storage.save(None, File(io.BytesIO(b"named"), name="named.txt"))
        assert name == "named.txt"

    def test_save_twice_keeps_both(self, subject: Subject) -> None:
        first = subject.storage.save("twice.txt", ContentFile(b"first"))
        second = subject.storage.save("twice.txt", ContentFile(b"second"))
        assert first != second
        assert read(subject.storage, first) == b"first"
        assert read(subject.storage, second) == b"second"

    def test_save_never_shadows_a_readable_file(self, subject: Subject) -> None:
        subject.seed("existing.txt", b"original")
        name = subject.storage.save("existing.txt", ContentFile(b"upload"))
        assert name != "existing.txt"
        assert read(subject.storage, "existing.txt") == b"original"
        assert read(subject.storage, name) == b"upload"

    def test_save_respects_max_length(self, subject: Subject) -> None:
        subject.storage.save("abcdefgh.txt", ContentFile(b"x"))
        name = subject.storage.save("abcdefgh.txt", ContentFile(b"y"), max_length=15)
        assert len(name) <= 15 and name != "abcdefgh.txt"

    def test_open_for_writing(self, subject: Subject) -> None:
        # FileSystemStorage only creates directories in save(), not in open().
        subject.storage.save("existing.txt", ContentFile(b""))
        with subject.storage.open("written.txt", "wb") as handle:
            handle.write(b"written")
        assert read(subject.storage, "written.txt") == b"written"

    def test_delete(self, subject: Subject) -> None:
        name = subject.storage.save("doomed.txt", ContentFile(b"x"))
        subject.storage.delete(name)
        assert not subject.storage.exists(name)

    def test_delete_missing_file_is_not_an_error(self, subject: Subject) -> None:
        subject.storage.delete("never-existed.txt")


class ReadOnlyContract:
    """What a storage that must never be written does."""

    @pytest.mark.parametrize(
        "write",
        [
            lambda storage: storage.save("new.txt", ContentFile(b"x")),
            lambda storage: storage.save("existing.txt", ContentFile(b"x")),
            lambda storage: storage._save("existing.txt", ContentFile(b"x")),
            lambda storage: storage.open("existing.txt", "wb"),
            lambda storage: storage.open("existing.txt", "ab"),
            lambda storage: storage.open("existing.txt", "r+b"),
            lambda storage: storage.open("new.txt", "xb"),
            lambda storage: storage._open("existing.txt", "wb"),
        ],
        ids=[
            "save-new",
            "save-existing",
            "_save",
            "open-w",
            "open-a",
            "open-r+",
            "open-x",
            "_open-w",
        ],
    )
    def test_writes_are_refused(self, subject: Subject, write: Any) -> None:
        subject.seed("existing.txt", b"original")
        before = subject.snapshot()
        with pytest.raises(ReadOnlyError):
            write(subject.storage)
        assert subject.snapshot() == before

    def test_delete_leaves_the_file(self, subject: Subject) -> None:
        subject.seed("existing.txt", b"original")
        before = subject.snapshot()
        with contextlib.suppress(ReadOnlyError):
            subject.storage.delete("existing.txt")
        assert subject.storage.exists("existing.txt")
        assert subject.snapshot() == before

    def test_opened_file_cannot_be_reopened_for_writing(self, subject: Subject) -> None:
        subject.seed("existing.txt", b"original")
        handle = subject.storage.open("existing.txt")
        handle.read()
        handle.close()
        with pytest.raises(ReadOnlyError):
            handle.open("wb")
        with pytest.raises(ReadOnlyError):
            handle.write(b"x")
        assert read(subject.storage, "existing.txt") == b"original"
