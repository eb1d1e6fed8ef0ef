"""The apps over originals that are nowhere: the stack's last layer makes them
up (``FallbackStorage(..., placeholders=True)``) at the size their rows record.

A production dump refers to ``posters/lost.jpg`` (900x300), which neither
production nor the local disk has. sorl-thumbnail, easy-thumbnails, Wagtail's
renditions and admin, the Django admin's file widget and a plain
``{{ poster.image.url }}`` each render it: thumbnails of the right aspect
ratio (3:1), with no error logged, and nothing written but the thumbnails,
locally. An original that production has is still read from production.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator
from typing import Any

import pytest
from django.core.files.base import ContentFile
from django.template import engines
from django.urls import reverse
from PIL import Image

from tests_apps.conftest import ORDERS, _reset_app_caches, jpeg
from tests_apps.gallery.models import Attachment, Poster

pytestmark = pytest.mark.django_db

LOST = "posters/lost.jpg"
PLACEHOLDER_URL = f"/__placeholders__/{LOST}"


@pytest.fixture
def nowhere(media: Any, settings: Any) -> Any:
    """The stack of ``media``, with placeholders last."""
    options = {**ORDERS[media.order], "placeholders": True}
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {"BACKEND": "storage_mixins.FallbackStorage", "OPTIONS": options},
    }
    _reset_app_caches()
    return media


@pytest.fixture
def lost(nowhere: Any) -> Poster:
    """A row of the dump whose file is nowhere."""
    return Poster.objects.create(title="Lost", image=LOST, width=900, height=300)


@pytest.fixture(autouse=True)
def _no_error_logged(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    """No app logs a missing file (sorl's FileNotFoundError spam, say)."""
    caplog.set_level(logging.WARNING)
    yield
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING] == []


def size_of(storage: Any, name: str) -> tuple[int, int]:
    with storage.open(name) as file:
        image = Image.open(io.BytesIO(file.read()))
    return image.size


def test_a_plain_template_and_the_placeholder_url(nowhere: Any, lost: Poster, client: Any) -> None:
    with nowhere.production.operation("{{ poster.image.url }} of a file nowhere", "2 HEAD"):
        html = (
            engines["django"]
            .from_string("{{ p.image.url }} {{ p.image.width }}x{{ p.image.height }}")
            .render({"p": Poster.objects.get(pk=lost.pk)})
        )
    assert html == f"{PLACEHOLDER_URL} 900x300"
    response = client.get(PLACEHOLDER_URL)
    assert response.status_code == 200 and response["Content-Type"] == "image/jpeg"
    assert Image.open(io.BytesIO(response.content)).size == (900, 300)
    assert nowhere.local_files() == set()  # a placeholder is never written
    nowhere.production.assert_untouched()


def test_the_admin_file_widget(
    nowhere: Any, lost: Poster, client: Any, django_user_model: Any
) -> None:
    user = django_user_model.objects.create_superuser("admin", "admin@example.com", "pw")
    client.force_login(user)
    with nowhere.production.operation("admin: change form of a file nowhere", "3 HEAD"):
        page = client.get(reverse("admin:gallery_poster_change", args=[lost.pk]))
    assert page.status_code == 200
    assert f'href="{PLACEHOLDER_URL}"' in page.content.decode()
    nowhere.production.assert_untouched()


@pytest.mark.apps("sorl.thumbnail")
def test_sorl_thumbnail_of_an_original_nowhere(nowhere: Any, lost: Poster, settings: Any) -> None:
    from sorl.thumbnail import get_thumbnail

    settings.THUMBNAIL_KVSTORE = "storage_mixins.contrib.sorl.KVStore"
    settings.THUMBNAIL_STORAGE = "local"
    with nowhere.production.operation("sorl: thumbnail of a file nowhere", "1 HEAD"):
        thumbnail = get_thumbnail(lost.image, "120x120")
    assert (thumbnail.width, thumbnail.height) == (120, 40)
    assert nowhere.local_files() == {thumbnail.name}
    assert size_of(nowhere.local, thumbnail.name) == (120, 40)
    html = (
        engines["django"]
        .from_string(
            '{% load sorl_thumbnail %}{% thumbnail p.image "60x60" as im %}'
            "{{ im.width }}x{{ im.height }}{% endthumbnail %}"
        )
        .render({"p": lost})
    )
    assert html == "60x20"
    nowhere.production.assert_untouched()


