"""Overlay semantics: delete policies and tombstones, copy-up, shadowing rules."""

from __future__ import annotations

import dataclasses
import logging
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.exceptions import ImproperlyConfigured, SuspiciousFileOperation
from django.core.files.base import ContentFile
from django.core.files.storage import FileSystemStorage, InMemoryStorage, storages
from django.core.management import call_command
from django.core.management.base import CommandError

from storage_mixins import Fallback, FallbackStorage, ReadOnly, ReadOnlyError, describe
from storage_mixins.wrappers.fallback.tombstones import TOMBSTONE_PREFIX
from tests.conformance import read

PRODUCTION = {
    "photos/a.jpg": b"production a",
    "photos/b.jpg": b"production b",
    "docs/report.pdf": b"%PDF production",
}


@pytest.fixture
def production(s3: Any) -> Any:
    for key, body in PRODUCTION.items():
        s3.put(key, body)
    return s3.storage()


@pytest.fixture
def local(tmp_path: Path) -> FileSystemStorage:
    return FileSystemStorage(location=tmp_path / "local", base_url="/media/")


# -- delete policies -----------------------------------------------------------


def test_ignore_is_the_default(local: Any, production: Any, caplog: Any) -> None:
    stack = Fallback(local, ReadOnly(production))
    with caplog.at_level(logging.WARNING, logger="storage_mixins"):
        stack.delete("photos/a.jpg")
    assert stack.exists("photos/a.jpg")
    assert "did nothing" in caplog.text


def test_raise(local: Any, production: Any, s3: Any) -> None:
    stack = Fallback(local, ReadOnly(production), on_delete="raise")
    with pytest.raises(ReadOnlyError, match='on_delete="raise"'):
        stack.delete("photos/a.jpg")
    stack.delete("nowhere.jpg")  # a missing file is not an error
    local.save("mine.txt", ContentFile(b"x"))
    stack.delete("mine.txt")  # nor a local one
    assert not local.exists("mine.txt")
    assert s3.snapshot() == PRODUCTION


def test_hide_answers_as_if_the_file_did_not_exist(local: Any, production: Any, s3: Any) -> None:
    stack = Fallback(local, ReadOnly(production), on_delete="hide")
    stack.delete("photos/a.jpg")
    assert not stack.exists("photos/a.jpg")
    assert stack.which("photos/a.jpg") is None
    for call in (stack.open, stack.size, stack.get_modified_time):
        with pytest.raises(FileNotFoundError, match="hidden by a tombstone"):
            call("photos/a.jpg")
    assert stack.listdir("photos") == ([], ["b.jpg"])
    assert stack.listdir("") == (["docs", "photos"], [])  # no reserved directory
    assert stack.url("photos/a.jpg") == production.url("photos/a.jpg")  # as for missing
    assert stack.path("photos/a.jpg") == local.path("photos/a.jpg")
    # The read-only layer is untouched.
    assert [r for r in s3.server.requests() if r.mutates] == []
    assert s3.snapshot() == PRODUCTION


def test_hide_also_hides_a_deleted_local_copy_s_twin(local: Any, production: Any) -> None:
    stack = Fallback(local, ReadOnly(production), on_delete="hide")
    local.save("photos/b.jpg", ContentFile(b"local b"))
    assert read(stack, "photos/b.jpg") == b"local b"
    stack.delete("photos/b.jpg")
    # Otherwise production's copy would reappear.
    assert not local.exists("photos/b.jpg")
    assert not stack.exists("photos/b.jpg")


def test_saving_again_clears_the_tombstone(local: Any, production: Any) -> None:
    stack = Fallback(local, ReadOnly(production), on_delete="hide")
    stack.delete("photos/a.jpg")
    assert stack.save("photos/a.jpg", ContentFile(b"dev a")) == "photos/a.jpg"
    assert read(stack, "photos/a.jpg") == b"dev a"
    assert stack.which("photos/a.jpg") is local
    assert "a.jpg" in stack.listdir("photos")[1]
    stack.delete("docs/report.pdf")
    Path(local.location, "docs").mkdir()  # FileSystemStorage.open() makes no directories
    with stack.open("docs/report.pdf", "wb") as handle:
        handle.write(b"written")
    assert read(stack, "docs/report.pdf") == b"written"


