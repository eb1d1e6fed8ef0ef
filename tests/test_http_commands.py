"""The commands with production over HTTP (nginx): storage_which, storage_audit,
storage_pull --referenced (the way to get a dump's media without credentials),
and storage_pull PREFIX, which cannot list an HTTP layer and says so.

nginx counts the requests: one HEAD a name looked up, one GET a file copied
(two past a MiB), never a method other than GET and HEAD.
"""

from __future__ import annotations

import json
import os
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.files.storage import storages
from django.core.management import call_command
from django.core.management.base import CommandError

from storage_mixins.core.stack import is_read_only
from tests.testapp.models import Gallery

pytestmark = pytest.mark.django_db

PRODUCTION = {
    "attachments/prod.pdf": b"%PDF production only",
    "attachments/both.pdf": b"%PDF in both",
    "attachments/with space & ü.pdf": b"%PDF hostile name",
}
LOCAL = {"attachments/both.pdf": b"%PDF in both", "attachments/local.txt": b"local only"}


@pytest.fixture
def http_production(
    nginx: Any, settings: Any, use_storages: Any, tmp_path: Path
) -> dict[str, Path]:
    """A production dump on a development machine, production's media over HTTP."""
    for name, body in PRODUCTION.items():
        nginx.put(name, body, modified=1_700_000_000)
    local = tmp_path / "local"
    for name, body in LOCAL.items():
        (local / name).parent.mkdir(parents=True, exist_ok=True)
        (local / name).write_bytes(body)
    use_storages(
        {
            **settings.STORAGES,
            "default": {
                "BACKEND": "storage_mixins.FallbackStorage",
                "OPTIONS": {"backends": ["production", "local"], "writable": "local"},
            },
            "local": {
                "BACKEND": "django.core.files.storage.FileSystemStorage",
                "OPTIONS": {"location": str(local)},
            },
            "production": {
                "BACKEND": "storage_mixins.HTTPStorage",
                "OPTIONS": {"base_url": nginx.media_url},
            },
        }
    )
    for name in [*PRODUCTION, "attachments/local.txt", "attachments/missing.pdf"]:
        Gallery.objects.create(attachment=name)
    nginx.clear_requests()
    return {"local": local}


def only_get_and_head(nginx: Any) -> None:
    assert set(nginx.counts()) <= {"GET", "HEAD"}


def test_the_production_layer_is_not_wrapped_nor_writable(http_production: Any) -> None:
    stack = storages["default"]
    assert stack.layers[0] is storages["production"] and is_read_only(stack.layers[0])
    assert stack.write_layer is storages["local"]


def test_storage_which(http_production: Any, nginx: Any) -> None:
    out = StringIO()
    with pytest.raises(CommandError, match="1 of 3 name"):
        call_command(
            "storage_which",
            "attachments/prod.pdf",
            "attachments/local.txt",
            "attachments/missing.pdf",
            stdout=out,
        )
    assert out.getvalue() == (
        "attachments/prod.pdf\n"
        f"  layer: [0] HTTPStorage('{nginx.media_url}')\n"
        "  size:  20 bytes\n"
        f"  url:   {nginx.media_url}attachments/prod.pdf\n"
        "attachments/local.txt\n"
        f"  layer: [1] FileSystemStorage('{http_production['local']}')\n"
        "  size:  10 bytes\n"
        "  url:   /media/attachments/local.txt\n"
        "attachments/missing.pdf: not found in any layer\n"
    )
    # One HEAD a name (its answer serves size too), none for the local file's size.
    assert nginx.counts() == {"HEAD": 3}


def test_storage_audit(http_production: Any, nginx: Any) -> None:
    out = StringIO()
    with pytest.raises(CommandError, match="1 broken reference"):
        call_command("storage_audit", "--model", "testapp.Gallery", "--format", "json", stdout=out)
    fields = {f["field"]: f for f in json.loads(out.getvalue())["fields"]}
    field = fields["attachment"]
    production = f"[0] HTTPStorage('{nginx.media_url}')"
    local = f"[1] FileSystemStorage('{http_production['local']}')"
    assert field["layers"] == {production: 3, local: 1}
    assert [broken["name"] for broken in field["broken"]] == ["attachments/missing.pdf"]
    assert nginx.counts() == {"HEAD": 5}  # one a distinct name, a few at a time
    only_get_and_head(nginx)


def pull(*args: str) -> tuple[str, str, CommandError | None]:
    out, err = StringIO(), StringIO()
    try:
        call_command("storage_pull", *args, stdout=out, stderr=err)
    except CommandError as exc:
        return out.getvalue(), err.getvalue(), exc
    return out.getvalue(), err.getvalue(), None


def test_storage_pull_referenced_copies_over_http(http_production: Any, nginx: Any) -> None:
    local = http_production["local"]
    out, err, error = pull("--referenced", "--model", "testapp.Gallery")
    assert "1 referenced but in no layer" in out and "attachments/missing.pdf" in err
    assert error is None or "not copied" not in str(error)
    for name, body in PRODUCTION.items():
        assert (local / name).read_bytes() == body
        if name not in LOCAL:  # copied: with production's Last-Modified
            assert os.stat(local / name).st_mtime == 1_700_000_000
    assert (local / "attachments/local.txt").read_bytes() == LOCAL["attachments/local.txt"]
    # A HEAD a referenced name, a GET a copied file; both.pdf is compared, not copied.
    gets = sorted(r.uri for r in nginx.requests() if r.method == "GET")
    assert gets == [
        "/media/attachments/both.pdf",  # its bytes, against the local copy's
        "/media/attachments/prod.pdf",
        "/media/attachments/with%20space%20%26%20%C3%BC.pdf",
    ]
    only_get_and_head(nginx)
    assert sorted(p.name for p in (nginx.root / "media" / "attachments").iterdir()) == sorted(
        Path(name).name for name in PRODUCTION
    )  # production is as it was

    nginx.clear_requests()
    out, _err, _error = pull("--referenced", "--model", "testapp.Gallery")
    assert "Copied 0 file(s), 0 bytes; 3 already present" in out


