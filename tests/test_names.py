"""Unsafe names are refused by every stack method, whatever the layer order."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.core.exceptions import SuspiciousFileOperation
from django.core.files.base import ContentFile
from django.core.files.storage import FileSystemStorage

from storage_mixins import Caching, Fallback, FallbackStorage, Logging, ReadOnly, ReadOnlyError
from storage_mixins.core.names import file_name, validate_directory, validate_name
from storage_mixins.core.stack import find_router
from tests.conformance import read
from tests.conftest import PRODUCTION_BUCKET

CORPUS_FILE = Path(__file__).with_name("hostile_names.json")
CORPUS = json.loads(CORPUS_FILE.read_text(encoding="utf-8"))
REFUSED = [case["name"] for case in CORPUS if case["expect"] == "refused"]
# Odd but harmless names, which every layer stores as the same file.
LITERAL = [case["name"] for case in CORPUS if case["expect"] == "literal"]

METHODS = {
    "exists": lambda s, n: s.exists(n),
    "open": lambda s, n: s.open(n).close(),
    "open-wb": lambda s, n: s.open(n, "wb").close(),
    "open-ab": lambda s, n: s.open(n, "ab").close(),
    "open-r+b": lambda s, n: s.open(n, "r+b").close(),
    "_open": lambda s, n: s._open(n).close(),
    "save": lambda s, n: s.save(n, ContentFile(b"x")),
    "_save": lambda s, n: s._save(n, ContentFile(b"x")),
    "delete": lambda s, n: s.delete(n),
    "size": lambda s, n: s.size(n),
    "url": lambda s, n: s.url(n),
    "path": lambda s, n: s.path(n),
    "listdir": lambda s, n: s.listdir(n),
    "get_accessed_time": lambda s, n: s.get_accessed_time(n),
    "get_created_time": lambda s, n: s.get_created_time(n),
    "get_modified_time": lambda s, n: s.get_modified_time(n),
    "get_available_name": lambda s, n: s.get_available_name(n),
    "generate_filename": lambda s, n: s.generate_filename(n),
    "which": lambda s, n: find_router(s).which(n),
}
# Each name is also saved in production first (where S3 takes it), so that
# reads find it there and writes have a production copy to leave alone.
PRODUCTION = {"x": b"production x", "b": b"production b", "etc/passwd": b"production passwd"}

STACKS: dict[str, Any] = {
    "local-first": lambda local, s3: Fallback(local, ReadOnly(s3)),
    "production-first": lambda local, s3: Fallback(ReadOnly(s3), local),
    "FallbackStorage": lambda local, s3: FallbackStorage([local, s3]),
    "hide": lambda local, s3: Fallback(local, ReadOnly(s3), on_delete="hide"),
    "Caching": lambda local, s3: Caching(Fallback(local, ReadOnly(s3))),
    "Logging": lambda local, s3: Logging(Fallback(local, ReadOnly(s3)), level="INFO"),
}

# What a method may raise for a safe name besides FileNotFoundError, and why.
EXPECTED_ERRORS: dict[Any, tuple[type[Exception], ...]] = {
    # S3 has no local paths, nor access or creation times (nor does Django's base Storage).
    METHODS["path"]: (NotImplementedError,),
    METHODS["get_accessed_time"]: (NotImplementedError,),
    METHODS["get_created_time"]: (NotImplementedError,),
    # Django's get_valid_name: "Could not derive file name from ' '".
    METHODS["generate_filename"]: (SuspiciousFileOperation,),
}
# A name as long as a filesystem allows leaves no room for the suffix of an
# alternative name, when production has that name already.
NO_ROOM = "a" * 255
EXPECTED_ERRORS_NO_ROOM = {
    METHODS["save"]: (SuspiciousFileOperation,),
    METHODS["get_available_name"]: (SuspiciousFileOperation,),
    # _save() of a name the write layer has: FileSystemStorage renames, itself.
    METHODS["_save"]: (OSError,),
}

# Names in the corpus that some methods take as the root or a directory.
DIRECTORY_NAMES = {
    METHODS["exists"]: {""},
    METHODS["path"]: {""},
    METHODS["url"]: {"", "./", "a/"},
    METHODS["delete"]: {""},  # ValueError, as Django's: see test_root
    METHODS["listdir"]: {"", ".", "./", "a/"},
}

# An absolute path that a name in the corpus aims at; it must never appear.
ESCAPE_TARGET = Path("/tmp/storage-mixins-hostile")


@pytest.fixture(scope="module")
def s3(s3_for_module: Any) -> Iterator[Any]:
    for key, data in PRODUCTION.items():
        s3_for_module.put(key, data)
    raw = s3_for_module.storage()
    for name in LITERAL:
        raw.save(name, ContentFile(b"production " + name.encode()))
    seeded = s3_for_module.snapshot()
    yield s3_for_module
    assert s3_for_module.snapshot() == seeded  # nothing any test did reached it


@pytest.fixture(params=STACKS)
def stack(request: Any, s3: Any, tmp_path: Any) -> Any:
    # The local layer sits deep in a sandbox: anything written outside it is an escape.
    local = FileSystemStorage(location=tmp_path / "sandbox" / "root" / "local")
    storage = STACKS[request.param](local, s3.storage())
    storage.test_local = local
    storage.test_s3 = s3
    storage.test_sandbox = tmp_path / "sandbox"
    storage.test_first_layer_read_only = request.param == "production-first"
    return storage


def _safe(name: str) -> bool:
    try:
        validate_name(name)
    except SuspiciousFileOperation:
        return False
    return True


def test_corpus_is_broad() -> None:
    assert len(CORPUS) >= 60
    kinds = " ".join(case["kind"] for case in CORPUS)
    for kind in ("traversal", "encoded", "absolute", "drive letter", "UNC", "backslash",
                 "NUL", "over 1024 bytes", "NFKC", "trailing dot", "trailing space",
                 "empty", "dot dot", "reserved"):  # fmt: skip
        assert kind in kinds, kind


@pytest.mark.parametrize("method", METHODS.values(), ids=METHODS.keys())
def test_refused_names_are_refused_before_any_layer_is_asked(stack: Any, method: Any) -> None:
    cwd_before = sorted(os.listdir())
    wrong = []
    for name in REFUSED:
        if name in DIRECTORY_NAMES.get(method, ()):
            continue  # the root directory, or a directory: see test_root
        if method is METHODS["url"] and _safe(name.replace("\\", "/")):
            continue  # url() reads a backslash as a slash, as Django's does
        stack.test_s3.server.clear_requests()
        try:
            answer = method(stack, name)
        except SuspiciousFileOperation:
            pass
        except Exception as exc:  # noqa: BLE001 - reported below, with the name
            wrong.append(f"{name[:60]!r}: {type(exc).__name__}: {exc}"[:300])
        else:
            if method is METHODS["generate_filename"]:
                validate_name(answer)  # Django makes "a\\b" "a/b": the result must be safe
            else:
                wrong.append(f"{name[:60]!r}: accepted")
        if stack.test_s3.server.requests():
            wrong.append(f"{name[:60]!r}: sent {stack.test_s3.server.requests()}")
    assert wrong == []
    assert files_under(stack.test_sandbox) == []
    assert not ESCAPE_TARGET.exists()
    assert sorted(os.listdir()) == cwd_before


# The literal names make real requests to S3 (thousands): run once, in the
# reliability environment, not in every Django x Python pair.
@pytest.mark.reliability
@pytest.mark.parametrize("method", METHODS.values(), ids=METHODS.keys())
def test_literal_names_are_plain_files(stack: Any, method: Any) -> None:
    """Odd names that are safe are answered like any other name: the file, or
    not found; and whatever is written lands in the local layer only."""
    s3 = stack.test_s3
    s3.server.clear_requests()
    wrong = []
    expected = (FileNotFoundError, *EXPECTED_ERRORS.get(method, ()))
    if stack.test_first_layer_read_only:
        expected += (ReadOnlyError,)  # a write that production's copy would hide
    for name in LITERAL:
        allowed = (
            expected + EXPECTED_ERRORS_NO_ROOM.get(method, ()) if name == NO_ROOM else expected
        )
        try:
            method(stack, name)
        except allowed:
            pass
        except Exception as exc:  # noqa: BLE001 - reported below, with the name
            wrong.append(f"{name[:60]!r}: {type(exc).__name__}: {exc}"[:300])
    assert wrong == []
    assert s3.server.mutations(PRODUCTION_BUCKET) == []
    local_root = Path(stack.test_local.location)
    assert [p for p in files_under(stack.test_sandbox) if local_root not in p.parents] == []


@pytest.mark.reliability
@pytest.mark.parametrize("name", LITERAL, ids=lambda name: repr(name[:30]))
def test_literal_names_round_trip(stack: Any, name: str) -> None:
    assert stack.exists(name)
    assert read(stack, name) == b"production " + name.encode()
    if name == NO_ROOM:
        with pytest.raises(SuspiciousFileOperation, match="too long"):
            stack.save(name, ContentFile(b"dev"))
        return
    saved = stack.save(name, ContentFile(b"dev"))
    assert saved != name  # production has it: a new name, which shadows nothing
    assert read(stack, saved) == b"dev"
    assert Path(stack.test_local.path(saved)).read_bytes() == b"dev"
    directory, _, base = saved.rpartition("/")
    assert base in stack.listdir(directory)[1]
    stack.delete(saved)
    assert not stack.exists(saved)
    assert read(stack, name) == b"production " + name.encode()


def files_under(root: Path) -> list[Path]:
    return [path for path in root.rglob("*") if not path.is_dir()] if root.exists() else []


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
    # The root and directories have URLs, as Django gives them ({% static "dir/" %}).
    # They are the write layer's, whose base_url the stack shows.
    assert stack.url("") == stack.url(None) == stack.url("./") == stack.base_url == "/media/"
    assert stack.url("a/") == stack.url("a//") == "/media/a/"
    for name in ("", None):
        with pytest.raises(ValueError, match="The name must be given to delete"):
            stack.delete(name)
    assert stack.test_s3.server.requests() == []
    local = Fallback(stack.test_local, FileSystemStorage(location=tmp_path / "other"))
    assert local.path("") == stack.test_local.location
    assert local.url("") == "/media/"


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


def test_a_str_subclass_that_lies_about_equality_never_passes_its_own_text() -> None:
    class Liar(str):
        __slots__ = ()

        def __eq__(self, other: object) -> bool:
            return True

        def __hash__(self) -> int:
            return hash("photos/liar-test.jpg")

    with pytest.raises(SuspiciousFileOperation):
        file_name(Liar("../../etc/passwd"))  # nothing remembered to stand in for
    assert file_name("photos/liar-test.jpg") == "photos/liar-test.jpg"
    answer = file_name(Liar("../../etc/passwd"))
    assert answer == "photos/liar-test.jpg" and answer.__class__ is str
    assert str.__str__(answer) == "photos/liar-test.jpg"  # the remembered name, validated
