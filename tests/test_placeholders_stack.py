"""``Placeholders`` last in a stack: reads show its files, nothing else does.

A production dump refers to images the developer cannot get. Rows of a real
model (``testapp.Poster``, an ``ImageField`` that records its size) refer to
them; the placeholder layer draws each at the size its row records, and the
stack shows it for names that no real layer has, and never anything else:
naming, writes, caches, ``storage_pull`` and ``storage_audit`` see only real
files.
"""

from __future__ import annotations

import json
import logging
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.core.files.base import ContentFile
from django.core.files.storage import FileSystemStorage, InMemoryStorage
from django.core.management import call_command
from django.core.management.base import CommandError

from storage_mixins import (
    Caching,
    Fallback,
    FallbackStorage,
    Logging,
    Placeholders,
    ReadOnly,
    is_read_only,
)
from storage_mixins.observability.recording import record
from tests import test_placeholders
from tests.test_placeholders import TALL, WIDE, picture, read
from tests.testapp.models import Poster

pytestmark = pytest.mark.django_db

# The dump's rows, and the storage on its own, as tests/test_placeholders.py has them.
rows = test_placeholders.rows
placeholders = test_placeholders.placeholders


@pytest.fixture
def stack(fs: FileSystemStorage, mem: InMemoryStorage, placeholders: Placeholders) -> Fallback:
    """Local disk (writes), production (read-only), placeholders last."""
    return Fallback(fs, ReadOnly(mem), placeholders)


# -- in a stack ------------------------------------------------------------------


@pytest.mark.usefixtures("rows")
def test_a_stack_shows_placeholders_only_for_names_no_layer_has(
    stack: Fallback, fs: FileSystemStorage, mem: InMemoryStorage, placeholders: Placeholders
) -> None:
    fs.save("posters/local.jpg", ContentFile(b"local"))
    mem.save(TALL, ContentFile(b"production"))
    assert read(stack, "posters/local.jpg") == b"local"
    assert read(stack, TALL) == b"production"
    assert stack.which(WIDE) is placeholders
    assert picture(read(stack, WIDE)).size == (1200, 400)
    assert stack.size(WIDE) == placeholders.size(WIDE)
    assert stack.get_modified_time(WIDE) == placeholders.get_modified_time(WIDE)
    assert not stack.exists("posters/unknown.jpg")


@pytest.mark.usefixtures("rows")
def test_a_file_that_appears_in_a_real_layer_wins_at_once(
    stack: Fallback, fs: FileSystemStorage, settings: Any
) -> None:
    settings.ROOT_URLCONF = "tests.testapp.urls"
    cached = Caching(stack)
    assert cached.exists(WIDE) and cached.size(WIDE) > 5
    assert cached.url(WIDE) != fs.url(WIDE)
    Path(fs.path(WIDE)).parent.mkdir(parents=True)
    Path(fs.path(WIDE)).write_bytes(b"real!")  # pulled, or copied in by hand
    for storage in (stack, cached):
        assert storage.size(WIDE) == 5
        assert read(storage, WIDE) == b"real!"
        assert storage.url(WIDE) == fs.url(WIDE)
        assert storage.which(WIDE) is fs if storage is stack else True


@pytest.mark.usefixtures("rows")
def test_a_new_file_keeps_the_name_only_a_placeholder_has(
    stack: Fallback, fs: FileSystemStorage
) -> None:
    assert stack.exists(WIDE)
    assert stack.save(WIDE, ContentFile(b"uploaded")) == WIDE
    assert read(fs, WIDE) == b"uploaded"
    assert stack.get_available_name(TALL) == TALL
    production_first = Fallback(ReadOnly(InMemoryStorage()), fs, Placeholders())
    assert production_first.save(TALL, ContentFile(b"up")) == TALL


class Unreachable(InMemoryStorage):
    """Production while the laptop is offline: every read is refused."""

    def _down(self, *args: Any, **kwargs: Any) -> Any:
        raise ConnectionRefusedError("production is unreachable")

    exists = open = _open = size = get_modified_time = listdir = _down


@pytest.mark.usefixtures("rows")
def test_offline_placeholders_stand_in_and_naming_still_sees_only_real_layers(
    fs: FileSystemStorage, caplog: Any
) -> None:
    """on_error="skip", production down: what it may have is drawn as a
    placeholder (the developer is offline); a new name is asked of the real
    layers only, so it is an offline name, never one a placeholder "has" or
    not: the placeholder layer is no layer whose answer could free a name."""
    stack = Fallback(fs, ReadOnly(Unreachable()), Placeholders(), on_error="skip")
    with caplog.at_level(logging.WARNING):
        assert picture(read(stack, WIDE)).size == (1200, 400)
        saved = stack.save(WIDE, ContentFile(b"uploaded"))
    assert saved.startswith("posters/wide_offline_") and read(fs, saved) == b"uploaded"
    assert not fs.exists(WIDE)