def test_storage_pull_of_a_prefix_cannot_list_http_and_says_so(
    http_production: Any, nginx: Any
) -> None:
    _out, err, error = pull("attachments")
    assert error is not None and "cannot list" in str(error) and "--referenced" in str(error)
    assert nginx.counts() == {
        "HEAD": 2
    }  # is "attachments" a file? (and its redirect to attachments/)
    _out, err, error = pull("")
    assert error is not None and "cannot list 'its files'" in str(error)
    out, err, error = pull("attachments/prod.pdf")  # a file's name is found by name
    assert error is None, err
    assert "Copied 1 file(s)" in out
    assert (http_production["local"] / "attachments/prod.pdf").read_bytes() == PRODUCTION[
        "attachments/prod.pdf"
    ]


def test_storage_stack_shows_the_http_layer_read_only(http_production: Any, nginx: Any) -> None:
    out = StringIO()
    call_command("storage_stack", stdout=out)
    lines = out.getvalue().splitlines()
    assert lines[:3] == [
        "FallbackStorage  (writes go to [1])",
        f"├── [0] HTTPStorage('{nginx.media_url}')  (read-only by construction)",
        f"└── [1] FileSystemStorage('{http_production['local']}')  ← writes",
    ]
    probe = next(line for line in lines if line.startswith("[0] HTTPStorage"))
    assert "reachable  read-only  exists()" in probe
    assert nginx.counts() == {"HEAD": 1}  # the probe


def test_an_unreachable_production_is_one_line_naming_the_layer(
    http_production: Any, settings: Any, use_storages: Any
) -> None:
    """urllib3's errors are a backend's errors: a command reports one line, and
    the stack's error keeps its type and gains a note naming the layer."""
    from urllib3.exceptions import NewConnectionError

    from tests.conftest import free_port

    dead = f"http://127.0.0.1:{free_port()}/media/"
    use_storages(
        {
            **settings.STORAGES,
            "production": {
                "BACKEND": "storage_mixins.HTTPStorage",
                "OPTIONS": {"base_url": dead, "retries": 0},
            },
        }
    )
    with pytest.raises(NewConnectionError) as raised:
        storages["default"].exists("attachments/prod.pdf")
    notes = "".join(raised.value.__notes__)
    assert f"raised by layer [0] HTTPStorage('{dead}')" in notes
    assert "the backend cannot be reached" in notes
    with pytest.raises(CommandError) as failed:
        call_command("storage_audit", "--model", "testapp.Gallery", stdout=StringIO())
    message = str(failed.value)
    assert "\n" not in message
    assert message.startswith("NewConnectionError: the backend cannot be reached")
    out = StringIO()
    with pytest.raises(CommandError, match="1 problem"):
        call_command("storage_stack", "--check", stdout=out)
    assert f"[0] HTTPStorage('{dead}')  UNREACHABLE  read-only" in out.getvalue()


def test_storage_forget_forgets_the_names_the_database_refers_to(
    http_production: Any, nginx: Any, settings: Any, use_storages: Any
) -> None:
    """HTTP has no listing: under each prefix, what the caches know of an HTTP
    layer's files is forgotten for the names the database refers to (what a new
    dump brings), and the other layers' listed names."""
    use_storages(
        {
            **settings.STORAGES,
            "production": {  # metadata_ttl=0: what is not asked again is Caching's doing
                "BACKEND": "storage_mixins.HTTPStorage",
                "OPTIONS": {"base_url": nginx.media_url, "metadata_ttl": 0},
            },
            "media": {
                "BACKEND": "storage_mixins.Caching",
                "OPTIONS": {"storage": "default", "timeout": 3600},
            },
        }
    )
    media = storages["media"]
    assert not media.exists("attachments/missing.pdf")  # referenced, not in production yet
    assert not media.exists("elsewhere/missing.pdf")
    nginx.put("attachments/missing.pdf", b"%PDF came with the new dump")
    nginx.put("elsewhere/missing.pdf", b"%PDF referred to by nothing")
    assert not media.exists("attachments/missing.pdf")  # cached
    nginx.clear_requests()
    out = StringIO()
    call_command("storage_forget", "attachments", stdout=out)
    # The prefix, the five names the rows refer to, the local layer's two files.
    assert "Forgot 8 name(s) under 'attachments' in 1 Caching(s)" in out.getvalue()
    assert nginx.requests() == []  # nothing asked of production
    assert media.exists("attachments/missing.pdf")
    assert not media.exists("elsewhere/missing.pdf")  # not under the prefix: still cached
    call_command("storage_forget", "elsewhere/missing.pdf", stdout=StringIO())
    assert media.exists("elsewhere/missing.pdf")
    only_get_and_head(nginx)
