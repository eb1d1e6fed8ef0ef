"""``Placeholders`` on its own: files that exist nowhere, made up per name.

A production dump refers to images the developer cannot get. Rows of a real
model (``testapp.Poster``, an ``ImageField`` that records its size) refer to
them; the placeholder layer draws each at the size its row records, and the
stack shows it for names that no real layer has, and never anything else:
naming, writes, caches, ``storage_pull`` and ``storage_audit`` see only real
files.
"""

from __future__ import annotations

import io
import re
from typing import Any

import pytest
from django.core.exceptions import ImproperlyConfigured, SuspiciousFileOperation
from django.core.files.base import ContentFile
from django.db import connection
from PIL import Image

from storage_mixins import (
    Placeholders,
    ReadOnlyError,
    is_read_only,
)
from storage_mixins.core.stack import invents_files
from storage_mixins.placeholders import images
from storage_mixins.placeholders import storage as placeholders_storage
from storage_mixins.placeholders.kinds import minimal_pdf
from tests.testapp.models import Poster

pytestmark = pytest.mark.django_db

WIDE = "posters/wide.jpg"  # 1200x400, nowhere
TALL = "posters/tall.png"  # 300x900, nowhere


def read(storage: Any, name: str) -> bytes:
    with storage.open(name) as file:
        data: bytes = file.read()
    return data