class SpiedPlaceholders(Placeholders):
    """Placeholders that note every write method looked up on them."""

    WRITES = frozenset({"save", "_save", "delete", "get_available_name", "path"})

    def __init__(self, **options: Any) -> None:
        self.reached: list[str] = []
        super().__init__(**options)

    def __getattribute__(self, attribute: str) -> Any:
        if attribute in SpiedPlaceholders.WRITES:
            object.__getattribute__(self, "reached").append(attribute)
        return super().__getattribute__(attribute)


@pytest.mark.usefixtures("rows")
@pytest.mark.parametrize("on_delete", ["ignore", "raise", "hide"])
def test_no_write_ever_reaches_the_placeholder_layer(
    fs: FileSystemStorage, mem: InMemoryStorage, on_delete: str, caplog: Any
) -> None:
    spied = SpiedPlaceholders()
    stack = Caching(Fallback(ReadOnly(mem), fs, spied, on_delete=on_delete))
    Poster.objects.create(image="posters/third.gif", width=10, height=10)
    opened: list[Any] = []
    with caplog.at_level(logging.WARNING):
        stack.delete(WIDE)  # in no real layer: nothing to delete, nothing to say
        tombstones = stack.__wrapped__.tombstones
        assert tombstones is None or WIDE not in tombstones  # nothing to hide either
        stack.save("posters/new.jpg", ContentFile(b"new"))
        stack._save("posters/new2.jpg", ContentFile(b"new"))
        opened.append(stack.open(TALL, "xb"))  # a placeholder "has" it: no FileExistsError
        opened.append(stack.open(WIDE, "ab"))  # nothing copied up from a placeholder
        opened.append(stack.open("posters/third.gif", "wb"))
    for file in opened:
        file.write(b"!")
        file.close()
    assert caplog.records == []
    assert read(fs, WIDE) == read(fs, TALL) == read(fs, "posters/third.gif") == b"!"
    assert spied.reached == []


@pytest.mark.usefixtures("rows")
def test_a_file_deleted_in_development_stays_deleted(
    fs: FileSystemStorage, mem: InMemoryStorage, settings: Any
) -> None:
    """on_delete="hide": the tombstone that hides production's copy hides the
    name from every layer, the placeholder's too: delete, then exists() is
    False, as for any storage."""
    settings.ROOT_URLCONF = "tests.testapp.urls"
    stack = Fallback(ReadOnly(mem), fs, Placeholders(), on_delete="hide")
    mem.save(TALL, ContentFile(b"production"))
    assert read(stack, TALL) == b"production"
    stack.delete(TALL)
    assert not stack.exists(TALL) and stack.which(TALL) is None
    with pytest.raises(FileNotFoundError):
        stack.size(TALL)
    assert stack.url(TALL) == fs.url(TALL)  # the last real layer's, as for a missing file


def test_placeholders_go_last_in_the_outermost_stack(fs: Any, mem: Any) -> None:
    with pytest.raises(ImproperlyConfigured, match="must be the last layer"):
        Fallback(fs, Placeholders(), ReadOnly(mem))
    with pytest.raises(ImproperlyConfigured, match="must be the last layer"):
        Fallback(fs, Fallback(ReadOnly(mem), Placeholders()))
    with pytest.raises(ImproperlyConfigured, match="read-only"):
        Fallback(fs, Placeholders(), writable=1)
    assert Fallback(fs, Logging(Placeholders())).layers[-1]  # wrapped, still last: fine
    alone = Fallback(Placeholders())
    assert alone.write_layer is None and is_read_only(alone)


def test_fallback_storage_takes_them_as_an_option(fs: Any, mem: Any) -> None:
    stack = FallbackStorage([fs, mem], placeholders=True)
    assert type(stack.layers[-1]) is Placeholders and len(stack.layers) == 3
    assert repr(stack).endswith("placeholders=True)")
    options = FallbackStorage([fs, mem], placeholders={"serves": "any", "size": [10, 10]})
    assert options.layers[-1].serves == "any" and options.layers[-1].default_size == (10, 10)
    as_a_backend = FallbackStorage([fs, mem, "storage_mixins.Placeholders"])
    assert type(as_a_backend.layers[-1]) is Placeholders  # not wrapped in ReadOnly
    copied = stack.deconstruct()
    assert copied[2]["placeholders"] is True
    with pytest.raises(ImproperlyConfigured, match="placeholders must be"):
        FallbackStorage([fs], placeholders="yes")


