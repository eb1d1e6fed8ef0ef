"""Every file storage_mixins writes into a FileSystemStorage has that storage's modes.

``FILE_UPLOAD_PERMISSIONS`` and ``FILE_UPLOAD_DIRECTORY_PERMISSIONS`` (or the
storage's ``file_permissions_mode`` and ``directory_permissions_mode``) give a
saved file and each directory its save creates their modes; ``None`` leaves
them to the umask. Files the library writes itself (pulled, copied up before
an append, tombstones, contents copies) must come out as a save would leave
them: each case is compared with what Django's own ``save()`` gives in the
same storage.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import FileSystemStorage, InMemoryStorage, storages
from django.core.management import call_command

from storage_mixins import Caching, Fallback, ReadOnly
from storage_mixins.wrappers.fallback.tombstones import marker_name
from tests.conftest import local_over_production

# How each configuration gives the modes, and the modes a save then gets.
CONFIGURATIONS = {
    "settings": ({}, {"FILE_UPLOAD_PERMISSIONS": 0o660, "FILE_UPLOAD_DIRECTORY_PERMISSIONS": 0o770},
                 (0o660, 0o770)),
    "options": ({"file_permissions_mode": 0o604, "directory_permissions_mode": 0o711},
                {"FILE_UPLOAD_PERMISSIONS": 0o640, "FILE_UPLOAD_DIRECTORY_PERMISSIONS": 0o750},
                (0o604, 0o711)),
    "umask": ({}, {"FILE_UPLOAD_PERMISSIONS": None, "FILE_UPLOAD_DIRECTORY_PERMISSIONS": None},
              (0o640, 0o750)),  # 0o666 and 0o777 less the umask, 0o027
}  # fmt: skip


@pytest.fixture(autouse=True)
def _umask() -> Iterator[None]:
    previous = os.umask(0o027)  # neither 0o022 nor 0: a result no default gives
    yield
    os.umask(previous)


@pytest.fixture(params=CONFIGURATIONS.values(), ids=CONFIGURATIONS.keys())
def options(request: Any, settings: Any) -> dict[str, Any]:
    """The local storage's OPTIONS; settings are set, and ``expected`` noted."""
    storage_options, setting_values, expected = request.param
    for setting, value in setting_values.items():
        setattr(settings, setting, value)
    request.node.expected = expected
    return dict(storage_options)


def mode(path: Path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def saved_modes(storage: Any) -> tuple[int, int]:
    """The modes Django's own save gives a file and a new directory in ``storage``."""
    name = storage.save("by-django/new/file.txt", ContentFile(b"saved"))
    root = Path(storage.location)
    assert mode(root / "by-django") == mode(root / "by-django" / "new")
    return mode(root / name), mode(root / "by-django" / "new")


def assert_as_saved(storage: Any, name: str, new_directories: list[str], request: Any) -> None:
    """The file ``name`` and every directory of ``new_directories`` have the
    modes a save gives, which are those the configuration says."""
    root = Path(storage.location)
    file_mode, directory_mode = saved_modes(storage)
    assert (file_mode, directory_mode) == request.node.expected
    assert oct(mode(root / name)) == oct(file_mode), name
    for directory in new_directories:
        assert oct(mode(root / directory)) == oct(directory_mode), directory


def production_with(tmp_path: Path, name: str) -> FileSystemStorage:
    production = FileSystemStorage(location=tmp_path / "production")
    production.save(name, ContentFile(b"production"))
    return production


def test_pulled_files(
    options: dict[str, Any], request: Any, s3: Any, settings: Any, use_storages: Any,
    tmp_path: Path,
) -> None:  # fmt: skip
    config = local_over_production(s3, tmp_path / "local")
    config["local"]["OPTIONS"].update(options)
    use_storages({**settings.STORAGES, **config})
    s3.put("photos/2024/b.jpg", b"production b")
    call_command("storage_pull", "photos", stdout=StringIO())
    assert_as_saved(storages["local"], "photos/2024/b.jpg", ["photos", "photos/2024"], request)


def test_files_copied_up_before_an_append(
    options: dict[str, Any], request: Any, tmp_path: Path
) -> None:
    local = FileSystemStorage(location=tmp_path / "local", **options)
    stack = Fallback(local, ReadOnly(production_with(tmp_path, "deep/er/a.txt")))
    with stack.open("deep/er/a.txt", "ab") as handle:
        handle.write(b" + dev")
    assert (tmp_path / "local" / "deep" / "er" / "a.txt").read_bytes() == b"production + dev"
    assert_as_saved(local, "deep/er/a.txt", ["deep", "deep/er"], request)


def test_new_directories_of_a_file_opened_for_writing(
    options: dict[str, Any], request: Any, tmp_path: Path
) -> None:
    # The file is the write layer's own open(): Django's modes for open() (the
    # umask's); the directories the stack creates for it are the storage's.
    local = FileSystemStorage(location=tmp_path / "local", **options)
    stack = Fallback(local, ReadOnly(production_with(tmp_path, "deep/er/a.txt")))
    with stack.open("deep/er/new.txt", "wb") as handle:
        handle.write(b"dev")
    _file_mode, directory_mode = saved_modes(local)
    for directory in ("deep", "deep/er"):
        assert oct(mode(tmp_path / "local" / directory)) == oct(directory_mode)


def test_tombstones(options: dict[str, Any], request: Any, tmp_path: Path) -> None:
    local = FileSystemStorage(location=tmp_path / "local", **options)
    stack = Fallback(local, ReadOnly(production_with(tmp_path, "deep/er/a.txt")), on_delete="hide")
    stack.delete("deep/er/a.txt")
    assert not stack.exists("deep/er/a.txt")
    marker = marker_name("deep/er/a.txt")
    parts = marker.split("/")
    directories = ["/".join(parts[:depth]) for depth in range(1, len(parts))]
    assert len(directories) == 4  # .storage-mixins/tombstones/deep~d/er~d
    assert_as_saved(local, marker, directories, request)


def test_contents_copies(options: dict[str, Any], request: Any, tmp_path: Path) -> None:
    remote = InMemoryStorage()
    remote.save("deep/a.txt", ContentFile(b"remote bytes"))
    contents = FileSystemStorage(location=tmp_path / "cache", **options)
    cached = Caching(remote, contents=contents)
    with cached.open("deep/a.txt") as handle:
        assert handle.read() == b"remote bytes"
    [copy] = [path for path in (tmp_path / "cache").rglob("*") if path.is_file()]
    relative = copy.relative_to(tmp_path / "cache")
    parents = [str(parent) for parent in reversed(relative.parents) if str(parent) != "."]
    assert len(parents) == 4  # namespace/fan-out/digest of the name/digest of the version
    assert_as_saved(contents, str(relative), parents, request)


def test_a_separated_hard_link_keeps_the_file_s_own_mode(tmp_path: Path) -> None:
    # Not a new file: the copy that replaces a hard link (see local_writes)
    # keeps the mode the file had, whatever the storage's.
    from tests.conftest import hard_linked_stack

    stack, local, _production = hard_linked_stack(tmp_path)
    path = Path(local.path("a.txt"))
    os.chmod(path, 0o604)
    with stack.open("a.txt", "ab") as handle:
        handle.write(b"!")
    assert mode(path) == 0o604
    assert path.read_bytes() == b"production!"
    assert (tmp_path / "production" / "a.txt").read_bytes() == b"production"
