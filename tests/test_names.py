"""Unsafe names are refused by every stack method, whatever the layer order."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.core.exceptions import SuspiciousFileOperation
from django.core.files.base import ContentFile
from django.core.files.storage import FileSystemStorage

from storage_mixins import Fallback, FallbackStorage, ReadOnly
from storage_mixins.names import validate_directory, validate_name

BAD_NAMES = [
    "../x",
    "../../etc/passwd",
    "/etc/passwd",
    "a/../../b",
    "a/../b",
    "photos/..",
    "..",
    ".",
    "",
    "a/",
    "..\\x",
    "a\\..\\..\\b",
    "\\\\server\\share\\x",
    "x\x00y",
    "photos/a\x00.jpg",
    "a\nb.txt",
    "a\rb",
    "tab\there",
    "esc\x1b[31m",
    "del\x7f",
    "c1\x85",
]

FILE_METHODS = {
    "exists": lambda s, n: s.exists(n),
    "open": lambda s, n: s.open(n),
    "open-wb": lambda s, n: s.open(n, "wb"),
    "_open": lambda s, n: s._open(n),
    "save": lambda s, n: s.save(n, ContentFile(b"x")),
    "_save": lambda s, n: s._save(n, ContentFile(b"x")),
    "delete": lambda s, n: s.delete(n),
    "size": lambda s, n: s.size(n),
    "url": lambda s, n: s.url(n),
    "path": lambda s, n: s.path(n),
    "get_accessed_time": lambda s, n: s.get_accessed_time(n),
    "get_created_time": lambda s, n: s.get_created_time(n),
    "get_modified_time": lambda s, n: s.get_modified_time(n),
    "get_available_name": lambda s, n: s.get_available_name(n),
    "which": lambda s, n: s.which(n),
}


PRODUCTION = {"x": b"production x", "b": b"production b", "etc/passwd": b"production passwd"}


@pytest.fixture(scope="module")
def s3(s3_for_module: Any) -> Iterator[Any]:
    for key, data in PRODUCTION.items():
        s3_for_module.put(key, data)
    yield s3_for_module
    assert s3_for_module.snapshot() == PRODUCTION  # nothing any test did reached it


@pytest.fixture(scope="module", params=["local-first", "production-first", "FallbackStorage"])
def stack(request: Any, s3: Any, tmp_path_factory: Any) -> Any:
    # Shared by the module's tests: none of them may change anything.
    local = FileSystemStorage(location=tmp_path_factory.mktemp("names") / "root" / "local")
    production = s3.storage()
    if request.param == "local-first":
        storage = Fallback(local, ReadOnly(production))
    elif request.param == "production-first":
        storage = Fallback(ReadOnly(production), local)
    else:
        storage = FallbackStorage([local, production])
    storage.test_local = local
    storage.test_s3 = s3
    return storage


# "" is the root directory for exists() and path(): see test_root.
CASES = [
    pytest.param(method, name, id=f"{method_name}-{name!r}")
    for method_name, method in FILE_METHODS.items()
    for name in BAD_NAMES
    if not (name == "" and method_name in ("exists", "path"))
]


@pytest.mark.parametrize(("method", "name"), CASES)
def test_bad_names_are_refused(stack: Any, method: Any, name: str) -> None:
    s3 = stack.test_s3
    s3.server.clear_requests()
    with pytest.raises(SuspiciousFileOperation):
        method(stack, name)
    # Refused before any layer was asked, and nothing created anywhere.
    assert s3.server.requests() == []
    root = Path(stack.test_local.location).parent.parent
    assert [path for path in root.rglob("*") if not path.is_dir()] == []


@pytest.mark.parametrize(
    "path", ["../", "..", "/", "/etc", "a/../../b", "x\x00", "a\\..\\..", "//"], ids=repr
)
def test_bad_directories_are_refused(stack: Any, path: str) -> None:
    stack.test_s3.server.clear_requests()
    with pytest.raises(SuspiciousFileOperation):
        stack.listdir(path)
    assert stack.test_s3.server.requests() == []


@pytest.mark.parametrize(
    "name", ["a.txt", "photos/2024/a.jpg", "./a.txt", "a..b.txt", "émoji-😀.png", "a b.txt"]
)
def test_good_names_pass(name: str) -> None:
    validate_name(name)


@pytest.mark.parametrize("path", ["", "photos", "photos/", "photos/2024/"])
def test_good_directories_pass(path: str) -> None:
    validate_directory(path)


def test_names_must_be_strings() -> None:
    with pytest.raises(TypeError, match="must be str"):
        validate_name(b"a.txt")  # type: ignore[arg-type]


def test_root(stack: Any, tmp_path: Any) -> None:
    # collectstatic asks exists("") and path("") of its storage. A stack is
    # local only if every layer is; S3 is not.
    stack.test_s3.server.clear_requests()
    assert stack.exists("") is stack.test_local.exists("")
    with pytest.raises(NotImplementedError, match="gives no local paths"):
        stack.path("")
    assert stack.test_s3.server.requests() == []
    local = Fallback(stack.test_local, FileSystemStorage(location=tmp_path / "other"))
    assert local.path("") == stack.test_local.location


def test_absolute_paths_inside_a_local_layer_address_that_layer(stack: Any) -> None:
    local = stack.test_local
    local.save("photos/a.jpg", ContentFile(b"local"))
    try:
        absolute = local.path("photos/a.jpg")
        assert stack.exists(absolute)
        assert stack.exists(local.location)
        assert stack.listdir(local.location) == (["photos"], [])
        assert stack.size(absolute) == 5
        stack.test_s3.server.clear_requests()
        with pytest.raises(SuspiciousFileOperation):
            stack.exists(local.location + "/../escape.txt")
        with pytest.raises(SuspiciousFileOperation):
            stack.exists(local.location + "-sibling/a.jpg")
        assert stack.test_s3.server.requests() == []
    finally:
        local.delete("photos/a.jpg")  # the stack is shared by the module's tests