def test_tombstones_persist_across_instances(settings: Any, use_storages: Any, s3: Any) -> None:
    # Two FallbackStorage instances: two processes, or a restart.
    for key, body in PRODUCTION.items():
        s3.put(key, body)
    use_storages({**settings.STORAGES, **_stack_settings(s3)})
    first = FallbackStorage(["local", "s3"], on_delete="hide")
    first.delete("photos/a.jpg")
    storages._storages.clear()
    second = FallbackStorage(["local", "s3"], on_delete="hide")
    assert second.layers[0] is not first.layers[0]
    assert not second.exists("photos/a.jpg")
    assert second.exists("photos/b.jpg")


def test_tombstones_in_a_remote_write_layer(s3: Any, production: Any) -> None:
    dev = s3.storage("dev-media")
    first = Fallback(dev, ReadOnly(production), on_delete="hide")
    second = Fallback(dev, ReadOnly(production), on_delete="hide")
    assert second.exists("photos/a.jpg")  # loads the (empty) list of tombstones once
    first.delete("photos/a.jpg")
    assert not first.exists("photos/a.jpg")
    s3.server.clear_requests()
    assert [first.exists("photos/b.jpg") for _ in range(3)] == [True] * 3
    # Checking tombstones costs no request once they are loaded.
    assert s3.server.counts(bucket="dev-media")["GET"] == 0
    second._self_tombstones.refresh_after = 0  # as after its refresh interval
    assert not second.exists("photos/a.jpg")
    assert s3.snapshot() == PRODUCTION


def test_the_reserved_prefix(local: Any, production: Any) -> None:
    stack = Fallback(local, ReadOnly(production), on_delete="hide")
    stack.delete("photos/a.jpg")
    for name in (f"{TOMBSTONE_PREFIX}photos/a.jpg", ".storage-mixins/x", "./.storage-mixins/x"):
        with pytest.raises(SuspiciousFileOperation, match="reserves"):
            stack.exists(name)
        with pytest.raises(SuspiciousFileOperation):
            stack.save(name, ContentFile(b"x"))
    with pytest.raises(SuspiciousFileOperation):
        stack.listdir(".storage-mixins")
    assert ".storage-mixins" not in stack.listdir("")[0]
    # Reserved whatever the delete policy.
    with pytest.raises(SuspiciousFileOperation):
        Fallback(local, ReadOnly(production)).open(".storage-mixins/tombstones/x")


def test_hide_needs_a_write_layer(production: Any) -> None:
    with pytest.raises(ImproperlyConfigured, match="keeps tombstones in the write layer"):
        Fallback(ReadOnly(production), on_delete="hide")
    with pytest.raises(ImproperlyConfigured, match="on_delete must be one of"):
        Fallback(InMemoryStorage(), on_delete="shred")


def test_storage_tombstones_command(settings: Any, use_storages: Any, s3: Any) -> None:
    for key, body in PRODUCTION.items():
        s3.put(key, body)
    use_storages(
        {
            **settings.STORAGES,
            **_stack_settings(s3),
            "media": {
                "BACKEND": "storage_mixins.FallbackStorage",
                "OPTIONS": {"backends": ["local", "s3"], "on_delete": "hide"},
            },
            "plain": {
                "BACKEND": "storage_mixins.FallbackStorage",
                "OPTIONS": {"backends": ["local", "s3"]},
            },
        }
    )
    media = storages["media"]
    media.delete("photos/a.jpg")
    media.delete("docs/report.pdf")
    out = StringIO()
    call_command("storage_tombstones", "--storage", "media", stdout=out)
    assert out.getvalue() == "docs/report.pdf\nphotos/a.jpg\n2 tombstone(s)\n"
    out = StringIO()
    call_command("storage_tombstones", "--storage", "media", "--clear", "photos/a.jpg", stdout=out)
    assert "photos/a.jpg: cleared" in out.getvalue()
    assert media.exists("photos/a.jpg")
    call_command("storage_tombstones", "--storage", "media", "--clear", stdout=StringIO())
    assert media.exists("docs/report.pdf")
    with pytest.raises(CommandError, match="keeps no tombstones"):
        call_command("storage_tombstones", "--storage", "plain")


