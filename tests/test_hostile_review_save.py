"""Hostile review of ``Fallback.save`` running Django's save template itself
(``writes.save_through``): it must refuse, with ``SuspiciousFileOperation``,
every name Django's ``Storage.save`` refuses (a name given, a content's name,
a name the write layer chooses or answers), whatever the stack's shape and
whatever sits above it, and no refused save may write outside the write layer."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from django.core.exceptions import SuspiciousFileOperation
from django.core.files.base import ContentFile, File
from django.core.files.storage import FileSystemStorage

from storage_mixins import Caching, Fallback, FallbackStorage, Logging, ReadOnly
from storage_mixins.core.names import validate_name

# Names Django's Storage.save refuses (SuspiciousFileOperation) before any write.
# "{local}" and "{production}" stand for the layers' locations.
UNSAFE = [
    "../x.jpg",
    "photos/../../x.jpg",
    "photos/../x.jpg",
    "..",
    ".",
    "photos/.",
    "photos/..",
    "photos/",
    "photos\\..\\..\\x.jpg",
    "/x.jpg",
    "{production}/x.jpg",
    "{production}/../x.jpg",
]


def files(root: Path) -> set[Path]:
    return {path for path in root.rglob("*") if path.is_file()}


def layers(tmp_path: Path) -> tuple[FileSystemStorage, FileSystemStorage]:
    local = FileSystemStorage(location=tmp_path / "local")
    production = FileSystemStorage(location=tmp_path / "production")
    production.save("photos/cat.jpg", ContentFile(b"production"))
    return local, production


def spelled(name: str, tmp_path: Path) -> str:
    return name.format(local=tmp_path / "local", production=tmp_path / "production")


@pytest.mark.parametrize("how", ["name", "content.name", "plain file"])
@pytest.mark.parametrize("name", UNSAFE)
def test_a_stack_refuses_what_django_refuses(tmp_path: Path, name: str, how: str) -> None:
    local, production = layers(tmp_path)
    name = spelled(name, tmp_path)
    raw = FileSystemStorage(location=tmp_path / "raw")
    stacks = [
        Fallback(local, ReadOnly(production)),
        Fallback(ReadOnly(production), local),
        Fallback(local, ReadOnly(production), on_delete="hide"),
        Fallback(local, ReadOnly(production), shadow=True),
        Logging(Caching(Fallback(local, ReadOnly(production)))),
    ]
    before = files(tmp_path)
    for storage in (raw, *stacks):
        if how == "plain file":  # no chunks(): the template wraps it in a File
            source = tmp_path / "source.bin"
            source.write_bytes(b"x")
            before.add(source)
            with source.open("rb") as handle, pytest.raises(SuspiciousFileOperation):
                storage.save(name, handle)
            continue
        given, content = (name, ContentFile(b"x")) if how == "name" else (None, File(None, name))
        if how == "content.name":
            content = ContentFile(b"x", name=name)
        with pytest.raises(SuspiciousFileOperation):
            storage.save(given, content)
    assert files(tmp_path) == before


class Escaping(FileSystemStorage):
    """A write layer whose ``where`` (``get_available_name``,
    ``get_alternative_name`` or ``_save``) answers ``escape``, a name Django's
    template refuses."""

    where = ""
    escape = ""

    def get_available_name(self, name: str, max_length: int | None = None) -> str:
        if self.where == "get_available_name":
            return self.escape
        return super().get_available_name(name, max_length=max_length)

    def get_alternative_name(self, file_root: str, file_ext: str) -> str:
        if self.where == "get_alternative_name":
            return self.escape
        return f"{file_root}_2{file_ext}"

    def _save(self, name: str, content: Any) -> str:
        saved: str = super()._save(name, content)
        return self.escape if self.where == "_save" else saved


ESCAPES = [
    "../escaped.jpg",
    "photos/../../escaped.jpg",
    "photos\\..\\..\\escaped.jpg",
    "/escaped.jpg",
    "{local}/escaped.jpg",
    "{production}/escaped.jpg",
    "{production}/photos/cat.jpg",
    "photos/..",
    "",
]

SHAPES = {
    "local first": lambda local, production: Fallback(local, ReadOnly(production)),
    "production first": lambda local, production: Fallback(ReadOnly(production), local),
    "writable=": lambda local, production: Fallback(production, local, writable=1),
    "shadow": lambda local, production: Fallback(local, ReadOnly(production), shadow=True),
    "hide": lambda local, production: Fallback(local, ReadOnly(production), on_delete="hide"),
    "wrapped": lambda local, production: Logging(Caching(Fallback(local, ReadOnly(production)))),
    "allow_overwrite": None,  # the write layer overwrites: its own name is kept
}


CASES = [
    (where, escape)
    for where in ("get_available_name", "get_alternative_name", "_save")
    for escape in ESCAPES
    # As a constant alternative, photos/.. and "" name what exists (a
    # directory): Django's own get_available_name, the raw storage's too,
    # asks for another alternative forever.
    if not (where == "get_alternative_name" and escape in ("photos/..", ""))
]


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize(("where", "escape"), CASES)
def test_a_stack_refuses_a_name_its_write_layer_makes_unsafe(
    tmp_path: Path, where: str, escape: str, shape: str
) -> None:
    options = {"allow_overwrite": True} if shape == "allow_overwrite" else {}
    local = Escaping(location=tmp_path / "local", **options)
    raw = Escaping(location=tmp_path / "raw", **options)
    production = FileSystemStorage(location=tmp_path / "production")
    production.save("photos/cat.jpg", ContentFile(b"production"))
    for storage in (local, raw):
        storage.save("photos/cat.jpg", ContentFile(b"taken"))  # so an alternative is asked for
        storage.where, storage.escape = where, spelled(escape, tmp_path)
    make = SHAPES[shape] or SHAPES["local first"]
    stack = make(local, production)
    before = files(tmp_path / "production")

    if where != "get_alternative_name" or not options:  # (an overwriting one asks none)
        with pytest.raises(SuspiciousFileOperation):  # Django's template refuses it
            raw.save("photos/cat.jpg", ContentFile(b"new"))
    for name in ("photos/cat.jpg", "photos/dog.jpg"):  # in production, or in no layer
        try:
            saved = stack.save(name, ContentFile(b"new"))
        except SuspiciousFileOperation:
            continue
        # The stack chose a name without asking what is unsafe (another layer
        # has the name, or it is free): it must be safe, and in the write layer.
        validate_name(saved)
        assert local.exists(saved)
    assert files(tmp_path / "production") == before
    assert (tmp_path / "production" / "photos" / "cat.jpg").read_bytes() == b"production"
    assert not list(tmp_path.rglob("escaped.jpg"))


class Chooser(Fallback):
    """A Fallback subclass that chooses, or answers, names of its own."""

    escape = ""
    where = ""

    def get_available_name(self, name: str, max_length: int | None = None) -> str:
        chosen: str = super().get_available_name(name, max_length=max_length)
        return self.escape if self.where == "get_available_name" else chosen

    def _save(self, name: str, content: Any) -> str:
        saved: str = super()._save(name, content)
        return self.escape if self.where == "_save" else saved


@pytest.mark.parametrize("escape", ESCAPES)
@pytest.mark.parametrize("where", ["get_available_name", "_save"])
def test_a_subclass_choosing_an_unsafe_name_is_refused(
    tmp_path: Path, where: str, escape: str
) -> None:
    local, production = layers(tmp_path)
    stack = Chooser(local, ReadOnly(production))
    stack.where, stack.escape = where, spelled(escape, tmp_path)
    with pytest.raises(SuspiciousFileOperation):
        stack.save("photos/dog.jpg", ContentFile(b"new"))
    assert files(tmp_path / "production") == {tmp_path / "production" / "photos" / "cat.jpg"}
    assert not list(tmp_path.rglob("escaped.jpg"))


def test_a_settings_built_stack_refuses_its_write_layers_unsafe_name(tmp_path: Path) -> None:
    layers(tmp_path)  # production has photos/cat.jpg
    stack = FallbackStorage(
        [
            {"BACKEND": f"{__name__}.Escaping", "OPTIONS": {"location": str(tmp_path / "local")}},
            {"BACKEND": "django.core.files.storage.FileSystemStorage",
             "OPTIONS": {"location": str(tmp_path / "production")}},
        ]
    )  # fmt: skip
    stack.layers[0].where, stack.layers[0].escape = "get_available_name", "../escaped.jpg"
    with pytest.raises(SuspiciousFileOperation):
        stack.save("photos/dog.jpg", ContentFile(b"new"))
    assert not list(tmp_path.rglob("escaped.jpg"))


class Flipping(ContentFile):
    """Content whose name is safe when first asked, then unsafe: the save
    must use the name it checked."""

    def __init__(self, later: str) -> None:
        super().__init__(b"x")
        self.asked = 0
        self.later = later

    @property  # type: ignore[override]  # File's name is an attribute
    def name(self) -> str:
        self.asked += 1
        return "photos/dog.jpg" if self.asked == 1 else self.later

    @name.setter
    def name(self, value: Any) -> None:
        pass


@pytest.mark.parametrize("later", ["../escaped.jpg", "{local}/escaped.jpg", "{production}/x.jpg"])
def test_a_content_name_that_changes_once_checked_is_refused(tmp_path: Path, later: str) -> None:
    local, production = layers(tmp_path)
    stack = Fallback(local, ReadOnly(production))
    try:  # the name checked is the name saved, or the save is refused
        assert stack.save(None, Flipping(spelled(later, tmp_path))) == "photos/dog.jpg"
    except SuspiciousFileOperation:
        assert not files(tmp_path / "local")
    assert files(tmp_path) - files(tmp_path / "local") == {
        tmp_path / "production" / "photos" / "cat.jpg"
    }


@pytest.mark.parametrize("answer", [None, b"photos/dog.jpg", 7])
@pytest.mark.parametrize("where", ["get_available_name", "_save"])
def test_a_name_of_the_wrong_type_raises_what_django_raises(
    tmp_path: Path, where: str, answer: Any
) -> None:
    local, production = layers(tmp_path)
    stack = Chooser(local, ReadOnly(production))
    stack.where, stack.escape = where, answer

    class Raw(FileSystemStorage):  # the same answer, from a raw storage
        def get_available_name(self, name: str, max_length: int | None = None) -> str:
            return answer if where == "get_available_name" else name  # type: ignore[no-any-return]

        def _save(self, name: str, content: Any) -> str:
            saved: str = super()._save(name, content)
            return answer if where == "_save" else saved  # type: ignore[no-any-return]

    raw = Raw(location=tmp_path / "raw")
    try:
        raw.save("photos/dog.jpg", ContentFile(b"new"))
    except Exception as exc:  # noqa: BLE001  # what Django raises, to compare with
        expected: type[BaseException] | None = type(exc)
    else:
        expected = None
    if expected is None:  # Django takes bytes; the stack's check refuses a name not str
        with pytest.raises(TypeError):
            stack.save("photos/dog.jpg", ContentFile(b"new"))
    else:
        with pytest.raises(expected):
            stack.save("photos/dog.jpg", ContentFile(b"new"))
    assert files(tmp_path / "production") == {tmp_path / "production" / "photos" / "cat.jpg"}


def test_a_path_object_whose_str_differs_is_refused_as_django_does(tmp_path: Path) -> None:
    class Odd(os.PathLike[str]):
        def __fspath__(self) -> str:
            return "photos/dog.jpg"

        def __str__(self) -> str:
            return "../escaped.jpg"

    local, production = layers(tmp_path)
    raw = FileSystemStorage(location=tmp_path / "raw")
    stack = Fallback(local, ReadOnly(production))
    for storage in (raw, stack):
        with pytest.raises(SuspiciousFileOperation):
            storage.save(None, ContentFile(b"x", name=Odd()))  # type: ignore[arg-type]


def test_an_unsafe_saved_name_moves_no_other_file(tmp_path: Path) -> None:
    """A write layer's ``_save`` answering ``photos/../x.jpg`` (the dev file
    ``x.jpg``, which production also has): the stack used to copy that file to
    new names, again and again, before the template refused the name."""

    class Answering(FileSystemStorage):
        def _save(self, name: str, content: Any) -> str:
            super()._save(name, content)
            return "photos/../x.jpg"

    local, production = layers(tmp_path)
    FileSystemStorage(location=local.location).save("x.jpg", ContentFile(b"dev"))
    production.save("x.jpg", ContentFile(b"production"))
    stack = Fallback(Answering(location=local.location), ReadOnly(production))
    with pytest.raises(SuspiciousFileOperation):
        stack.save("photos/new.jpg", ContentFile(b"new"))
    assert files(tmp_path / "local") == {
        tmp_path / "local" / "x.jpg",
        tmp_path / "local" / "photos" / "new.jpg",  # written, as Django's template leaves it
    }
