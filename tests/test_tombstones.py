"""Tombstones (``on_delete="hide"``): a hidden name hides that file, and nothing else.

Each test here is a case in which the tombstones of 0.1.0 answered wrongly.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import FileSystemStorage, InMemoryStorage

from storage_mixins import Caching, Fallback, ReadOnly
from storage_mixins.wrappers.fallback.tombstones import Tombstones, marker_name, name_of_marker
from tests.conformance import read

PRODUCTION = {
    "a": b"production file a",
    "a/b": b"production a/b",  # S3 holds a file and a "directory" of one name
    "photos/cat.jpg": b"production cat",
    "photos/dog.jpg": b"production dog",
    "d/x.jpg": b"production x",
}


@pytest.fixture
def production(s3: Any) -> Any:
    for key, body in PRODUCTION.items():
        s3.put(key, body)
    return s3.storage()


@pytest.fixture
def local(tmp_path: Path) -> FileSystemStorage:
    return FileSystemStorage(location=tmp_path / "local")


WRITE_LAYERS = {
    "local": lambda tmp_path, s3: FileSystemStorage(location=tmp_path / "local"),
    "S3": lambda tmp_path, s3: s3.storage("dev-media"),
    "InMemoryStorage": lambda tmp_path, s3: InMemoryStorage(),
    "Caching(local)": lambda tmp_path, s3: Caching(FileSystemStorage(location=tmp_path / "c")),
}


@pytest.fixture(params=WRITE_LAYERS.values(), ids=WRITE_LAYERS.keys())
def stack(request: Any, tmp_path: Path, s3: Any, production: Any) -> Fallback:
    return Fallback(request.param(tmp_path, s3), ReadOnly(production), on_delete="hide")


def test_hiding_a_b_hides_nothing_else(stack: Any, s3: Any) -> None:
    stack.delete("a/b")
    assert not stack.exists("a/b")
    assert stack.exists("a")
    assert read(stack, "a") == b"production file a"
    assert "a" in stack.listdir("")[1]


def test_hiding_a_then_a_b(stack: Any) -> None:
    stack.delete("a")
    stack.delete("a/b")  # raised FileExistsError: a's marker was where a/b's directory goes
    assert not stack.exists("a") and not stack.exists("a/b")
    assert stack.exists("photos/cat.jpg")


def test_hiding_a_file_keeps_its_directory(stack: Any) -> None:
    stack.delete("photos/cat.jpg")
    assert not stack.exists("photos/cat.jpg")
    assert stack.exists("photos/dog.jpg")
    assert "photos" in stack.listdir("")[0]
    stack.delete("photos/dog.jpg")
    assert stack.listdir("photos") == ([], [])


def test_hidden_whatever_the_spelling(stack: Any) -> None:
    stack.delete("d/x.jpg")
    for spelling in ("d/x.jpg", "d//x.jpg", "./d/x.jpg", "d/./x.jpg"):
        assert not stack.exists(spelling), spelling
        with pytest.raises(FileNotFoundError):
            stack.open(spelling)
    stack.save("d//x.jpg", ContentFile(b"dev"))  # a write clears the tombstone
    assert read(stack, "d/x.jpg") == b"dev"


def test_writing_clears_it_and_deleting_again_hides_again(stack: Any) -> None:
    stack.delete("photos/cat.jpg")
    with stack.open("photos/cat.jpg", "wb") as handle:
        handle.write(b"dev cat")
    assert read(stack, "photos/cat.jpg") == b"dev cat"
    stack.delete("photos/cat.jpg")
    assert not stack.exists("photos/cat.jpg")


def test_in_memory_write_layer_never_touches_the_disk(
    settings: Any, production: Any, s3: Any
) -> None:
    media_root = Path(settings.MEDIA_ROOT)
    stack = Fallback(InMemoryStorage(), ReadOnly(production), on_delete="hide")
    stack.delete("photos/cat.jpg")
    assert not stack.exists("photos/cat.jpg")
    assert not media_root.exists() or list(media_root.rglob("*")) == []
    assert s3.snapshot() == PRODUCTION


def test_a_wrapped_write_layer_sees_its_tombstones(tmp_path: Path, production: Any) -> None:
    cached = Caching(FileSystemStorage(location=tmp_path / "local"))
    stack = Fallback(cached, ReadOnly(production), on_delete="hide")
    assert stack.exists("photos/cat.jpg")  # Caching remembers the markers' absence…
    stack.delete("photos/cat.jpg")
    assert not stack.exists("photos/cat.jpg")  # …which must not hide the new one


def test_markers_never_collide() -> None:
    names = ["a", "a/b", "a~f", "a~d/b", "a~d", "a/b~f", "~", "~d/~f", "x/y/z"]
    markers = [marker_name(name) for name in names]
    assert len(set(markers)) == len(names)
    for name, marker in zip(names, markers, strict=True):
        assert name_of_marker(marker) == name
        for other in markers:  # no marker is the directory of another
            assert not other.startswith(marker + "/")
    assert name_of_marker(".storage-mixins/tombstones/stray") is None
    long = "a" * 255  # as long as a filesystem allows: no room for a suffix
    assert all(len(part) <= 255 for part in marker_name(f"{long}/{long}").split("/"))
    assert marker_name(long) != marker_name("~h" + long[2:]) != marker_name(long[:-1])


def test_the_longest_names_can_be_hidden(local: Any, s3: Any, production: Any) -> None:
    longest = "p" * 255
    s3.put(f"{longest}/{longest}", b"production")
    s3.put(longest, b"production")
    for write_layer in (local, s3.storage("dev-media")):
        stack = Fallback(write_layer, ReadOnly(production), on_delete="hide")
        stack.delete(longest)
        stack.delete(f"{longest}/{longest}")
        assert not stack.exists(longest) and not stack.exists(f"{longest}/{longest}")
        assert stack.exists("photos/cat.jpg")
        assert sorted(stack._self_tombstones.names()) == [longest, f"{longest}/{longest}"]
        stack.save(longest, ContentFile(b"dev"))
        assert read(stack, longest) == b"dev"


def test_a_slow_reload_never_undoes_this_process_s_delete(s3: Any, production: Any) -> None:
    dev = s3.storage("dev-media")
    tombstones = Tombstones(dev, refresh_after=0)
    listing_started, release = threading.Event(), threading.Event()
    original = tombstones._list_markers

    def slow_list() -> Any:
        found = list(original())  # what the bucket held when the listing ran
        listing_started.set()
        release.wait(10)
        return found

    tombstones._list_markers = slow_list  # type: ignore[method-assign]
    reload = threading.Thread(target=tombstones.names)
    reload.start()
    listing_started.wait(10)
    tombstones._list_markers = original  # type: ignore[method-assign]
    tombstones.refresh_after = 30
    tombstones.add("photos/cat.jpg")  # lands while the slow reload is in flight
    release.set()
    reload.join(10)
    assert "photos/cat.jpg" in tombstones


def test_a_save_in_another_process_clears_the_tombstone(s3: Any, production: Any) -> None:
    # Two processes on one remote write layer: the second's memory of the
    # tombstones is older than the first's delete, and its write must win.
    dev = s3.storage("dev-media")
    first = Fallback(dev, ReadOnly(production), on_delete="hide")
    second = Fallback(s3.storage("dev-media"), ReadOnly(production), on_delete="hide")
    assert second.exists("photos/cat.jpg")  # loads its (empty) list of tombstones
    first.delete("photos/cat.jpg")
    with second.open("photos/cat.jpg", "wb") as handle:
        handle.write(b"dev cat")
    first._self_tombstones.refresh_after = 0
    assert read(first, "photos/cat.jpg") == b"dev cat"


def test_local_markers_are_files_in_the_reserved_directory(local: Any, production: Any) -> None:
    stack = Fallback(local, ReadOnly(production), on_delete="hide")
    stack.delete("a/b")
    stack.delete("a")
    root = Path(local.location) / ".storage-mixins" / "tombstones"
    assert sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()) == [
        "a~d/b~f",
        "a~f",
    ]
    assert sorted(stack._self_tombstones.names()) == ["a", "a/b"]
    assert os.listdir(local.location) == [".storage-mixins"]


def test_names_as_long_as_s3_takes_can_be_hidden(local: Any, s3: Any, production: Any) -> None:
    long = "/".join(["q" * 200] * 5)  # 1,004 bytes: its marker is hashed whole
    s3.put(long, b"production")
    for write_layer in (local, s3.storage("dev-media", location="media")):
        stack = Fallback(write_layer, ReadOnly(production), on_delete="hide")
        stack.delete(long)
        assert not stack.exists(long)
        assert stack._self_tombstones.names() == [long]
