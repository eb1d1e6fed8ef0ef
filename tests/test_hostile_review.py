"""Hostile review of the read-only guards, the symlink guard, names and tombstones.

Each test here is a bug found by attacking main at 9dbbc441, marked
``xfail(strict=True)`` so that the suite stays green and so that the fix shows
up as an XPASS. Each one has a comment with the fix we suggest. Grouped by what
goes wrong: production written, data lost or hidden, stale caches, wrong
answers.
"""

from __future__ import annotations

import contextlib
import datetime
import os
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import FileSystemStorage, InMemoryStorage
from django.core.management import call_command

from storage_mixins import Caching, Fallback, Logging, ReadOnly, ReadOnlyError
from storage_mixins.core.names import MAX_NAME_BYTES
from storage_mixins.wrappers.fallback.tombstones import marker_name
from tests.conftest import hard_linked_stack


def read(storage: Any, name: str) -> bytes:
    with storage.open(name, "rb") as handle:
        return handle.read()


def files_under(root: Path) -> dict[str, bytes]:
    return {
        str(path.relative_to(root)): path.read_bytes()
        for path in sorted(root.rglob("*"))
        if path.is_file()
    }


# == production written =====================================================


class OverwriteStorage(FileSystemStorage):
    """The overwrite recipe found all over the web (and in many projects)."""

    def get_available_name(self, name: str, max_length: int | None = None) -> str:
        if self.exists(name):
            self.delete(name)
        return name


@pytest.mark.parametrize(
    "wrap",
    [ReadOnly, lambda s: Caching(ReadOnly(s)), lambda s: Logging(ReadOnly(s))],
    ids=["ReadOnly", "Caching(ReadOnly)", "Logging(ReadOnly)"],
)
def test_read_only_get_available_name_never_deletes(tmp_path: Path, wrap: Any) -> None:
    # Fix: ReadOnly.get_available_name runs Storage.get_available_name with the
    # ReadOnly as self (Django's algorithm, asking the ReadOnly's exists() and
    # get_alternative_name()), so a backend override that writes never runs;
    # and update the interception inventory in tests/test_api.py.
    production = OverwriteStorage(location=tmp_path / "production")
    production.save("photos/a.jpg", ContentFile(b"production bytes"))
    with pytest.raises(ReadOnlyError, match="delete"):  # the recipe's delete, refused
        wrap(production).get_available_name("photos/a.jpg")
    assert production.exists("photos/a.jpg")
    assert wrap(production).get_available_name("photos/new.jpg") == "photos/new.jpg"


def test_collectstatic_post_processing_never_writes_through_a_link(
    tmp_path: Path, settings: Any, use_storages: Any
) -> None:
    # Fix: Fallback.post_process (and save_manifest) run the write layer's
    # own methods bound to a proxy of the write layer whose _save/save/delete/
    # open go through WritePolicy (check_local_write, refuse_if_shadowed,
    # tombstones) first, e.g. type(write_layer).post_process.__get__(guarded).
    source = tmp_path / "app-static"
    (source / "css").mkdir(parents=True)
    (source / "css" / "app.css").write_text("body { color: red }")
    production = tmp_path / "production-static"
    (production / "css").mkdir(parents=True)
    (production / "css" / "app.css").write_text("body { color: blue }")
    later = time.time() + 3600  # production's copy is newer: collectstatic skips the copy
    os.utime(production / "css" / "app.css", (later, later))
    local = tmp_path / "dev-static"
    local.mkdir()
    (local / "css").symlink_to(production / "css", target_is_directory=True)
    settings.STATICFILES_DIRS = [str(source)]
    use_storages(
        {
            "default": {"BACKEND": "django.core.files.storage.InMemoryStorage"},
            "staticfiles": {
                "BACKEND": "storage_mixins.FallbackStorage",
                "OPTIONS": {"backends": ["static-local", "static-production"], "shadow": True},
            },
            "static-local": {
                "BACKEND": "django.contrib.staticfiles.storage.ManifestStaticFilesStorage",
                "OPTIONS": {"location": str(local), "base_url": "/static/"},
            },
            "static-production": {
                "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage",
                "OPTIONS": {"location": str(production), "base_url": "https://s.example/"},
            },
        }
    )
    before = files_under(production)
    with pytest.raises(ReadOnlyError, match="through a symlink"):
        call_command("collectstatic", interactive=False, verbosity=0)
    assert files_under(production) == before  # css/app.<hash>.css appeared there
    (local / "css").unlink()  # without the link, the same run hashes into dev-static
    call_command("collectstatic", interactive=False, verbosity=0)
    assert files_under(production) == before
    written = files_under(local)
    assert "staticfiles.json" in written
    assert any(name.startswith("css/app.") and name != "css/app.css" for name in written)