def picture(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


@pytest.fixture
def rows() -> dict[str, Poster]:
    """The dump's rows: each records its image's size."""
    return {
        WIDE: Poster.objects.create(image=WIDE, width=1200, height=400),
        TALL: Poster.objects.create(image=TALL, width=300, height=900),
    }


@pytest.fixture
def placeholders() -> Placeholders:
    return Placeholders()


# -- the storage on its own ------------------------------------------------------


@pytest.mark.usefixtures("rows")
def test_an_image_is_drawn_at_the_size_its_row_records(placeholders: Placeholders) -> None:
    assert placeholders.exists(WIDE) and placeholders.exists(TALL)
    with placeholders.open(WIDE) as file:
        wide = picture(file.read())
    assert (wide.size, wide.format) == ((1200, 400), "JPEG")
    tall = picture(read(placeholders, TALL))
    assert (tall.size, tall.format) == ((300, 900), "PNG")


def test_an_image_shows_its_size_and_its_file_name(monkeypatch: Any) -> None:
    """So that a developer sees at once which file is missing, and how large
    it is, even where it is drawn smaller."""
    from PIL import ImageDraw

    written: list[str] = []
    write = ImageDraw.ImageDraw.multiline_text
    monkeypatch.setattr(
        ImageDraw.ImageDraw,
        "multiline_text",
        lambda self, xy, text, *a, **k: written.append(text) or write(self, xy, text, *a, **k),
    )
    Poster.objects.create(image=WIDE, width=1200, height=400)
    Poster.objects.create(image="posters/huge.png", width=100_000, height=50_000)
    read(Placeholders(), WIDE)
    read(Placeholders(), "posters/huge.png")
    assert written == [
        "1200 x 400\nwide.jpg",
        "100000 x 50000\n(drawn at 5656 x 2828)\nhuge.png",
    ]


@pytest.mark.parametrize(
    ("extension", "image_format"), [("gif", "GIF"), ("webp", "WEBP"), ("jpeg", "JPEG")]
)
def test_the_format_follows_the_extension(extension: str, image_format: str) -> None:
    name = f"posters/p.{extension}"
    Poster.objects.create(image=name, width=64, height=48)
    image = picture(read(Placeholders(), name))
    assert (image.size, image.format) == ((64, 48), image_format)


@pytest.mark.usefixtures("rows")
def test_exists_size_open_times_and_url_agree(placeholders: Placeholders, settings: Any) -> None:
    settings.ROOT_URLCONF = "tests.testapp.urls"
    data = read(placeholders, WIDE)
    assert placeholders.size(WIDE) == len(data)
    assert read(placeholders, WIDE) == data  # the same bytes each time
    modified = placeholders.get_modified_time(WIDE)
    assert modified.tzinfo is not None and modified.year == 2000  # older than any real file
    assert placeholders.get_created_time(WIDE) == placeholders.get_accessed_time(WIDE) == modified
    assert placeholders.url(WIDE) == f"/__placeholders__/{WIDE}"
    assert Placeholders(base_url="/ph/").url("a b.jpg") == "/ph/a%20b.jpg"


def test_a_name_no_row_refers_to_is_missing(placeholders: Placeholders) -> None:
    assert not placeholders.exists("posters/unknown.jpg")
    for method in ("open", "size", "get_modified_time"):
        with pytest.raises(FileNotFoundError, match="no row of the database refers to it"):
            getattr(placeholders, method)("posters/unknown.jpg")


def test_serves_any_draws_any_image_from_its_name_or_the_default() -> None:
    anything = Placeholders(serves="any", size=(320, 240))
    assert picture(read(anything, "a/photo.jpg")).size == (320, 240)
    assert picture(read(anything, "a/banner-1200x400.png")).size == (1200, 400)
    # easy-thumbnails' and Wagtail's names carry the thumbnail's size.
    assert picture(read(anything, "a/b.jpg.100x100_q85_crop.jpg")).size == (100, 100)
    assert picture(read(anything, "images/b.2e16d0ba.fill-90x60.jpg")).size == (90, 60)
    assert picture(read(anything, "images/b.width-500.jpg")).size == (500, 375)
    assert picture(read(anything, "a/b.jpg.200x0_q85.jpg")).size == (200, 150)


def test_other_types_a_pdf_an_empty_text_file_or_missing() -> None:
    anything = Placeholders(serves="any")
    pdf = read(anything, "docs/report.pdf")
    assert pdf == minimal_pdf("docs/report.pdf")
    assert anything.size("docs/report.pdf") == len(pdf)
    assert read(anything, "docs/notes.txt") == b""
    assert anything.exists("docs/data.csv")
    assert not anything.exists("docs/archive.zip")  # unknown types stay missing
    assert not anything.exists("docs/model.bin")
    strict = Placeholders(serves="any", pdf=False, text=False)
    assert not strict.exists("docs/report.pdf") and not strict.exists("docs/notes.txt")


def test_the_minimal_pdf_is_well_formed() -> None:
    pdf = minimal_pdf("a (b) \\ é.pdf")
    assert pdf.startswith(b"%PDF-1.4\n") and pdf.endswith(b"%%EOF\n")
    start = int(re.search(rb"startxref\n(\d+)\n", pdf).group(1))  # type: ignore[union-attr]
    assert pdf[start:].startswith(b"xref\n0 6\n")
    offsets = [int(line[:10]) for line in pdf[start:].split(b"\n")[3:8]]
    for number, offset in enumerate(offsets, start=1):
        assert pdf[offset:].startswith(b"%d 0 obj\n" % number)
    assert b"(Placeholder: a \\(b\\) \\\\ ?.pdf) Tj" in pdf


def test_every_write_is_refused_before_anything_happens(placeholders: Placeholders) -> None:
    assert is_read_only(placeholders) and invents_files(placeholders)
    writes = [
        lambda: placeholders.save(WIDE, ContentFile(b"x")),
        lambda: placeholders.save(None, ContentFile(b"x", name="n.jpg")),
        lambda: placeholders._save(WIDE, ContentFile(b"x")),
        lambda: placeholders.delete(WIDE),
        lambda: placeholders.open(WIDE, "wb"),
        lambda: placeholders.open(WIDE, "r+b"),
        lambda: placeholders._open(WIDE, "ab"),
        lambda: placeholders.get_available_name(WIDE),
    ]
    for write in writes:
        with pytest.raises(ReadOnlyError, match="is read-only: its files are placeholders"):
            write()
    with pytest.raises(NotImplementedError):
        placeholders.path(WIDE)


def test_without_pillow_the_error_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(images, "find_spec", lambda name: None)
    with pytest.raises(ImproperlyConfigured, match=r"storage-mixins\[placeholders\]"):
        Placeholders()


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"serves": "all"}, "serves must be"),
        ({"size": (0, 10)}, "size must be"),
        ({"size": "800x600"}, "size must be"),
        ({"max_pixels": 0}, "max_pixels must be"),
        ({"max_memory": 1.5}, "max_memory must be"),
    ],
)
def test_options_are_checked(options: dict[str, Any], message: str) -> None:
    with pytest.raises(ImproperlyConfigured, match=message):
        Placeholders(**options)


# -- hostile names and rows ----------------------------------------------------------


