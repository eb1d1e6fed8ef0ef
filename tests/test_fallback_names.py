"""What a Fallback accepts as a name, and what it answers for files, directories
and names that only look different: as the raw storages do."""

from __future__ import annotations

import enum
import errno
from pathlib import Path, PurePosixPath
from typing import Any

import pytest
from django.contrib.staticfiles.storage import StaticFilesStorage
from django.core.exceptions import SuspiciousFileOperation
from django.core.files.base import ContentFile
from django.core.files.storage import FileSystemStorage, InMemoryStorage
from django.template import Context, Template
from django.utils.safestring import SafeString, mark_safe

from storage_mixins import Caching, Fallback, FallbackStorage, Logging, ReadOnly
from tests.conformance import read


class Photo(enum.StrEnum):
    CAT = "photos/cat.jpg"


NAME_TYPES = {
    "str": "photos/cat.jpg",
    "SafeString": mark_safe("photos/cat.jpg"),
    "StrEnum": Photo.CAT,
    "str subclass": type("Name", (str,), {})("photos/cat.jpg"),
    "PurePosixPath": PurePosixPath("photos/cat.jpg"),
}


@pytest.fixture
def stack(tmp_path: Path) -> Fallback:
    local = FileSystemStorage(location=tmp_path / "local", base_url="/media/")
    production = InMemoryStorage(base_url="https://production.example/")
    production.save("photos/cat.jpg", ContentFile(b"production cat"))
    return Fallback(local, ReadOnly(production))


@pytest.mark.parametrize("name", NAME_TYPES.values(), ids=NAME_TYPES.keys())
def test_every_method_takes_str_subclasses_and_paths(stack: Any, name: Any) -> None:
    assert stack.exists(name)
    assert read(stack, name) == b"production cat"
    assert stack.size(name) == 14
    assert stack.url(name) == "https://production.example/photos/cat.jpg"
    assert stack.get_modified_time(name)
    assert stack.which(name) is stack.layers[1]
    assert stack.get_available_name(name) != "photos/cat.jpg"
    saved = stack.save(name, ContentFile(b"dev"))
    assert type(saved) is str and saved.startswith("photos/cat_")
    with stack.open(name, "ab") as handle:  # copy-up, then append
        handle.write(b"!")
    assert read(stack.layers[0], "photos/cat.jpg") == b"production cat!"
    assert stack.path(name) == stack.layers[0].path("photos/cat.jpg")
    stack.delete(name)
    assert stack.listdir(mark_safe("photos")) == stack.listdir("photos")


@pytest.mark.parametrize(
    "wrap", [Caching, Logging, lambda s: FallbackStorage([s])], ids=["Caching", "Logging", "FS"]
)
def test_wrappers_above_take_them_too(stack: Any, wrap: Any) -> None:
    wrapped = wrap(stack)
    for name in NAME_TYPES.values():
        assert wrapped.exists(name)
        assert wrapped.url(name).endswith("/photos/cat.jpg")


def test_static_tag_through_a_fallback_staticfiles_storage(
    tmp_path: Path, use_storages: Any, settings: Any
) -> None:
    # {% static %} and the admin's form Media give the storage SafeStrings.
    (tmp_path / "static").mkdir()
    (tmp_path / "static" / "app.css").write_text("body {}")
    settings.STATIC_ROOT = str(tmp_path / "static")
    settings.TEMPLATES = [{"BACKEND": "django.template.backends.django.DjangoTemplates"}]
    use_storages({
        "default": {"BACKEND": "django.core.files.storage.InMemoryStorage"},
        "staticfiles": {
            "BACKEND": "storage_mixins.Fallback",
            "OPTIONS": {"layers": [StaticFilesStorage(location=tmp_path / "static")]},
        },
    })  # fmt: skip
    html = Template('{% load static %}{% static "app.css" %} {% static "dir/" %}').render(Context())
    assert html == "/static/app.css /static/dir/"
    assert isinstance(mark_safe("x"), SafeString)


def test_names_that_mean_the_same_file_are_one_name(stack: Any) -> None:
    spellings = ["photos/cat.jpg", "photos//cat.jpg", "./photos/cat.jpg", "photos/./cat.jpg"]
    for spelling in spellings:
        assert stack.exists(spelling)
        assert stack.url(spelling) == "https://production.example/photos/cat.jpg"
    saved = stack.save("photos//new.jpg", ContentFile(b"dev"))
    assert saved == "photos/new.jpg"