@pytest.mark.usefixtures("rows")
def test_url_of_a_name_no_layer_has(stack: Fallback, fs: Any, settings: Any) -> None:
    settings.ROOT_URLCONF = "tests.testapp.urls"
    assert stack.url(WIDE) == f"/__placeholders__/{WIDE}"
    # What no placeholder stands for has the URL it had: the last real layer's.
    assert stack.url("posters/unknown.jpg") == "https://mem.example/posters/unknown.jpg"
    assert stack.url("notes/a.zip") == "https://mem.example/notes/a.zip"


@pytest.mark.usefixtures("rows")
def test_a_directory_of_that_name_in_a_real_layer(stack: Fallback, fs: Any) -> None:
    Path(fs.path(WIDE)).mkdir(parents=True)  # a directory called wide.jpg
    assert picture(read(stack, WIDE)).size == (1200, 400)
    assert stack.size(WIDE) == len(read(stack, WIDE))
    assert stack.save(WIDE, ContentFile(b"x")) != WIDE  # the directory is real


@pytest.mark.usefixtures("rows")
def test_caching_keeps_no_placeholder(stack: Fallback, tmp_path: Path) -> None:
    """Not its answers, not its listing (there is none), not a local copy."""
    copies = FileSystemStorage(location=tmp_path / "copies")
    cached = Caching(stack, listings=True, contents=copies)
    data = read(cached, WIDE)
    assert picture(data).size == (1200, 400)
    assert cached.size(WIDE) == len(data) and cached.exists(WIDE)
    assert not (tmp_path / "copies").exists() or not any((tmp_path / "copies").rglob("*.jpg"))
    assert "[2]" not in " ".join(cached._self_reads.describe())  # no listings of it


# -- visible ----------------------------------------------------------------------


@pytest.mark.usefixtures("rows")
def test_a_recording_says_a_placeholder_answered(stack: Fallback) -> None:
    with record(detail=True) as recording:
        stack.exists(WIDE)
        stack.size(TALL)
        stack.exists("posters/unknown.jpg")
    answered = [call.answered_by() for call in recording.calls]
    assert answered[:2] == ["[2] Placeholders(): a placeholder"] * 2
    assert recording.placeholders == 2
    assert recording.summary() == "3 calls, 2 placeholders"


@pytest.mark.usefixtures("rows")
def test_logging_shows_the_placeholder_layer(fs: Any, caplog: Any) -> None:
    stack = Fallback(fs, Logging(Placeholders()))
    with caplog.at_level(logging.DEBUG, logger="storage_mixins"):
        stack.size(WIDE)
    lines = [record.getMessage() for record in caplog.records]
    assert f"size({WIDE!r}) -> " in lines[-1] and lines[-1].endswith("[Placeholders()]")
    assert any(
        line.startswith(
            f"placeholder for {WIDE!r}: 1200 × 400 JPEG (size from testapp.Poster.image)"
        )
        for line in lines
    )


def test_the_view_serves_placeholders_and_nothing_else(dump: dict[str, Any], client: Any) -> None:
    response = client.get(f"/__placeholders__/{WIDE}")
    assert response.status_code == 200 and response["Content-Type"] == "image/jpeg"
    assert response["Cache-Control"] == "no-cache"
    assert picture(response.content).size == (1200, 400)
    tall = client.get(f"/__placeholders__/{TALL}")  # production has it: never served here
    assert picture(tall.content).size == (300, 900)
    assert client.get("/__placeholders__/posters/unknown.jpg").status_code == 404
    assert client.get("/__placeholders__/../settings.py").status_code == 404
    assert client.get("/__placeholders__/%2Fetc%2Fpasswd.jpg").status_code == 404


@pytest.fixture
def dump(use_storages: Any, settings: Any, tmp_path: Path) -> dict[str, Any]:
    """STORAGES["default"]: local, production (which has one poster), placeholders."""
    from django.core.files.storage import storages

    settings.ROOT_URLCONF = "tests.testapp.urls"
    local = tmp_path / "local"
    use_storages(
        {
            **settings.STORAGES,
            "default": {
                "BACKEND": "storage_mixins.Fallback",
                "OPTIONS": {"layers": ["local", "production", "placeholders"]},
            },
            "local": {
                "BACKEND": "django.core.files.storage.FileSystemStorage",
                "OPTIONS": {"location": str(local)},
            },
            "production": {
                "BACKEND": "storage_mixins.ReadOnly",
                "OPTIONS": {"storage": {"BACKEND": "tests.spies.RecordingStorage"}},
            },
            "placeholders": {"BACKEND": "storage_mixins.Placeholders"},
        }
    )
    storages["production"].__wrapped__.put(TALL, b"production")
    Poster.objects.create(image=WIDE, width=1200, height=400)
    Poster.objects.create(image=TALL, width=300, height=900)
    return {"local": storages["local"], "root": local}


