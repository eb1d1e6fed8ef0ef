"""Symlinks in a local write layer never carry a write into a read-only layer.

The staticfiles recipe, and many dev setups, link a directory of the dev media
to production's (``media/shared -> /srv/production-media``). Reads through
such a link are fine; a write through it would change production. Before a
write reaches a local write layer, the real path of its target must be inside
the write layer's ``location`` and outside every other local layer's.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from django.core.exceptions import SuspiciousFileOperation
from django.core.files.base import ContentFile
from django.core.files.storage import FileSystemStorage

from storage_mixins import Caching, Fallback, FallbackStorage, Logging, ReadOnly, ReadOnlyError
from tests.conftest import hard_linked_stack

PRODUCTION = {"a.txt": b"production a", "sub/b.txt": b"production b"}


def snapshot(root: Path) -> dict[str, Any]:
    """Every path under ``root`` (directories too) and the bytes of every file."""
    found: dict[str, Any] = {}
    for directory, directories, files in os.walk(root):
        for name in directories:
            found[os.path.relpath(os.path.join(directory, name), root)] = "<dir>"
        for name in files:
            path = os.path.join(directory, name)
            found[os.path.relpath(path, root)] = Path(path).read_bytes()
    return found


@pytest.fixture
def production_dir(tmp_path: Path) -> Path:
    root = tmp_path / "production"
    for name, data in PRODUCTION.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(data)
    return root


@pytest.fixture
def local_dir(tmp_path: Path, production_dir: Path) -> Path:
    root = tmp_path / "local"
    root.mkdir()
    (root / "shared").symlink_to(production_dir, target_is_directory=True)
    (root / "linked.txt").symlink_to(production_dir / "a.txt")
    (root / "mine.txt").write_bytes(b"local")
    return root


STACKS = {
    "local-first": lambda local, prod: Fallback(local, ReadOnly(prod)),
    "production-first": lambda local, prod: Fallback(ReadOnly(prod), local),
    "hide": lambda local, prod: Fallback(local, ReadOnly(prod), on_delete="hide"),
    "Caching(Fallback)": lambda local, prod: Caching(Fallback(local, ReadOnly(prod))),
    "Fallback(Caching(fs))": lambda local, prod: Fallback(Caching(local), ReadOnly(prod)),
    "Logging(Fallback)": lambda local, prod: Logging(Fallback(local, ReadOnly(prod))),
    "FallbackStorage": lambda local, prod: FallbackStorage([local, prod]),
}


@pytest.fixture(params=STACKS.values(), ids=STACKS.keys())
def stack(request: Any, local_dir: Path, production_dir: Path) -> Any:
    local = FileSystemStorage(location=local_dir)
    production = FileSystemStorage(location=production_dir)
    return request.param(local, production)


def _writes() -> dict[str, Any]:
    def write_mode(name: str, mode: str) -> Any:
        def write(stack: Any) -> None:
            with stack.open(name, mode) as handle:
                handle.write(b"dev" if "b" in mode else "dev")

        return write

    return {
        "save-new-through-dir-link": lambda s: s.save("shared/new.txt", ContentFile(b"dev")),
        "save-deep-through-dir-link": lambda s: s.save("shared/x/y.txt", ContentFile(b"dev")),
        "save-existing-through-dir-link": lambda s: s.save("shared/a.txt", ContentFile(b"d")),
        "_save-through-dir-link": lambda s: s._save("shared/new.txt", ContentFile(b"dev")),
        "open-wb-through-dir-link": write_mode("shared/a.txt", "wb"),
        "open-w-through-dir-link": write_mode("shared/a.txt", "w"),
        "open-ab-through-dir-link": write_mode("shared/a.txt", "ab"),
        "open-rb+-through-dir-link": write_mode("shared/a.txt", "rb+"),
        "open-wb-new-through-dir-link": write_mode("shared/sub/new.txt", "wb"),
        "open-wb-file-link": write_mode("linked.txt", "wb"),
        "open-ab-file-link": write_mode("linked.txt", "ab"),
        "delete-through-dir-link": lambda s: s.delete("shared/a.txt"),
        "delete-deep-through-dir-link": lambda s: s.delete("shared/sub/b.txt"),
    }


WRITES = _writes()


@pytest.mark.parametrize("write", WRITES.values(), ids=WRITES.keys())
def test_writes_through_a_link_into_production_are_refused(
    stack: Any, write: Any, production_dir: Path
) -> None:
    before = snapshot(production_dir)
    with pytest.raises((ReadOnlyError, SuspiciousFileOperation)) as caught:
        write(stack)
    assert snapshot(production_dir) == before
    assert "symlink" in str(caught.value) or "real path" in str(caught.value)


def test_the_error_names_the_real_target(local_dir: Path, production_dir: Path) -> None:
    stack = Fallback(FileSystemStorage(location=local_dir),
                     ReadOnly(FileSystemStorage(location=production_dir)))  # fmt: skip
    with pytest.raises(ReadOnlyError) as caught:
        stack.save("shared/new.txt", ContentFile(b"dev"))
    message = str(caught.value)
    assert str(production_dir / "new.txt") in message
    assert "ReadOnly(FileSystemStorage(" in message


def test_reads_through_links_still_work(stack: Any) -> None:
    with stack.open("shared/a.txt") as handle:
        assert handle.read() == b"production a"
    with stack.open("linked.txt") as handle:
        assert handle.read() == b"production a"
    assert stack.exists("shared/sub/b.txt")


def test_ordinary_writes_still_work(stack: Any, local_dir: Path, production_dir: Path) -> None:
    before = snapshot(production_dir)
    saved = stack.save("uploads/new.txt", ContentFile(b"dev"))
    assert (local_dir / saved).read_bytes() == b"dev"
    with stack.open("mine.txt", "ab") as handle:
        handle.write(b"+")
    assert (local_dir / "mine.txt").read_bytes() == b"local+"
    stack.delete("mine.txt")
    assert not (local_dir / "mine.txt").exists()
    assert snapshot(production_dir) == before


def test_a_link_out_of_every_layer_is_refused(tmp_path: Path, production_dir: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    local_dir = tmp_path / "local"
    local_dir.mkdir()
    (local_dir / "out").symlink_to(elsewhere, target_is_directory=True)
    stack = Fallback(FileSystemStorage(location=local_dir),
                     ReadOnly(FileSystemStorage(location=production_dir)))  # fmt: skip
    with pytest.raises(SuspiciousFileOperation, match="outside"):
        stack.save("out/x.txt", ContentFile(b"dev"))
    assert list(elsewhere.iterdir()) == []


def test_links_that_stay_inside_the_write_layer_are_fine(
    tmp_path: Path, production_dir: Path
) -> None:
    real = tmp_path / "real-local"
    (real / "photos").mkdir(parents=True)
    location = tmp_path / "local-link"
    location.symlink_to(real, target_is_directory=True)  # the location itself is a link
    (real / "alias").symlink_to(real / "photos", target_is_directory=True)
    stack = Fallback(FileSystemStorage(location=location),
                     ReadOnly(FileSystemStorage(location=production_dir)))  # fmt: skip
    assert stack.save("alias/a.jpg", ContentFile(b"x")) == "alias/a.jpg"
    assert (real / "photos" / "a.jpg").read_bytes() == b"x"


def test_a_read_only_layer_inside_the_write_layer(tmp_path: Path) -> None:
    media = tmp_path / "media"
    (media / "production").mkdir(parents=True)
    (media / "production" / "a.txt").write_bytes(b"production")
    stack = Fallback(FileSystemStorage(location=media),
                     ReadOnly(FileSystemStorage(location=media / "production")))  # fmt: skip
    with pytest.raises(ReadOnlyError):
        stack.save("production/b.txt", ContentFile(b"dev"))
    with pytest.raises(ReadOnlyError):
        stack.delete("production/a.txt")
    assert sorted(os.listdir(media / "production")) == ["a.txt"]
    assert stack.save("dev/b.txt", ContentFile(b"dev")) == "dev/b.txt"


def test_a_dangling_link_is_not_followed_for_a_write(tmp_path: Path, production_dir: Path) -> None:
    local_dir = tmp_path / "local"
    local_dir.mkdir()
    (local_dir / "will-exist.txt").symlink_to(production_dir / "not-yet.txt")
    stack = Fallback(FileSystemStorage(location=local_dir),
                     ReadOnly(FileSystemStorage(location=production_dir)))  # fmt: skip
    with pytest.raises(ReadOnlyError):
        stack.open("will-exist.txt", "wb")
    assert not (production_dir / "not-yet.txt").exists()


def test_deleting_a_link_itself_is_allowed(tmp_path: Path, production_dir: Path) -> None:
    # collectstatic --link makes links to files outside the storage, and
    # --clear deletes them: removing a link never touches its target.
    local_dir = tmp_path / "static"
    local_dir.mkdir()
    (local_dir / "app.css").symlink_to(production_dir / "a.txt")
    stack = Fallback(FileSystemStorage(location=local_dir),
                     ReadOnly(FileSystemStorage(location=production_dir)), shadow=True)  # fmt: skip
    stack.delete("app.css")
    assert not os.path.lexists(local_dir / "app.css")
    assert (production_dir / "a.txt").read_bytes() == b"production a"


def test_tombstones_never_follow_a_link(tmp_path: Path, production_dir: Path) -> None:
    local_dir = tmp_path / "local"
    local_dir.mkdir()
    (local_dir / ".storage-mixins").symlink_to(production_dir, target_is_directory=True)
    stack = Fallback(FileSystemStorage(location=local_dir),
                     ReadOnly(FileSystemStorage(location=production_dir)),
                     on_delete="hide")  # fmt: skip
    before = snapshot(production_dir)
    with pytest.raises(ReadOnlyError):
        stack.delete("a.txt")
    assert snapshot(production_dir) == before


def test_no_path_is_given_through_a_link_into_production(
    local_dir: Path, production_dir: Path
) -> None:
    # collectstatic --link writes where path() says; ReadOnly gives no paths.
    stack = Fallback(FileSystemStorage(location=local_dir),
                     ReadOnly(FileSystemStorage(location=production_dir)))  # fmt: skip
    for name in ("shared/new.txt", "shared/a.txt", "linked.txt"):
        with pytest.raises(NotImplementedError, match="real path"):
            stack.path(name)
    assert stack.path("mine.txt") == str(local_dir / "mine.txt")
    assert stack.path("new.txt") == str(local_dir / "new.txt")


def test_absolute_paths_are_checked_too(local_dir: Path, production_dir: Path) -> None:
    # collectstatic passes absolute paths inside the write layer's location.
    stack = Fallback(FileSystemStorage(location=local_dir),
                     ReadOnly(FileSystemStorage(location=production_dir)))  # fmt: skip
    before = snapshot(production_dir)
    with pytest.raises(ReadOnlyError):
        stack.save(str(local_dir / "shared" / "new.txt"), ContentFile(b"dev"))
    with pytest.raises(ReadOnlyError):
        stack.delete(str(local_dir / "shared" / "a.txt"))
    assert snapshot(production_dir) == before
    stack.delete(str(local_dir / "mine.txt"))
    assert not (local_dir / "mine.txt").exists()


def test_a_path_through_a_link_out_of_the_stack_is_given(tmp_path: Path) -> None:
    # collectstatic --link made these links on its last run, to the apps'
    # static files; on the next run it asks their paths to replace them.
    elsewhere = tmp_path / "app-static"
    elsewhere.mkdir()
    (elsewhere / "app.css").write_text("body {}")
    static = tmp_path / "static"
    static.mkdir()
    (static / "app.css").symlink_to(elsewhere / "app.css")
    stack = Fallback(FileSystemStorage(location=static),
                     ReadOnly(FileSystemStorage(location=tmp_path / "production")))  # fmt: skip
    assert stack.path("app.css") == str(static / "app.css")


@pytest.mark.parametrize("mode", ["wb", "w+b", "ab", "r+b"])
def test_hard_links_are_separated_before_a_write_in_place(tmp_path: Path, mode: str) -> None:
    stack, local, production = hard_linked_stack(tmp_path)
    with stack.open("a.txt", mode) as handle:
        handle.write(b"dev")
    assert Path(production.path("a.txt")).read_bytes() == b"production"
    assert os.stat(local.path("a.txt")).st_nlink == 1
    expected = {"wb": b"dev", "w+b": b"dev", "ab": b"productiondev", "r+b": b"devduction"}
    assert Path(local.path("a.txt")).read_bytes() == expected[mode]


def test_an_overwriting_save_never_truncates_a_hard_link(tmp_path: Path) -> None:
    production = FileSystemStorage(location=tmp_path / "production")
    production.save("a.txt", ContentFile(b"production"))
    local = FileSystemStorage(location=tmp_path / "local", allow_overwrite=True)
    os.makedirs(local.location)
    os.link(production.path("a.txt"), os.path.join(local.location, "a.txt"))
    stack = Fallback(local, ReadOnly(FileSystemStorage(location=tmp_path / "elsewhere")))
    assert stack.save("a.txt", ContentFile(b"dev")) == "a.txt"
    assert Path(production.path("a.txt")).read_bytes() == b"production"
    assert Path(local.path("a.txt")).read_bytes() == b"dev"
