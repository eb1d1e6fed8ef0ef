"""Errors that say what to fix (issue 23, item 3).

A backend's error raised through a stack keeps its type and gains a note
naming the layer, its bucket and alias, the stack's alias, and the likely
cause by error code; the listings' refusal warning gives the cause the error
code says, not always "grant s3:ListBucket"; the commands report a missing
bucket or bad credentials as one line and a non-zero exit, never a traceback.
"""

from __future__ import annotations

import logging
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import storages
from django.core.management import call_command
from django.core.management.base import CommandError

from storage_mixins import Caching
from tests import iam_users
from tests.conftest import free_port


def _stack(s3: Any, use_storages: Any, settings: Any, tmp_path: Path, **production: Any) -> Any:
    """The README's stack, production first and cached, with production's
    options overridden by ``production``."""
    use_storages(
        {
            **settings.STORAGES,
            "default": {
                "BACKEND": "storage_mixins.FallbackStorage",
                "OPTIONS": {"backends": ["production", "local"], "writable": "local"},
            },
            "production": {
                "BACKEND": "storage_mixins.Caching",
                "OPTIONS": {"storage": "production-s3"},
            },
            "production-s3": s3.settings(**production),
            "local": {
                "BACKEND": "django.core.files.storage.FileSystemStorage",
                "OPTIONS": {"location": str(tmp_path / "local")},
            },
        }
    )
    return storages["default"]


def _one_attempt() -> Any:
    from botocore.config import Config

    return Config(retries={"max_attempts": 1}, connect_timeout=1)


def _note(exc: BaseException) -> str:
    notes = [note for note in getattr(exc, "__notes__", ()) if note.startswith("storage_mixins")]
    assert len(notes) == 1, getattr(exc, "__notes__", None)
    return notes[0]


def test_bad_credentials_through_a_stack_keep_the_error_and_name_the_layer(
    s3: Any, use_storages: Any, settings: Any, tmp_path: Path
) -> None:
    from botocore.exceptions import ClientError

    s3.put("photos/a.jpg", b"a")
    stack = _stack(s3, use_storages, settings, tmp_path, access_key="AKIANOSUCHKEY")
    with iam_users.enforced():
        with pytest.raises(ClientError) as raised:
            stack.exists("photos/a.jpg")
        with pytest.raises(ClientError) as opened:
            stack.open("photos/a.jpg")
        with pytest.raises(ClientError) as saved:
            stack.save("photos/new.jpg", ContentFile(b"new"))
    for exc in (raised.value, opened.value, saved.value):
        note = _note(exc)
        assert "layer [0] ReadOnly(Caching(S3Storage('production-media')))" in note
        assert "(STORAGES['production'])" in note
        assert "of STORAGES['default']" in note
        assert "credentials are invalid" in note  # the 403 of a HEAD says no more
    assert not (tmp_path / "local" / "photos" / "new.jpg").exists()


def test_an_unreachable_layer_is_named_with_the_outage(
    s3: Any, use_storages: Any, settings: Any, tmp_path: Path
) -> None:
    from botocore.exceptions import EndpointConnectionError

    stack = _stack(
        s3,
        use_storages,
        settings,
        tmp_path,
        endpoint_url=f"http://127.0.0.1:{free_port()}",
        client_config=_one_attempt(),
    )
    with pytest.raises(EndpointConnectionError) as raised:
        stack.exists("photos/a.jpg")
    note = _note(raised.value)
    assert "layer [0] ReadOnly(Caching(S3Storage('production-media')))" in note
    assert "cannot be reached" in note
    assert 'on_error="skip"' in note


def test_a_local_layer_error_is_named_too(
    s3: Any, use_storages: Any, settings: Any, tmp_path: Path
) -> None:
    stack = _stack(s3, use_storages, settings, tmp_path)
    (tmp_path / "local").mkdir()
    (tmp_path / "local" / "a").write_bytes(b"a file, where a directory would go")
    with pytest.raises((FileExistsError, NotADirectoryError)) as raised:
        stack._save("a/b.txt", ContentFile(b"x"))
    assert "layer [1] FileSystemStorage(" in _note(raised.value)