@pytest.mark.apps("sorl.thumbnail")
def test_sorl_thumbnails_in_the_stack_are_still_made(nowhere: Any, settings: Any) -> None:
    """Placeholders make up only what the database refers to: sorl's cache
    names are not, so sorl still makes (and finds) real thumbnails."""
    from sorl.thumbnail import get_thumbnail

    settings.THUMBNAIL_KVSTORE = "storage_mixins.contrib.sorl.KVStore"
    settings.THUMBNAIL_STORAGE = "default"
    nowhere.production.put("posters/real.jpg", jpeg("yellow", (600, 200)))
    real = Poster.objects.create(image="posters/real.jpg", width=600, height=200)
    thumbnail = get_thumbnail(real.image, "60x60")
    assert thumbnail.name in nowhere.local_files()
    with nowhere.local.open(thumbnail.name) as file:
        red, green, blue = Image.open(io.BytesIO(file.read())).convert("RGB").getpixel((30, 10))
    assert red > 200 and green > 200 and blue < 80  # production's yellow, not a placeholder
    nowhere.production.assert_untouched()


@pytest.mark.apps("easy_thumbnails")
def test_easy_thumbnail_of_an_original_nowhere(
    nowhere: Any, lost: Poster, monkeypatch: pytest.MonkeyPatch
) -> None:
    import easy_thumbnails.storage
    from django.core.files.storage import storages
    from easy_thumbnails.files import get_thumbnailer

    monkeypatch.setattr(easy_thumbnails.storage, "thumbnail_default_storage", storages["local"])
    with nowhere.production.operation("easy-thumbnails: thumbnail of a file nowhere", "5 HEAD"):
        thumbnail = get_thumbnailer(lost.image).get_thumbnail({"size": (150, 150)})
    assert (thumbnail.width, thumbnail.height) == (150, 50)
    assert size_of(nowhere.local, thumbnail.name) == (150, 50)
    html = (
        engines["django"]
        .from_string("{% load easy_thumbnails_tags %}{% thumbnail p.image 90x90 %}")
        .render({"p": Poster.objects.get(pk=lost.pk)})
    )
    assert html == f"/media/{LOST}.90x90_q85.jpg"
    assert size_of(nowhere.local, f"{LOST}.90x90_q85.jpg") == (90, 30)
    nowhere.production.assert_untouched()


@pytest.fixture
def wagtail_lost(nowhere: Any) -> Any:
    """A Wagtail image whose original is nowhere."""
    from wagtail.images.models import Image as WagtailImage
    from wagtail.models import Collection

    collection = Collection.get_first_root_node() or Collection.add_root(name="Root")
    return WagtailImage.objects.create(
        title="Lost", file="original_images/lost.jpg", width=900, height=300, collection=collection
    )


@pytest.mark.apps("wagtail")
def test_wagtail_renditions_of_an_original_nowhere(nowhere: Any, wagtail_lost: Any) -> None:
    with nowhere.production.operation("wagtail: rendition of an original nowhere", "3 HEAD"):
        rendition = wagtail_lost.get_rendition("max-300x300")
    assert (rendition.width, rendition.height) == (300, 100)
    assert size_of(nowhere.local, rendition.file.name) == (300, 100)
    html = (
        engines["django"]
        .from_string("{% load wagtailimages_tags %}{% image image width-150 %}")
        .render({"image": type(wagtail_lost).objects.get(pk=wagtail_lost.pk)})
    )
    assert 'width="150"' in html and 'height="50"' in html
    nowhere.production.assert_untouched()


@pytest.mark.apps("wagtail")
def test_wagtail_admin_of_an_original_nowhere(
    nowhere: Any, wagtail_lost: Any, client: Any, django_user_model: Any
) -> None:
    user = django_user_model.objects.create_superuser("editor", "editor@example.com", "pw")
    client.force_login(user)
    with nowhere.production.operation(
        "wagtail admin: listing and edit form", "11 HEAD", production_first="14 HEAD"
    ):
        listing = client.get(reverse("wagtailimages:index"))
        edit = client.get(reverse("wagtailimages:edit", args=[wagtail_lost.pk]))
    assert listing.status_code == 200 and edit.status_code == 200
    made = {r.filter_spec: (r.width, r.height) for r in wagtail_lost.renditions.all()}
    assert made["max-165x165"] == (165, 54)  # the listing's thumbnail: 3:1, as Wagtail rounds
    assert all(round(width / height) == 3 for width, height in made.values())
    nowhere.production.assert_untouched()