def test_unsafe_and_absolute_names(placeholders: Placeholders) -> None:
    Poster.objects.create(image="/etc/x.jpg", width=10, height=10)
    for unsafe in ("../x.jpg", "a/../../x.jpg", ".."):
        with pytest.raises(SuspiciousFileOperation):
            placeholders.exists(unsafe)
    assert not placeholders.exists("/etc/x.jpg")  # no file name: never made up
    with pytest.raises(FileNotFoundError):
        placeholders.open("/etc/x.jpg")


def test_a_huge_recorded_size_is_capped(placeholders: Placeholders, monkeypatch: Any) -> None:
    """100,000 by 100,000 would be 30 GB of pixels: drawn at most max_pixels, the
    ratio kept, nothing of that size ever allocated."""
    Poster.objects.create(image="posters/huge.jpg", width=100_000, height=100_000)
    Poster.objects.create(image="posters/long.png", width=1_000_000, height=10)
    allocated: list[tuple[int, int]] = []
    new = Image.new
    monkeypatch.setattr(
        Image, "new", lambda mode, size, *a: allocated.append(size) or new(mode, size, *a)
    )
    huge = picture(read(placeholders, "posters/huge.jpg"))
    assert huge.size == (4000, 4000)  # 16,000,000 pixels
    long = picture(read(placeholders, "posters/long.png"))
    assert long.size == (images.MAX_SIDE, 1)
    assert max(w * h for w, h in allocated) <= placeholders.max_pixels


@pytest.mark.parametrize("corrupt", [(-5, 400), (0, 0), (None, 400), ("abc", "def"), (640.5, 480)])
def test_a_corrupt_recorded_size_counts_as_none(corrupt: tuple[Any, Any]) -> None:
    def corrupt_row(name: str) -> None:
        poster = Poster.objects.create(image=name, width=1, height=1)
        with connection.cursor() as cursor:  # what no field would write: text in a number
            cursor.execute(
                "UPDATE testapp_poster SET width = %s, height = %s WHERE id = %s",
                [*corrupt, poster.pk],
            )

    corrupt_row("posters/odd-640x480.jpg")
    image = picture(read(Placeholders(), "posters/odd-640x480.jpg"))
    assert image.size == (640, 480)  # the name's size, as the row says nothing usable
    corrupt_row("posters/odd.jpg")
    assert picture(read(Placeholders(size=(30, 20)), "posters/odd.jpg")).size == (30, 20)


# -- cheap ------------------------------------------------------------------------


@pytest.mark.usefixtures("rows")
def test_one_lookup_per_name_then_none(
    placeholders: Placeholders, django_assert_max_num_queries: Any, django_assert_num_queries: Any
) -> None:
    with django_assert_max_num_queries(1):  # the first column that records a size
        placeholders.exists(WIDE)
    with django_assert_num_queries(0):
        read(placeholders, WIDE)
        placeholders.size(WIDE)
        placeholders.get_modified_time(WIDE)
        assert placeholders.exists(WIDE)


@pytest.mark.usefixtures("rows")
def test_an_image_is_drawn_once(placeholders: Placeholders, monkeypatch: Any) -> None:
    drawn: list[str] = []
    draw = placeholders_storage.draw_image
    monkeypatch.setattr(
        placeholders_storage, "draw_image", lambda name, *a: drawn.append(name) or draw(name, *a)
    )
    for _ in range(3):
        read(placeholders, WIDE)
        placeholders.size(WIDE)
    assert drawn == [WIDE]
    placeholders.forget()
    placeholders.size(WIDE)
    assert drawn == [WIDE, WIDE]


def test_copies_and_pickles_are_built_again_from_the_options(fs: Any) -> None:
    """As Django's storages: a stack with placeholders copies and pickles (its
    caches and lock are not copied, a copy starts empty)."""
    import copy
    import pickle

    from storage_mixins import Fallback

    stack = Fallback(fs, Placeholders(serves="any", size=(10, 20)))
    assert copy.copy(stack).layers[-1] is stack.layers[-1]  # shallow
    for copied in (copy.deepcopy(stack), pickle.loads(pickle.dumps(stack))):
        layer = copied.layers[-1]
        assert type(layer) is Placeholders and layer is not stack.layers[-1]
        assert (layer.serves, layer.default_size) == ("any", (10, 20))
        assert picture(read(copied, "a.png")).size == (10, 20)
    assert Placeholders(serves="any").deconstruct() == (
        "storage_mixins.Placeholders",
        (),
        {"serves": "any"},
    )
