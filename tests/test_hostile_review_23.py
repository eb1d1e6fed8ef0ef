"""Hostile review of issue 23: attacks on what it added (``storage_forget``,
offline names under ``on_error="skip"``, ``storage_stack --check``'s probes,
the error notes, check W003). Each test here is an attack: those that found a
bug failed before its fix; the others stand as regression tests."""

from __future__ import annotations

import re
from collections.abc import Iterator
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.cache.backends.locmem import LocMemCache
from django.core.exceptions import SuspiciousFileOperation
from django.core.files.base import ContentFile
from django.core.files.storage import FileSystemStorage, InMemoryStorage, storages
from django.core.management import call_command
from django.core.management.base import CommandError

from storage_mixins import Fallback, ReadOnly
from storage_mixins.wrappers.fallback import naming
from tests import iam_users
from tests.conftest import PRODUCTION_BUCKET
from tests.s3server import S3Server
from tests.test_failover import s3_storage


class FlakyCache(LocMemCache):
    """A local-memory cache whose ``set_many`` fails while ``failing`` is set
    (a Redis that goes away in the middle of a command)."""

    failing = False

    def set_many(self, *args: Any, **kwargs: Any) -> Any:
        if FlakyCache.failing:
            raise ConnectionError("the cache went away")
        return super().set_many(*args, **kwargs)


# -- storage_forget ----------------------------------------------------------------


@pytest.fixture
def forgetting(s3: Any, settings: Any, use_storages: Any, tmp_path: Path) -> Any:
    """The recommended stack, production first and cached as a whole
    (``"media"``); production has ``photos/old.jpg``."""

    def configure(cache: str = "default") -> None:
        s3.put("photos/old.jpg", b"old")
        use_storages(
            {
                **settings.STORAGES,
                "default": {
                    "BACKEND": "storage_mixins.FallbackStorage",
                    "OPTIONS": {"backends": ["production", "local"], "writable": "local"},
                },
                "media": {
                    "BACKEND": "storage_mixins.Caching",
                    "OPTIONS": {"storage": "default", "cache": cache, "timeout": 3600},
                },
                "production": {
                    "BACKEND": "storage_mixins.ReadOnly",
                    "OPTIONS": {"storage": s3.settings()},
                },
                "local": {
                    "BACKEND": "django.core.files.storage.FileSystemStorage",
                    "OPTIONS": {"location": str(tmp_path / "local")},
                },
            }
        )

    return configure


def forget(*args: str) -> str:
    out = StringIO()
    call_command("storage_forget", *args, "--storage", "media", stdout=out)
    return out.getvalue()


@pytest.mark.parametrize("prefix", [".", "./photos", "photos//", "./photos/"])
def test_forget_a_prefix_spelled_another_way(forgetting: Any, s3: Any, prefix: str) -> None:
    """``.`` is the root and ``./photos`` is ``photos`` to the caches; S3 read
    them as key prefixes no key has, and forgot none of the files."""
    forgetting()
    media = storages["media"]
    assert not media.exists("photos/new.jpg")
    s3.put("photos/new.jpg", b"new")
    forget(prefix)
    assert media.exists("photos/new.jpg")