@pytest.mark.apps("wagtail")
def test_a_rendition_row_of_the_dump_whose_file_is_nowhere(
    nowhere: Any, wagtail_lost: Any, client: Any
) -> None:
    """The dump has the rendition's row, with its size: the placeholder has it."""
    name = "images/lost.2e16d0ba.fill-120x60.jpg"
    wagtail_lost.renditions.create(
        filter_spec="fill-120x60", focal_point_key="2e16d0ba", file=name, width=120, height=60
    )
    html = (
        engines["django"]
        .from_string("{% load wagtailimages_tags %}{% image image fill-120x60 %}")
        .render({"image": type(wagtail_lost).objects.get(pk=wagtail_lost.pk)})
    )
    assert f'src="/__placeholders__/{name}"' in html
    response = client.get(f"/__placeholders__/{name}")
    assert Image.open(io.BytesIO(response.content)).size == (120, 60)
    nowhere.production.assert_untouched()


LOST_PDF = "attachments/lost.pdf"


@pytest.fixture(params=["ignore", "raise", "hide"], ids=lambda policy: f"on_delete={policy}")
def cleanup_nowhere(request: pytest.FixtureRequest, nowhere: Any, settings: Any) -> Any:
    """The stack with placeholders, under each ``on_delete`` policy; a row of
    the dump refers to a PDF that is nowhere (a placeholder stands in)."""
    default = settings.STORAGES["default"]
    options = {**default["OPTIONS"], "on_delete": request.param}
    settings.STORAGES = {**settings.STORAGES, "default": {**default, "OPTIONS": options}}
    _reset_app_caches()
    Attachment.objects.create(file=LOST_PDF)
    assert nowhere.stack.exists(LOST_PDF)  # a placeholder stands in
    return nowhere


@pytest.fixture
def cleaned() -> Iterator[list[dict[str, Any]]]:
    """What django-cleanup reports for each file it deletes."""
    from django_cleanup.signals import cleanup_post_delete

    reported: list[dict[str, Any]] = []

    def record(sender: Any, **event: Any) -> None:
        reported.append(event)

    cleanup_post_delete.connect(record)
    yield reported
    cleanup_post_delete.disconnect(record)


@pytest.mark.apps("django_cleanup")
def test_django_cleanup_deleting_a_row_whose_file_is_nowhere(
    cleanup_nowhere: Any, cleaned: list[dict[str, Any]], django_capture_on_commit_callbacks: Any
) -> None:
    """django-cleanup deletes the file of a deleted row: a placeholder's is
    nothing to delete, under every policy (no ReadOnlyError from the
    placeholder layer, no tombstone hiding it, nothing logged)."""
    with (
        cleanup_nowhere.production.operation(
            "django-cleanup: delete a row whose file is nowhere", "1 HEAD"
        ),
        django_capture_on_commit_callbacks(execute=True),
    ):
        Attachment.objects.get().delete()
    (event,) = cleaned
    assert (event["file_name"], event["success"], event["error"]) == (LOST_PDF, True, None)
    assert cleanup_nowhere.local_files() == set()  # no tombstone, nothing written
    cleanup_nowhere.production.assert_untouched()


@pytest.mark.apps("django_cleanup")
def test_django_cleanup_replacing_a_file_that_is_nowhere(
    cleanup_nowhere: Any, cleaned: list[dict[str, Any]], django_capture_on_commit_callbacks: Any
) -> None:
    """The upload keeps the name only a placeholder "has", so django-cleanup
    sees the same file and deletes nothing: not the new upload either."""
    attachment = Attachment.objects.get()  # as a request would load it
    attachment.file = ContentFile(b"%PDF uploaded", name="lost.pdf")
    with (
        cleanup_nowhere.production.operation(
            "django-cleanup: replace a file that is nowhere", "1 HEAD"
        ),
        django_capture_on_commit_callbacks(execute=True),
    ):
        attachment.save()
    assert attachment.file.name == LOST_PDF
    assert cleaned == []
    assert cleanup_nowhere.local_files() == {LOST_PDF}
    with cleanup_nowhere.stack.open(LOST_PDF) as file:
        assert file.read() == b"%PDF uploaded"
    cleanup_nowhere.production.assert_untouched()
