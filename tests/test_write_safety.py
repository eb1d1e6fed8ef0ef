"""Production is never written: proved by counting requests at the S3 server."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import FileSystemStorage

from storage_mixins import Fallback, FallbackStorage, ReadOnly, ReadOnlyError
from tests.conformance import read

PRODUCTION = {
    "photos/a.jpg": b"production a",
    "photos/b.jpg": b"production b",
    "docs/report.pdf": b"%PDF production",
}

STACKS: dict[str, Callable[[Any, Any], Any]] = {
    "Fallback(fs, ReadOnly(s3))": lambda fs, s3: Fallback(fs, ReadOnly(s3)),
    "Fallback(ReadOnly(s3), fs)": lambda fs, s3: Fallback(ReadOnly(s3), fs),
    "FallbackStorage([fs, s3])": lambda fs, s3: FallbackStorage([fs, s3]),
    "FallbackStorage([fs, s3], read_only=False)": lambda fs, s3: FallbackStorage(
        [fs, s3], read_only=False
    ),
}


def every_write(stack: Any) -> None:
    """Saves, overwrites, write-mode opens and deletes, of new and production names."""
    for name in [*PRODUCTION, "photos/new.jpg", "uploads/new.txt"]:
        saved = stack.save(name, ContentFile(b"dev " + name.encode()))
        assert read(stack, saved) == b"dev " + name.encode()
        with stack.open(saved, "wb") as handle:  # overwrite the dev copy
            handle.write(b"overwritten")
        assert read(stack, saved) == b"overwritten"
        stack.delete(saved)
        assert not stack.exists(saved) or saved in PRODUCTION
    for name in PRODUCTION:
        stack.delete(name)  # only in production: nothing happens
        # Write modes go to the local layer (copying the file up first for
        # a and +), or are refused when S3 comes first: they never reach S3.
        for mode in ("wb", "ab", "r+b", "xb"):
            with (
                contextlib.suppress(FileExistsError, ReadOnlyError),
                stack.open(name, mode) as handle,
            ):
                handle.write(b"local")
        stack._save(f"{name}.copy", ContentFile(b"x"))


@pytest.mark.parametrize("make_stack", STACKS.values(), ids=STACKS.keys())
def test_no_request_mutates_the_production_bucket(
    make_stack: Any,
    s3: Any,
    tmp_path: Any,
    request: pytest.FixtureRequest,
    capsys: pytest.CaptureFixture[str],
) -> None:
    for key, data in PRODUCTION.items():
        s3.put(key, data)
    production = s3.storage()
    fs = FileSystemStorage(location=tmp_path / "local")
    fs.save("placeholder", ContentFile(b""))  # so write-mode open() has its directory
    stack = make_stack(fs, production)

    every_write(stack)

    requests = s3.server.requests("production-media")
    assert [r for r in requests if r.mutates] == []
    assert s3.snapshot() == PRODUCTION
    assert s3.server.requests() == requests  # and no other bucket was touched
    with capsys.disabled():
        counts = dict(sorted(s3.server.counts().items()))
        print(f"\n  {request.node.callspec.id}: S3 requests {counts}, mutating 0")


def test_read_only_s3_alone_sends_no_request_for_refused_writes(s3: Any) -> None:
    s3.put("photos/a.jpg", b"production a")
    guarded = ReadOnly(s3.storage())
    for write in (
        lambda: guarded.save("photos/a.jpg", ContentFile(b"x")),
        lambda: guarded.delete("photos/a.jpg"),
        lambda: guarded.open("photos/a.jpg", "wb"),
        lambda: guarded._save("photos/a.jpg", ContentFile(b"x")),
    ):
        with pytest.raises(ReadOnlyError):
            write()
    assert s3.server.requests() == []
    assert s3.snapshot() == {"photos/a.jpg": b"production a"}


def test_model_uploads_land_locally(s3: Any, tmp_path: Any, settings: Any) -> None:
    from tests.testapp.models import Document

    s3.put("documents/report.pdf", b"production report")
    # FALLBACK_STORAGES: overridden settings lose "default"'s OPTIONS on Django 4.2.
    settings.FALLBACK_STORAGES = [
        {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(tmp_path / "local")},
        },
        s3.settings(),
    ]
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {"BACKEND": "storage_mixins.FallbackStorage"},
    }
    document = Document(file="documents/report.pdf")
    assert document.file.read() == b"production report"
    document.file.close()
    document.file.save("report.pdf", ContentFile(b"dev report"), save=False)
    assert document.file.name != "documents/report.pdf"
    assert (tmp_path / "local" / document.file.name).read_bytes() == b"dev report"
    document.file.delete(save=False)
    assert [r for r in s3.server.requests() if r.mutates] == []
    assert s3.snapshot() == {"documents/report.pdf": b"production report"}


def test_a_name_the_write_layer_picks_itself_never_shadows_production(
    s3: Any, tmp_path: Any
) -> None:
    # FileSystemStorage._save renames a file whose name another writer took in
    # the meantime, with its own get_available_name: free locally, maybe not
    # in production. Here its alternative is a production name.
    s3.put("photos/b.jpg", b"production b")
    local = FileSystemStorage(location=tmp_path / "local")
    local.save("photos/a.jpg", ContentFile(b"taken meanwhile"))
    alternatives = iter(["b.jpg"])
    local.get_alternative_name = lambda root, ext: next(alternatives, f"{root}_x{ext}")
    stack = Fallback(local, ReadOnly(s3.storage()))

    saved = stack._save("photos/a.jpg", ContentFile(b"new"))

    assert saved not in ("photos/a.jpg", "photos/b.jpg")
    assert read(stack, saved) == b"new"
    assert read(stack, "photos/b.jpg") == b"production b"  # not hidden by a local copy
    assert not local.exists("photos/b.jpg")
    assert s3.server.mutations("production-media") == []