def test_root_and_directory_urls(stack: Any) -> None:
    assert stack.url("") == stack.url(None) == "/media/"
    assert stack.url("photos/") == "/media/photos/"
    with pytest.raises(ValueError, match="The name must be given to delete"):
        stack.delete("")
    with pytest.raises(ValueError, match="The name must be given to delete"):
        stack.delete(None)


def test_other_types_are_refused(stack: Any) -> None:
    for name in (b"photos/cat.jpg", 3, None):
        with pytest.raises(TypeError, match="must be str"):
            stack.exists(name)


# -- creating a file that exists ---------------------------------------------------


@pytest.mark.parametrize("mode", ["xb", "x", "xb+"])
def test_exclusive_create_of_a_production_file_raises(stack: Any, mode: str) -> None:
    with pytest.raises(FileExistsError) as caught:
        stack.open("photos/cat.jpg", mode)
    assert caught.value.errno == errno.EEXIST
    assert not stack.layers[0].exists("photos/cat.jpg")  # nothing shadows production's
    with stack.open("photos/new.jpg", mode) as handle:
        handle.write(b"new" if "b" in mode else "new")
    assert read(stack, "photos/new.jpg") == b"new"


def test_exclusive_create_of_a_hidden_name_is_allowed(tmp_path: Path) -> None:
    production = InMemoryStorage()
    production.save("a.txt", ContentFile(b"production"))
    local = FileSystemStorage(location=tmp_path / "local")
    stack = Fallback(local, ReadOnly(production), on_delete="hide")
    stack.delete("a.txt")
    with stack.open("a.txt", "xb") as handle:
        handle.write(b"dev")
    assert read(stack, "a.txt") == b"dev"


# -- a file in one layer, a directory of that name in another -----------------------


@pytest.fixture
def clash(tmp_path: Path) -> Fallback:
    """Local has a directory ``a`` (from saving ``a/c``); production a file ``a``."""
    local = FileSystemStorage(location=tmp_path / "local", base_url="/media/")
    local.save("a/c", ContentFile(b"local c"))
    production = FileSystemStorage(location=tmp_path / "production", base_url="/prod/")
    production.save("a", ContentFile(b"production a"))
    return Fallback(local, ReadOnly(production))


def test_every_method_describes_the_file_not_the_directory(clash: Any) -> None:
    production = clash.layers[1]
    assert read(clash, "a") == b"production a"
    assert clash.which("a") is production
    assert clash.size("a") == len(b"production a")
    assert clash.get_modified_time("a") == production.get_modified_time("a")
    assert clash.url("a") == "/prod/a"
    with pytest.raises(NotImplementedError):  # production is read-only: no paths
        clash.path("a")
    assert clash.exists("a") and clash.exists("a/c")
    assert read(clash, "a/c") == b"local c"


def test_a_directory_alone_is_no_file(tmp_path: Path) -> None:
    local = FileSystemStorage(location=tmp_path / "local", base_url="/media/")
    local.save("d/c", ContentFile(b"c"))
    stack = Fallback(local, ReadOnly(InMemoryStorage(base_url="https://p/")))
    assert stack.which("d") is None
    with pytest.raises(FileNotFoundError):
        stack.size("d")
    assert stack.url("d") == "https://p/d"  # as for any missing file
    assert stack.exists("d")  # as FileSystemStorage.exists() says of a directory


def test_urls_of_legacy_backslash_names(stack: Any) -> None:
    # Django's url() (and S3) read a backslash as a slash; the admin shows
    # FileField values from old Windows uploads this way.
    assert stack.url("photos\\cat.jpg") == "https://production.example/photos/cat.jpg"
    with pytest.raises(SuspiciousFileOperation):
        stack.exists("photos\\cat.jpg")  # every other method refuses it (see names)