def test_path_of_an_absolute_name_through_a_link_is_refused(tmp_path: Path) -> None:
    # Fix: Fallback._absolute("path", ...) on the write layer applies
    # _refuse_path_through_link to the relative name, as path() does (and
    # gives no path of a read-only layer: ReadOnly.path already refuses).
    production = tmp_path / "production"
    production.mkdir()
    (production / "a.txt").write_bytes(b"production a")
    local = tmp_path / "local"
    local.mkdir()
    (local / "shared").symlink_to(production, target_is_directory=True)
    stack = Fallback(
        FileSystemStorage(location=local), ReadOnly(FileSystemStorage(location=production))
    )
    with pytest.raises(NotImplementedError):
        stack.path("shared/a.txt")  # refused, as it should be
    with pytest.raises(NotImplementedError):
        stack.path(str(local / "shared" / "a.txt"))  # today: the path into production


def test_a_hard_link_never_carries_a_write_into_production(tmp_path: Path) -> None:
    # Fix: before a write that opens an existing write-layer file in place
    # (modes a, +, w, and _save with allow_overwrite), if os.stat(path).st_nlink
    # > 1, break the link first: copy the file atomically over itself (as copy-up
    # does), so that the write changes the write layer's inode only. One stat, on
    # those writes only.
    stack, _local, production = hard_linked_stack(tmp_path)
    with stack.open("a.txt", "ab") as handle:
        handle.write(b" + dev")
    assert read(stack, "a.txt") == b"production + dev"
    assert Path(production.path("a.txt")).read_bytes() == b"production"


def test_the_guard_sees_every_local_layer_of_a_nested_stack(tmp_path: Path) -> None:
    # Fix: LocalWriteGuard.for_stack collects the local backends beneath each
    # layer (walk the stack's children, as url_arguments does),
    # not only each layer's own (proxied) location.
    local = FileSystemStorage(location=tmp_path / "media")
    mirror = FileSystemStorage(location=tmp_path / "mirror")
    inner = FileSystemStorage(location=tmp_path / "media" / "archive")
    inner.save("x.txt", ContentFile(b"archived"))
    stack = Fallback(local, ReadOnly(Fallback(mirror, inner)))
    with contextlib.suppress(ReadOnlyError, OSError), stack.open("archive/x.txt", "ab") as handle:
        handle.write(b"!")
    assert Path(inner.path("x.txt")).read_bytes() == b"archived"


class LiesAboutUpper(str):
    """A str whose upper() differs from its text (the backend calls upper())."""

    def upper(self) -> str:  # type: ignore[override]
        return "PUT"