def test_the_innermost_stack_adds_the_only_note(s3: Any, tmp_path: Path) -> None:
    from botocore.exceptions import ClientError

    from storage_mixins import Fallback, ReadOnly

    production = s3.storage(access_key="AKIANOSUCHKEY")
    inner = Fallback(ReadOnly(production), Caching(ReadOnly(production)))
    outer = Fallback(inner, s3.storage("other-bucket"))
    with iam_users.enforced(), pytest.raises(ClientError) as raised:
        outer.size("a.jpg")
    assert "layer [0] ReadOnly(S3Storage('production-media')) of Fallback" in _note(raised.value)


def test_a_refused_listing_gives_the_cause_its_code_says(
    s3: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """Bad credentials are not a missing s3:ListBucket: the warning says which."""
    from botocore.exceptions import ClientError

    s3.put("photos/a.jpg", b"a")
    cached = Caching(s3.storage(access_key="AKIANOSUCHKEY"))
    with (
        iam_users.enforced(),
        caplog.at_level(logging.WARNING, logger="storage_mixins"),
        pytest.raises(ClientError),
    ):
        cached.exists("photos/a.jpg")
    [warning] = [r.getMessage() for r in caplog.records if "refused" in r.getMessage()]
    assert "InvalidAccessKeyId" in warning
    assert "credentials are invalid" in warning
    assert "ListBucket" not in warning


def test_a_denied_listing_says_to_grant_list_bucket(
    s3: Any, caplog: pytest.LogCaptureFixture
) -> None:
    s3.put("photos/a.jpg", b"a")
    reader = iam_users.user(s3, "reader", iam_users.READ_OBJECTS, "production-media")
    cached = Caching(s3.storage(**reader))
    with iam_users.enforced(), caplog.at_level(logging.WARNING, logger="storage_mixins"):
        assert cached.exists("photos/a.jpg")  # asked with a HEAD
    [warning] = [r.getMessage() for r in caplog.records if "refused" in r.getMessage()]
    assert "AccessDenied" in warning
    assert "grant s3:ListBucket on the bucket" in warning
    assert "lack s3:ListBucket" in warning


# -- the commands: one line, a non-zero exit ------------------------------------


def _missing_bucket(s3: Any, use_storages: Any, settings: Any, tmp_path: Path) -> Any:
    _stack(s3, use_storages, settings, tmp_path)
    settings.STORAGES["production-s3"]["OPTIONS"]["bucket_name"] = "no-such-bucket"
    use_storages(settings.STORAGES)
    return storages["default"]


def _one_line(error: CommandError) -> str:
    message = str(error)
    assert "\n" not in message
    return message


@pytest.mark.django_db
def test_storage_audit_reports_a_missing_bucket_in_one_line(
    s3: Any, use_storages: Any, settings: Any, tmp_path: Path
) -> None:
    from tests.testapp.models import Scan

    _missing_bucket(s3, use_storages, settings, tmp_path)
    Scan.objects.create(scan="scans/s.tif")
    with pytest.raises(CommandError) as raised:
        call_command("storage_audit", "--model", "testapp.Scan", stdout=StringIO())
    message = _one_line(raised.value)
    assert "NoSuchBucket" in message
    assert "'no-such-bucket'" in message
    assert "check bucket_name" in message


@pytest.mark.django_db
def test_storage_audit_reports_bad_credentials_in_one_line(
    s3: Any, use_storages: Any, settings: Any, tmp_path: Path
) -> None:
    from tests.testapp.models import Scan

    _stack(s3, use_storages, settings, tmp_path, secret_key="not-the-secret")
    Scan.objects.create(scan="scans/s.tif")
    reader = iam_users.user(s3, "reader", iam_users.READ, "production-media")
    settings.STORAGES["production-s3"]["OPTIONS"]["access_key"] = reader["access_key"]
    use_storages(settings.STORAGES)
    with iam_users.enforced(), pytest.raises(CommandError) as raised:
        call_command("storage_audit", "--model", "testapp.Scan", stdout=StringIO())
    message = _one_line(raised.value)
    assert "SignatureDoesNotMatch" in message
    assert "secret key does not match" in message


def test_storage_pull_reports_a_missing_bucket_in_one_line(
    s3: Any, use_storages: Any, settings: Any, tmp_path: Path
) -> None:
    _missing_bucket(s3, use_storages, settings, tmp_path)
    with pytest.raises(CommandError) as raised:
        call_command("storage_pull", "photos", stdout=StringIO(), stderr=StringIO())
    assert "NoSuchBucket" in _one_line(raised.value)