# -- commands ----------------------------------------------------------------------


def test_storage_pull_never_pulls_a_placeholder(dump: dict[str, Any]) -> None:
    err = StringIO()
    call_command(
        "storage_pull", "--referenced", "--model", "testapp.Poster", stdout=StringIO(), stderr=err
    )
    assert sorted(p.name for p in dump["root"].rglob("*") if p.is_file()) == ["tall.png"]
    assert f"{WIDE!r}: referenced, but in no layer" in err.getvalue()
    call_command("storage_pull", "", stdout=StringIO(), stderr=StringIO())
    assert not dump["local"].exists(WIDE)


def test_storage_audit_reports_placeholders_as_missing(dump: dict[str, Any]) -> None:
    out = StringIO()
    with pytest.raises(CommandError, match="1 broken reference"):
        call_command("storage_audit", "--model", "testapp.Poster", stdout=out)
    assert f"{WIDE}: in no layer (a placeholder stands in)" in out.getvalue()
    assert "1 (1 stood in for by a placeholder)" not in out.getvalue()
    assert "1  broken (1 stood in for by a placeholder)" in out.getvalue()
    assert "[2] Placeholders()" not in out.getvalue()  # it serves no file: no count
    out = StringIO()
    with pytest.raises(CommandError):
        call_command("storage_audit", "--model", "testapp.Poster", "--format", "json", stdout=out)
    (field,) = json.loads(out.getvalue())["fields"]
    assert [(b["name"], b["placeholder"]) for b in field["broken"]] == [(WIDE, True)]
    assert list(field["layers"]) == ["[1] ReadOnly(RecordingStorage())"]


def test_storage_which_says_placeholder(dump: dict[str, Any]) -> None:
    out = StringIO()
    call_command("storage_which", WIDE, stdout=out)
    assert (
        "layer: [2] Placeholders()  (a placeholder: no real layer has the file)" in out.getvalue()
    )


urlpatterns: list[Any] = []  # a URLconf without the placeholders' view (test_w007)


def test_w007_placeholders_whose_urls_nothing_serves(settings: Any, use_storages: Any) -> None:
    from django.core import checks

    def w007() -> list[str]:
        found = checks.run_checks(tags=["storage_mixins"])
        return [message.msg for message in found if message.id == "storage_mixins.W007"]

    stack = {"BACKEND": "storage_mixins.FallbackStorage", "OPTIONS": {"backends": ["local"]}}
    use_storages(
        {
            **settings.STORAGES,
            "default": {**stack, "OPTIONS": {"backends": ["local"], "placeholders": True}},
        }
    )
    settings.ROOT_URLCONF = "tests.testapp.urls"
    assert w007() == []  # routed
    settings.ROOT_URLCONF = __name__  # this module: no URL at all
    (message,) = w007()
    assert "STORAGES['default']: Placeholders() gives URLs nothing serves" in message
    use_storages(
        {
            **settings.STORAGES,
            "default": {
                **stack,
                "OPTIONS": {"backends": ["local"], "placeholders": {"base_url": "/ph/"}},
            },
        }
    )
    assert w007() == []  # served elsewhere, as the user says


def test_storage_stack_says_placeholders_are_read_only(dump: dict[str, Any]) -> None:
    out = StringIO()
    call_command("storage_stack", stdout=out)
    assert "[2] Placeholders()  reachable  read-only  exists() " in out.getvalue()


def test_storage_forget_lists_no_placeholder(
    dump: dict[str, Any], settings: Any, use_storages: Any, monkeypatch: Any
) -> None:
    """After a new dump: the real layers are listed; the placeholder layer,
    whose files exist nowhere, has nothing to list, and raises nothing."""
    media = {"BACKEND": "storage_mixins.Caching", "OPTIONS": {"storage": "default"}}
    use_storages({**settings.STORAGES, "media": media})
    dump["local"].save("posters/local.jpg", ContentFile(b"local"))
    forgotten: list[str] = []
    monkeypatch.setattr(Caching, "invalidate_many", lambda self, names: forgotten.extend(names))
    call_command("storage_forget", stdout=StringIO())
    assert "posters/local.jpg" in forgotten and WIDE not in forgotten