def test_read_only_signs_what_it_checked(s3: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    # Fix: ReadOnly.url (and Fallback.url) forward the values they checked,
    # as plain types: str.__str__(value) for str subclasses, a plain dict with
    # plain str keys for parameters (recursively for headers), or refuse any
    # value whose type is not exactly str/dict/int/None.
    import botocore.auth

    fixed = datetime.datetime(2030, 1, 1, 12, 0, 0)
    monkeypatch.setattr(botocore.auth, "get_current_datetime", lambda: fixed)
    s3.put("photos/a.jpg", b"production bytes")
    production = s3.storage(querystring_auth=True, signature_version="s3v4")
    read_url = production.url("photos/a.jpg", http_method="GET")
    upload_url = production.url("photos/a.jpg", http_method="PUT")
    assert read_url != upload_url  # the method is part of the signature
    try:
        url = ReadOnly(production).url("photos/a.jpg", http_method=LiesAboutUpper("GET"))
    except ReadOnlyError:
        return  # refusing is a fix too
    assert url != upload_url  # today: equal, a URL whoever holds can upload with
    assert url == read_url


class IteratesAsRead(str):
    """A str that iterates as "r" (the check uses set(value)); ``in`` sees its text."""

    def __iter__(self) -> Any:
        return iter("r")


class HidesItsItems(dict):  # type: ignore[type-arg]
    """A dict whose items() shows nothing; ``**`` unpacking sees every key."""

    def items(self) -> Any:  # type: ignore[override]
        return iter(())


class AzureLikeStorage(InMemoryStorage):
    """django-storages' AzureStorage.url(), as far as permissions go: the mode is
    read by BlobSasPermissions.from_string ("w" in mode...), the parameters are
    passed on with ** to generate_blob_sas(..., policy_id=None, **kwargs)."""

    granted: list[Any]

    def url(self, name: str, expire: Any = None, parameters: Any = None, mode: str = "r") -> str:  # type: ignore[override]
        self.granted.append("write" if any(c in mode for c in "wacdxy") else "read")
        self.granted.append(_generate_blob_sas(**(parameters or {})))
        return f"https://account.blob.example/container/{name}"


def _generate_blob_sas(policy_id: Any = None, **kwargs: Any) -> Any:
    return ("policy", policy_id) if policy_id else "no policy"


@pytest.mark.parametrize(
    "kwargs",
    [{"mode": IteratesAsRead("rw")}, {"parameters": HidesItsItems(policy_id="uploads")}],
    ids=["mode-iterates-as-r", "parameters-hide-policy_id"],
)
def test_read_only_reads_url_arguments_as_the_backend_does(kwargs: Any) -> None:
    # Fix: as above, normalise before checking and forward the normalised
    # values: mode = str.__str__(mode), parameters = {str.__str__(k): v for k, v
    # in dict.items(parameters)} (refuse anything that is not a str or a dict).
    backend = AzureLikeStorage()
    backend.granted = []
    with contextlib.suppress(ReadOnlyError):
        ReadOnly(backend).url("photos/a.jpg", **kwargs)
    assert backend.granted in ([], ["read", "no policy"])  # today: write, or the policy


class ComparesAsRb(str):
    """A mode that says it equals anything: ``mode == "rb"`` holds for any text."""

    def __eq__(self, other: object) -> bool:
        return True

    __hash__ = str.__hash__


@pytest.mark.parametrize(
    "build",
    [
        lambda production, local: ReadOnly(production),
        lambda production, local: Fallback(ReadOnly(production), local),
    ],
    ids=["ReadOnly", "Fallback(ReadOnly, local)"],
)
def test_a_mode_is_judged_by_its_text(tmp_path: Path, build: Any) -> None:
    # Fix: is_write_mode() (and Fallback.open's `mode != "rb"`) reads the plain
    # text: mode = str.__str__(mode) when isinstance(mode, str), else refuse a
    # non-str mode; forward that plain mode to the backend.
    production = FileSystemStorage(location=tmp_path / "production")
    production.save("a.txt", ContentFile(b"production"))
    stack = build(production, FileSystemStorage(location=tmp_path / "local"))
    with contextlib.suppress(ReadOnlyError, OSError):
        stack.open("a.txt", ComparesAsRb("wb")).close()  # opening alone truncates
    assert Path(production.path("a.txt")).read_bytes() == b"production"


def test_a_read_only_file_reopens_for_reading_only(tmp_path: Path) -> None:
    # Fix: ReadOnlyFile.open(mode=None) checks is_write_mode(mode or self.mode)
    # (or remembers the mode it was opened with and always reopens in it).
    production = FileSystemStorage(location=tmp_path / "production")
    production.save("a.txt", ContentFile(b"production"))
    handle = ReadOnly(production).open("a.txt")
    handle.mode = "wb"  # e.g. code that reuses File objects for its own writes
    handle.close()
    with contextlib.suppress(ReadOnlyError):
        handle.open()
    handle.close()
    assert Path(production.path("a.txt")).read_bytes() == b"production"


# == data lost or hidden =====================================================


def test_an_upload_through_a_signed_url_is_seen(s3: Any) -> None:
    # Fix: in Fallback.url's write branch, tombstones.discard(name) before
    # signing (as target() does for any other write), or refuse to sign a
    # write for a hidden name with a clear error.
    s3.put("photos/a.jpg", b"production bytes")
    development = s3.storage("development-media", querystring_auth=True)
    stack = Fallback(development, ReadOnly(s3.storage()), on_delete="hide")
    stack.delete("photos/a.jpg")
    url = stack.url("photos/a.jpg", http_method="PUT")
    request = urllib.request.Request(
        url, data=b"uploaded", method="PUT", headers={"Content-Type": "image/jpeg"}
    )
    urllib.request.urlopen(request, timeout=10).close()
    assert s3.snapshot("development-media")["photos/a.jpg"] == b"uploaded"
    stack._self_tombstones.refresh_after = 0  # even after a reload
    assert read(stack, "photos/a.jpg") == b"uploaded"


def test_overlapping_reloads_never_undo_a_delete() -> None:
    # Fix: keep the `started` of the listing installed last, and never install
    # an older one (return its names without storing them); prune _changes only
    # up to the oldest reload still in flight.
    production = InMemoryStorage()
    production.save("photos/a.jpg", ContentFile(b"production bytes"))
    stack = Fallback(InMemoryStorage(), ReadOnly(production), on_delete="hide")
    tombstones = stack._self_tombstones
    assert tombstones.names() == []
    list_markers = type(tombstones)._list_markers
    listed, release = threading.Event(), threading.Event()
    calls: list[None] = []

    def slow_first_listing(self: Any) -> Any:
        snapshot = list(list_markers(self))
        calls.append(None)
        if len(calls) == 1:  # a slow listing: another thread's reload
            listed.set()
            release.wait(10)
        return iter(snapshot)

    tombstones._list_markers = slow_first_listing.__get__(tombstones)
    slow = threading.Thread(target=tombstones.names)
    slow.start()
    assert listed.wait(10)
    stack.delete("photos/a.jpg")
    tombstones.names()  # a second reload, done while the first still lists
    release.set()
    slow.join(10)
    assert not stack.exists("photos/a.jpg")


def test_a_write_by_absolute_name_clears_the_tombstone(tmp_path: Path) -> None:
    # Fix: for a write, Fallback._absolute turns a path inside the write
    # layer's location into its relative name and calls the stack's own method
    # with it, so that every policy applies (tombstones, shadow rule, x modes).
    local = FileSystemStorage(location=tmp_path / "local")
    production = FileSystemStorage(location=tmp_path / "production")
    production.save("x.txt", ContentFile(b"production x"))
    stack = Fallback(local, ReadOnly(production), on_delete="hide")
    stack.delete("x.txt")
    with stack.open(os.path.join(local.location, "x.txt"), "wb") as handle:
        handle.write(b"local x")
    assert read(stack, "x.txt") == b"local x"  # today: FileNotFoundError (hidden)


def test_a_delete_by_absolute_name_follows_on_delete(tmp_path: Path) -> None:
    # Fix: as above (WritePolicy.delete with the relative name).
    local = FileSystemStorage(location=tmp_path / "local")
    production = FileSystemStorage(location=tmp_path / "production")
    production.save("z.txt", ContentFile(b"production z"))
    local.save("z.txt", ContentFile(b"local z"))
    stack = Fallback(local, ReadOnly(production), on_delete="hide")
    stack.delete(os.path.join(local.location, "z.txt"))
    assert not stack.exists("z.txt")  # today: production's z.txt


# == wrong answers ===========================================================


def test_a_local_directory_is_not_the_file_a_delete_names(tmp_path: Path) -> None:
    # Fix: in WritePolicy.delete, in_write_layer is false when a local write
    # layer has a directory of that name (fallback._is_directory), as every
    # read already decides; then on_delete applies to the holders.
    local = FileSystemStorage(location=tmp_path / "local")
    os.makedirs(os.path.join(local.location, "a"))  # e.g. left by a deleted a/b
    production = FileSystemStorage(location=tmp_path / "production")
    production.save("a", ContentFile(b"production a"))
    stack = Fallback(local, ReadOnly(production), on_delete="raise")
    assert read(stack, "a") == b"production a"
    with pytest.raises(ReadOnlyError):
        stack.delete("a")


def test_a_name_with_a_hash_is_routed_as_a_file(tmp_path: Path) -> None:
    # Fix: in Fallback.url, try the name without its query only when the
    # layer that would answer for the whole name (the last layer) does not
    # have it either; or only for layers whose url() reads queries (staticfiles
    # hashing storages: hasattr(layer, "stored_name")).
    local = FileSystemStorage(location=tmp_path / "local", base_url="/media/")
    local.save("report", ContentFile(b"local"))
    production = InMemoryStorage(base_url="https://production.example/")
    production.save("report#1.pdf", ContentFile(b"production"))
    stack = Fallback(local, ReadOnly(production))
    assert stack.which("report#1.pdf") is stack.layers[1]
    assert stack.url("report#1.pdf") == production.url("report#1.pdf")


def test_a_marker_fits_wherever_its_name_fits() -> None:
    # moto does not enforce S3's key limit, so this checks the key itself.
    # Fix: hash the whole marker (TOMBSTONE_PREFIX + "~h<digest>~f", name in the
    # contents, as for long parts) when it would exceed MAX_NAME_BYTES minus the
    # write layer's location prefix.
    name = "/".join(["p" * 200] * 5)  # 1004 bytes: a valid name
    assert len(marker_name(name).encode()) <= MAX_NAME_BYTES


def test_cached_urls_are_the_storage_s_own(s3: Any) -> None:
    # Fix: add to storage_identity the attributes that change url() output
    # (querystring_auth, url_protocol, addressing_style, signature_version,
    # region_name, cloudfront key id), or keep url entries under a digest of
    # them next to the base_url already compared.
    s3.put("photos/a.jpg", b"production bytes")
    public = Caching(s3.storage(querystring_auth=False))
    signed = Caching(s3.storage(querystring_auth=True))
    assert "Signature" not in public.url("photos/a.jpg")
    assert "Signature" in signed.url("photos/a.jpg")  # today: public's unsigned URL


# == stale caches ============================================================


def test_caching_one_s3_key_is_one_entry(s3: Any) -> None:
    # Fix: Caching's _canonical() leaves names with a backslash uncached (as it
    # does absolute ones), or, for a backend known to read it as a slash (S3,
    # Google, Azure: clean_name), keys them with the slash.
    raw = s3.storage()
    cached = Caching(raw)
    assert not cached.exists("d\\a.txt")
    cached.save("d/a.txt", ContentFile(b"new"))
    assert raw.exists("d\\a.txt")
    assert cached.exists("d\\a.txt")  # today: the cached False


def test_caching_above_a_stack_url_of_a_legacy_name(tmp_path: Path) -> None:
    # Fix: as above: url entries of names with a backslash are not cached, or
    # are keyed with slashes, as url_name() reads them.
    local = FileSystemStorage(location=tmp_path / "local", base_url="/media/")
    stack = Caching(Fallback(local, ReadOnly(InMemoryStorage(base_url="https://p.example/"))))
    assert stack.url("photos\\new.jpg") == "https://p.example/photos/new.jpg"
    stack.save("photos/new.jpg", ContentFile(b"local"))
    assert stack.url("photos/new.jpg") == "/media/photos/new.jpg"
    assert stack.url("photos\\new.jpg") == "/media/photos/new.jpg"  # today: the S3-style URL


def test_a_new_in_memory_storage_starts_with_an_empty_cache(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # CPython gives a dead object's id() to the next one; here every id is one.
    from storage_mixins.services import namespaces as labels

    monkeypatch.setattr(labels, "id", lambda _object: 42, raising=False)
    first = InMemoryStorage()
    first.save("a.txt", ContentFile(b"x"))
    assert Caching(first).exists("a.txt")
    second = InMemoryStorage()
    assert not Caching(second).exists("a.txt")  # was True, from the other storage


# == cosmetic ================================================================


def test_caching_path_error_says_why(tmp_path: Path) -> None:
    # Fix: Caching.path re-raises the wrapped storage's NotImplementedError when
    # _local_copy() returns None (the file is read from the storage itself).
    production = FileSystemStorage(location=tmp_path / "production")
    production.save("a.txt", ContentFile(b"x"))
    cached = Caching(ReadOnly(production), contents=FileSystemStorage(location=tmp_path / "c"))
    with pytest.raises(NotImplementedError, match="gives no local paths"):
        cached.path("a.txt")