def test_urls_with_a_query_or_fragment_go_to_the_layer_that_has_the_file(tmp_path: Path) -> None:
    # {% static "css/app.css?v=1" %}: a manifest storage hashes the name and
    # keeps the query; the stack must route by the file, not the URL text.
    class Hashing(FileSystemStorage):
        def url(self, name: str) -> str:  # type: ignore[override]
            file, mark, rest = name.partition("?") if "?" in name else name.partition("#")
            return f"/static/{file}.HASH{mark}{rest}"

    local = Hashing(location=tmp_path / "static")
    local.save("css/app.css", ContentFile(b"body {}"))
    stack = Fallback(local, ReadOnly(InMemoryStorage(base_url="https://cdn.example/")))
    assert stack.url("css/app.css?v=1") == "/static/css/app.css.HASH?v=1"
    assert stack.url("css/app.css#top") == "/static/css/app.css.HASH#top"
    assert stack.url("css/other.css?v=1") == "https://cdn.example/css/other.css%3Fv%3D1"


def test_a_str_subclass_never_stands_in_for_another_name(stack: Any) -> None:
    # The name functions remember answers by name: a subclass that says it
    # equals anything, with another name's hash, must not poison them.
    class Impostor(str):
        def __eq__(self, other: object) -> bool:
            return True

        def __hash__(self) -> int:
            return hash("photos/cat.jpg")

    stack.exists(Impostor("photos/none.jpg"))  # what it answers is its own business
    assert stack.exists("photos/cat.jpg")
    assert stack.url("photos/cat.jpg") == "https://production.example/photos/cat.jpg"
    assert not stack.exists("photos/none.jpg")


# -- save(): Django's template, with the stack's name checks ---------------------


class Escaping(FileSystemStorage):
    """A write layer whose names leave it: an alternative with a ``..`` part
    or an absolute one, or ``_save`` answering an absolute name (what Django's three
    ``validate_file_name`` calls in ``Storage.save`` are there for)."""

    escape = ""

    def get_alternative_name(self, file_root: str, file_ext: str) -> str:
        if self.escape == "alternative":
            return "../escaped.jpg"
        if self.escape == "absolute alternative":  # inside the location, yet absolute
            return f"{self.location}/escaped.jpg"
        return f"{file_root}_2{file_ext}"

    def _save(self, name: str, content: Any) -> str:
        saved: str = super()._save(name, content)
        return f"/{saved}" if self.escape == "saved" else saved


@pytest.mark.parametrize("escape", ["alternative", "absolute alternative", "saved"])
@pytest.mark.parametrize("shadow", [False, True], ids=["", "shadow"])
@pytest.mark.parametrize("production_first", [False, True], ids=["local-first", "prod-first"])
def test_save_refuses_a_name_the_write_layer_makes_unsafe(
    tmp_path: Path, escape: str, shadow: bool, production_first: bool
) -> None:
    local, raw = Escaping(location=tmp_path / "local"), Escaping(location=tmp_path / "raw")
    for storage in (local, raw):
        storage.save("photos/cat.jpg", ContentFile(b"taken"))  # so an alternative is asked for
        storage.escape = escape
    production = ReadOnly(InMemoryStorage())
    layers = (production, local) if production_first else (local, production)
    stack = Fallback(*layers, shadow=shadow)

    for storage in (raw, stack):  # the stack refuses as Django does
        with pytest.raises(SuspiciousFileOperation):
            storage.save("photos/cat.jpg", ContentFile(b"new"))
    assert not list(tmp_path.rglob("escaped.jpg"))


def test_save_with_no_name_takes_the_contents_name_once_checked(stack: Any) -> None:
    named = ContentFile(b"named", name="uploads/dog.jpg")
    assert stack.save(None, named) == "uploads/dog.jpg"
    assert read(stack, "uploads/dog.jpg") == b"named"
    for unsafe in ("../dog.jpg", "/etc/dog.jpg"):
        with pytest.raises(SuspiciousFileOperation):
            stack.save(None, ContentFile(b"x", name=unsafe))


def test_save_wraps_plain_file_objects_as_django_does(stack: Any, tmp_path: Path) -> None:
    source = tmp_path / "plain.txt"
    source.write_bytes(b"plain")
    with source.open("rb") as handle:  # no chunks(): Storage.save wraps it in a File
        saved = stack.save("uploads/plain.txt", handle)
    assert read(stack, saved) == b"plain"