def test_forget_while_the_cache_fails_is_not_a_success(
    forgetting: Any, s3: Any, settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An invalidation that did not reach the cache is lost when the command's
    process exits: the command must say so, and exit non-zero."""
    settings.CACHES = {
        **settings.CACHES,
        "flaky": {"BACKEND": "tests.test_hostile_review_23.FlakyCache", "LOCATION": "flaky"},
    }
    forgetting(cache="flaky")
    media = storages["media"]
    assert not media.exists("photos/new.jpg")
    s3.put("photos/new.jpg", b"new")
    monkeypatch.setattr(FlakyCache, "failing", True)
    with pytest.raises(CommandError, match=r"did not reach cache 'flaky'"):
        forget()


# -- offline names under on_error="skip" ---------------------------------------------


@pytest.fixture
def down(s3: Any) -> Iterator[S3Server]:
    """Production's S3 on a server of this test's own, with ``photos/dog.jpg``;
    stopped (moto keeps its buckets: ``start(port)`` brings it back)."""
    own = S3Server()
    own.start()
    s3.put("photos/dog.jpg", b"production's dog")
    port = own.port
    own.stop()
    yield own
    own.start(port)
    assert own.mutations("production-media") == []  # production never written
    own.stop()


def laptop(server: S3Server, local: Any, **options: Any) -> Fallback:
    return Fallback(ReadOnly(s3_storage(server.endpoint_url)), local, on_error="skip", **options)


def test_an_offline_name_that_cannot_fit_max_length_names_the_outage(
    down: S3Server, fs: FileSystemStorage
) -> None:
    """``photos/dog.jpg`` fits 30 characters; no offline name does. The upload
    fails (nothing is written), with an error that says the outage is why."""
    stack = laptop(down, fs)
    with pytest.raises(SuspiciousFileOperation) as raised:
        stack.save("photos/dog.jpg", ContentFile(b"my dog"), max_length=30)
    [note] = [n for n in raised.value.__notes__ if n.startswith("storage_mixins")]
    assert "S3Storage('production-media')" in note
    assert "is down" in note
    assert not Path(fs.location).exists()


def test_an_offline_name_never_overwrites_a_local_file(
    down: S3Server, fs: FileSystemStorage, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The random part made twice alike: the second offline name is asked of
    the write layer too, and the local file of that name is kept."""
    fs.save("photos/dog_offline_" + "0" * 24 + ".jpg", ContentFile(b"earlier upload"))
    tokens = iter(["0" * 24, "0" * 24, "1" * 24])
    monkeypatch.setattr(naming.secrets, "token_hex", lambda _n: next(tokens))
    saved = laptop(down, fs).save("photos/dog.jpg", ContentFile(b"my dog"))
    assert saved == "photos/dog_offline_" + "1" * 24 + ".jpg"
    with fs.open("photos/dog_offline_" + "0" * 24 + ".jpg") as earlier:
        assert earlier.read() == b"earlier upload"


@pytest.mark.parametrize(
    ("name", "pattern"),
    [
        ("photos/README", r"photos/README_offline_[0-9a-f]{24}"),
        ("photos/dog.", r"photos/dog\._offline_[0-9a-f]{24}"),
        ("photos/.hidden", r"photos/\.hidden_offline_[0-9a-f]{24}"),
        ("photos/a.tar.gz", r"photos/a_offline_[0-9a-f]{24}\.tar\.gz"),
    ],
)
def test_offline_names_of_odd_names(
    down: S3Server, fs: FileSystemStorage, name: str, pattern: str
) -> None:
    saved = laptop(down, fs).save(name, ContentFile(b"x"))
    assert re.fullmatch(pattern, saved), saved
    assert fs.exists(saved)


def test_shadow_under_a_layer_that_is_down_fails_naming_it(
    down: S3Server, fs: FileSystemStorage
) -> None:
    """``shadow=True`` (collectstatic's) takes the name asked, but a write must
    not be hidden by production, which comes first: while it is down the
    write fails (a write never skips a layer), with a note naming the layer
    and the outage, and nothing is written. It raised botocore's bare error."""
    from botocore.exceptions import EndpointConnectionError

    stack = laptop(down, fs, shadow=True)
    with pytest.raises(EndpointConnectionError) as raised:
        stack.save("photos/dog.jpg", ContentFile(b"my dog"))
    [note] = [n for n in raised.value.__notes__ if n.startswith("storage_mixins")]
    assert "layer [0] ReadOnly(S3Storage('production-media'))" in note
    assert "cannot be reached" in note
    assert not fs.exists("photos/dog.jpg")


@pytest.mark.parametrize(
    "write",
    [
        lambda stack: stack.open("photos/new.jpg", "xb").close(),
        lambda stack: stack.delete("photos/dog.jpg"),
    ],
    ids=["open-x", "delete"],
)
def test_writes_that_ask_a_layer_that_is_down_name_it(
    down: S3Server, fs: FileSystemStorage, write: Any
) -> None:
    from botocore.exceptions import EndpointConnectionError

    with pytest.raises(EndpointConnectionError) as raised:
        write(laptop(down, fs))
    [note] = [n for n in raised.value.__notes__ if n.startswith("storage_mixins")]
    assert "layer [0] ReadOnly(S3Storage('production-media'))" in note


# -- storage_stack --check: probes ---------------------------------------------------


@pytest.fixture
def probed(s3: Any, settings: Any, use_storages: Any) -> Any:
    """``probed(location)``: the recommended stack, its local layer at
    ``location``; what ``storage_stack --check`` said, and its error."""

    def probed(location: Path) -> tuple[list[str], CommandError | None]:
        use_storages(
            {
                **settings.STORAGES,
                "default": {
                    "BACKEND": "storage_mixins.FallbackStorage",
                    "OPTIONS": {"backends": ["production", "local"], "writable": "local"},
                },
                "production": {
                    "BACKEND": "storage_mixins.ReadOnly",
                    "OPTIONS": {"storage": s3.settings()},
                },
                "local": {
                    "BACKEND": "django.core.files.storage.FileSystemStorage",
                    "OPTIONS": {"location": str(location)},
                },
            }
        )
        s3.server.clear_requests()
        out = StringIO()
        try:
            call_command("storage_stack", "--check", stdout=out)
        except CommandError as exc:
            return out.getvalue().splitlines(), exc
        finally:
            assert s3.server.mutations(PRODUCTION_BUCKET) == []
        return out.getvalue().splitlines(), None

    return probed


def test_a_probe_makes_no_directory(probed: Any, tmp_path: Path) -> None:
    """The local layer's directory, missing, is still missing after the probe
    (nothing is made, not even its parents), and production got only reads."""
    location = tmp_path / "not" / "yet" / "media"
    _lines, error = probed(location)
    assert error is None
    assert not (tmp_path / "not").exists()


def test_a_symlinked_media_root_is_probed_where_it_points(probed: Any, tmp_path: Path) -> None:
    (tmp_path / "real").mkdir()
    (tmp_path / "media").symlink_to(tmp_path / "real")
    _lines, error = probed(tmp_path / "media" / "uploads")
    assert error is None
    (tmp_path / "file").write_bytes(b"a file")
    (tmp_path / "elsewhere").symlink_to(tmp_path / "file")
    lines, error = probed(tmp_path / "elsewhere" / "uploads")
    assert error is not None
    assert any("is not a directory" in line for line in lines)


def test_a_dangling_symlink_media_root_is_not_writable(probed: Any, tmp_path: Path) -> None:
    """``MEDIA_ROOT`` a link to a directory that is gone (an unmounted disk):
    ``FileSystemStorage`` cannot make it (``FileExistsError``), so no upload
    can be saved; the probe looked at its parent instead, and passed."""
    (tmp_path / "media").symlink_to(tmp_path / "unmounted" / "media")
    local = FileSystemStorage(location=tmp_path / "media")
    with pytest.raises(FileExistsError):
        local.save("a.txt", ContentFile(b"a"))
    lines, error = probed(tmp_path / "media")
    assert error is not None
    assert any("not writable" in line and "unmounted" in line for line in lines), lines


# -- error notes ---------------------------------------------------------------------


class _Broken(InMemoryStorage):
    """A layer whose every ``exists()`` raises ``error``."""

    def __init__(self, error: BaseException) -> None:
        super().__init__()
        self.error = error

    def exists(self, name: str) -> bool:
        raise self.error


def test_an_error_whose_notes_are_not_a_list_keeps_its_type(fs: FileSystemStorage) -> None:
    """``add_note`` raises ``TypeError`` when ``__notes__`` is not a list (a
    library that set a tuple): the layer's error must still be the one raised."""
    error = OSError("the disk failed")
    error.__notes__ = ("its own note",)  # type: ignore[attr-defined]
    stack = Fallback(ReadOnly(_Broken(error)), fs)
    with pytest.raises(OSError, match="the disk failed") as raised:
        stack.exists("a.txt")
    assert raised.value is error


def test_an_error_with_a_note_that_is_not_text_keeps_its_type(fs: FileSystemStorage) -> None:
    error = OSError("the disk failed")
    error.__notes__ = [42]  # type: ignore[attr-defined]
    stack = Fallback(ReadOnly(_Broken(error)), fs)
    caught: list[BaseException] = []
    try:  # not pytest.raises(match=...), which joins the notes as text
        stack.exists("a.txt")
    except OSError as raised:
        caught.append(raised)
    assert caught == [error]


def test_notes_carry_no_secret_nor_signature(
    s3: Any, settings: Any, use_storages: Any, tmp_path: Path
) -> None:
    """A wrong secret key through the stack, the commands' one line and the
    health check: none repeats the secret, nor a signed URL's signature."""
    from botocore.exceptions import ClientError

    from storage_mixins.backends.errors import failure_summary

    secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYSECRETKEY"
    reader = iam_users.user(s3, "reader", iam_users.READ, PRODUCTION_BUCKET)
    s3.put("photos/a.jpg", b"a")
    production = s3.settings(access_key=reader["access_key"], secret_key=secret)
    production["OPTIONS"]["querystring_auth"] = True
    use_storages(
        {
            **settings.STORAGES,
            "default": {
                "BACKEND": "storage_mixins.FallbackStorage",
                "OPTIONS": {"backends": ["production", "local"], "writable": "local"},
            },
            "production": {
                "BACKEND": "storage_mixins.ReadOnly",
                "OPTIONS": {"storage": production},
            },
            "local": {
                "BACKEND": "django.core.files.storage.FileSystemStorage",
                "OPTIONS": {"location": str(tmp_path / "local")},
            },
        }
    )
    stack = storages["default"]
    url = storages["production"].url("photos/a.jpg")
    signature = re.search(r"Signature=([^&]+)", url)
    assert signature is not None
    said: list[str] = []
    with iam_users.enforced():
        for call in (
            lambda: stack.exists("photos/a.jpg"),
            lambda: stack.listdir("photos"),
            lambda: stack.save("photos/b.jpg", ContentFile(b"b")),
        ):
            with pytest.raises(ClientError) as raised:
                call()
            said += [str(raised.value), failure_summary(raised.value), *raised.value.__notes__]
        out = StringIO()
        with pytest.raises(CommandError) as failed:
            call_command("storage_stack", "--check", stdout=out)
    said += [out.getvalue(), str(failed.value)]
    text = "\n".join(said)
    assert "SignatureDoesNotMatch" in text
    assert secret not in text
    assert secret.split("/")[-1] not in text
    assert signature.group(1) not in text


# -- check W003: the same bucket, spelled another way -----------------------------------

_S3 = "storages.backends.s3.S3Storage"
_PRODUCTION = {"bucket_name": "production-media", "endpoint_url": "https://s3.example.com",
               "location": "media"}  # fmt: skip


def w003(settings: Any, use_storages: Any, beside: dict[str, Any]) -> list[str]:
    """The aliases W003 names, for the recipe's stack (production read-only by
    construction) with the alias ``"beside"`` added."""
    from django.core import checks

    memory = {"BACKEND": "django.core.files.storage.InMemoryStorage"}
    use_storages(
        {
            "default": {
                "BACKEND": "storage_mixins.FallbackStorage",
                "OPTIONS": {"backends": ["production", "local"], "writable": "local"},
            },
            "staticfiles": memory,
            "production": {
                "BACKEND": "storage_mixins.ReadOnly",
                "OPTIONS": {"storage": {"BACKEND": _S3, "OPTIONS": _PRODUCTION}},
            },
            "local": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
            "beside": beside,
        }
    )
    messages = checks.run_checks(tags=["storage_mixins"])
    return [str(m.obj) for m in messages if m.id == "storage_mixins.W003"]


@pytest.mark.parametrize(
    "options",
    [
        {**_PRODUCTION, "querystring_auth": False},  # a "public URLs" alias
        {**_PRODUCTION, "endpoint_url": "https://s3.example.com/"},
        {**_PRODUCTION, "endpoint_url": "HTTPS://S3.EXAMPLE.COM"},
        {**_PRODUCTION, "location": "media/"},
        {**_PRODUCTION, "location": ""},  # the whole bucket, production's keys too
        {**_PRODUCTION, "location": "media/thumbnails"},
    ],
    ids=[
        "another-option",
        "trailing-slash",
        "upper-case",
        "location-slash",
        "whole-bucket",
        "under-production",
    ],
)
def test_w003_names_an_alias_of_the_same_bucket_spelled_otherwise(
    settings: Any, use_storages: Any, options: dict[str, Any]
) -> None:
    assert w003(settings, use_storages, {"BACKEND": _S3, "OPTIONS": options}) == ["beside"]


@pytest.mark.parametrize(
    "options",
    [
        {**_PRODUCTION, "bucket_name": "development-media"},
        {**_PRODUCTION, "endpoint_url": "https://minio.localhost"},
        {**_PRODUCTION, "location": "static"},  # beside production's files, not over them
        {**_PRODUCTION, "location": "media-old"},
    ],
    ids=["another-bucket", "another-endpoint", "another-prefix", "a-longer-prefix"],
)
def test_w003_passes_another_store(
    settings: Any, use_storages: Any, options: dict[str, Any]
) -> None:
    assert w003(settings, use_storages, {"BACKEND": _S3, "OPTIONS": options}) == []


def test_w003_names_a_directory_spelled_otherwise(
    settings: Any, use_storages: Any, tmp_path: Path
) -> None:
    """A read-only local layer (a copy of production) and an alias of the same
    directory through a link, or with a trailing slash."""
    from django.core import checks

    (tmp_path / "copy").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "copy")
    disk = "django.core.files.storage.FileSystemStorage"
    for spelled in (f"{tmp_path / 'copy'}/", str(tmp_path / "link")):
        use_storages(
            {
                "default": {
                    "BACKEND": "storage_mixins.FallbackStorage",
                    "OPTIONS": {"backends": ["local", "copy"]},
                },
                "staticfiles": {"BACKEND": "django.core.files.storage.InMemoryStorage"},
                "copy": {"BACKEND": disk, "OPTIONS": {"location": str(tmp_path / "copy")}},
                "local": {"BACKEND": disk},
                "beside": {"BACKEND": disk, "OPTIONS": {"location": spelled}},
            }
        )
        messages = checks.run_checks(tags=["storage_mixins"])
        named = [m.obj for m in messages if m.id == "storage_mixins.W003"]
        assert named == ["copy", "beside"], spelled