def test_fallback_storage_and_describe_show_the_policies(local: Any, production: Any) -> None:
    stack = FallbackStorage([local, production], on_delete="hide", on_error="skip")
    assert repr(stack).endswith(", on_delete='hide', on_error='skip')")
    assert describe(stack).splitlines()[0] == (
        "FallbackStorage  (writes go to [0], on_delete='hide', on_error='skip')"
    )


# -- copy-up and shadowing -------------------------------------------------------


@pytest.mark.parametrize(("mode", "written", "expected"), [
    ("ab", b" + dev", b"production a + dev"),
    ("r+b", b"PRODUCTION", b"PRODUCTION a"),
    ("a+b", b"!", b"production a!"),
])  # fmt: skip
def test_copy_up(
    local: Any, production: Any, s3: Any, mode: str, written: bytes, expected: bytes
) -> None:
    stack = Fallback(local, ReadOnly(production))
    with stack.open("photos/a.jpg", mode) as handle:
        handle.write(written)
    assert (Path(local.location) / "photos" / "a.jpg").read_bytes() == expected
    assert read(stack, "photos/a.jpg") == expected  # the copy now shadows production's
    assert stack.which("photos/a.jpg") is local
    assert [r for r in s3.server.requests() if r.mutates] == []
    assert s3.snapshot() == PRODUCTION


def test_a_copy_up_never_replaces_a_file_saved_meanwhile(
    local: Any, production: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Issue 21: the copy-up renamed production's bytes over a file saved in
    # the write layer while they were being fetched. The saved file is the
    # one the append then goes to.
    from storage_mixins.services import streaming

    original = streaming.open_stream

    def opened(source: Any, name: str, *args: Any, **kwargs: Any) -> Any:
        stream = original(source, name, *args, **kwargs)

        def chunks() -> Any:
            local.save("photos/a.jpg", ContentFile(b"saved meanwhile"))
            yield from stream.chunks

        return dataclasses.replace(stream, chunks=chunks())

    monkeypatch.setattr(streaming, "open_stream", opened)
    stack = Fallback(local, ReadOnly(production))
    with stack.open("photos/a.jpg", "ab") as handle:
        handle.write(b" + dev")
    assert (Path(local.location) / "photos" / "a.jpg").read_bytes() == b"saved meanwhile + dev"
    assert [p.name for p in Path(local.location, "photos").iterdir()] == ["a.jpg"]


def test_write_modes_that_replace_do_not_copy(local: Any, production: Any, s3: Any) -> None:
    stack = Fallback(local, ReadOnly(production))
    Path(local.location, "photos").mkdir(parents=True)
    s3.server.clear_requests()
    with stack.open("photos/a.jpg", "wb") as handle:
        handle.write(b"new")
    assert s3.server.counts()["GET"] == 0
    assert read(stack, "photos/a.jpg") == b"new"


def test_writes_hidden_by_an_earlier_read_only_layer_are_refused(
    local: Any, production: Any, s3: Any
) -> None:
    stack = Fallback(ReadOnly(production), local)
    for write in (
        lambda: stack.open("photos/a.jpg", "wb"),
        lambda: stack.open("photos/a.jpg", "ab"),
        lambda: stack._save("photos/a.jpg", ContentFile(b"x")),
    ):
        with pytest.raises(ReadOnlyError, match="comes before the write layer and serves"):
            write()
    # A name production does not serve is fine, and save() picks such names.
    assert stack.save("photos/a.jpg", ContentFile(b"dev")) != "photos/a.jpg"
    with stack.open("photos/new.jpg", "wb") as handle:
        handle.write(b"x")
    assert s3.snapshot() == PRODUCTION


def test_shadow_true_still_refuses_invisible_writes(local: Any, production: Any) -> None:
    stack = Fallback(ReadOnly(production), local, shadow=True)
    with pytest.raises(ReadOnlyError, match="would be invisible"):
        stack.save("photos/a.jpg", ContentFile(b"dev"))


def _stack_settings(s3: Any) -> dict[str, Any]:
    return {
        "local": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(Path(storages["local"].location) / "shared")},
        },
        "s3": s3.settings(),
    }