def test_forget_past_an_alias_that_cannot_be_built(
    forgetting: Any, s3: Any, settings: Any, use_storages: Any
) -> None:
    """An alias misconfigured (an option its class does not take) holds no
    facts in any process: the command forgets the others' and says so."""
    forgetting()
    media = storages["media"]
    assert not media.exists("photos/new.jpg")
    s3.put("photos/new.jpg", b"new")
    use_storages(
        {
            **storages.backends,
            "broken": {
                "BACKEND": "django.core.files.storage.FileSystemStorage",
                "OPTIONS": {"no_such_option": True},
            },
        }
    )
    assert "Forgot 3 name(s) under ''" in forget()
    assert media.exists("photos/new.jpg")


def test_a_read_only_alias_of_a_directory_need_not_be_writable(
    settings: Any, use_storages: Any, tmp_path: Path
) -> None:
    """``storage_stack --check --storage archive``, a ``ReadOnly`` over a local
    directory that cannot be written: nothing writes there, so no problem
    (the probe took the backend beneath ``ReadOnly`` for a write layer)."""
    (tmp_path / "mounted").write_bytes(b"a file where a directory would be")
    use_storages(
        {
            **settings.STORAGES,
            "archive": {
                "BACKEND": "storage_mixins.ReadOnly",
                "OPTIONS": {
                    "storage": {
                        "BACKEND": "django.core.files.storage.FileSystemStorage",
                        "OPTIONS": {"location": str(tmp_path / "mounted" / "archive")},
                    }
                },
            },
        }
    )
    out = StringIO()
    call_command("storage_stack", "--check", "--storage", "archive", stdout=out)
    assert "read-only" in out.getvalue()
