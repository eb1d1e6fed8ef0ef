"""easy-thumbnails and sorl-thumbnail over the stack: thumbnails of
production-only sources, their template tags, deletes and cleanup."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from django.core.files.storage import storages
from django.core.management import call_command
from django.template import engines

from tests_apps.conftest import jpeg
from tests_apps.gallery.models import Picture

pytestmark = pytest.mark.django_db

SOURCE = "pictures/beach.jpg"


@pytest.fixture
def beach(media: Any) -> Picture:
    """A picture whose file is only in production (a production dump)."""
    media.production.put(SOURCE, jpeg("yellow"))
    return Picture.objects.create(title="Beach", image=SOURCE)


def render(template: str, **context: Any) -> str:
    return engines["django"].from_string(template).render(context).strip()


# -- easy-thumbnails ----------------------------------------------------------


@pytest.fixture
def easy_thumbnails_storage(
    request: pytest.FixtureRequest, media: Any, monkeypatch: pytest.MonkeyPatch
) -> str:
    """Where easy-thumbnails writes: through the stack (its default), or the
    local layer (STORAGES["easy_thumbnails"], recommended)."""
    import easy_thumbnails.storage

    where = getattr(request, "param", "local")
    # easy-thumbnails looks its storage up once, at import.
    target = storages["local"] if where == "local" else storages["default"]
    monkeypatch.setattr(easy_thumbnails.storage, "thumbnail_default_storage", target)
    return where


@pytest.mark.apps("easy_thumbnails")
@pytest.mark.parametrize("easy_thumbnails_storage", ["local", "stack"], indirect=True)
def test_easy_thumbnail_of_a_production_only_source(
    media: Any, beach: Picture, easy_thumbnails_storage: str
) -> None:
    from easy_thumbnails.files import get_thumbnailer

    thumbnail_name = f"{SOURCE}.100x100_q85_crop.jpg"
    with media.production.operation(
        f"first thumbnail (thumbnails in {easy_thumbnails_storage})",
        "6 HEAD, 1 GET" if easy_thumbnails_storage == "local" else "12 HEAD, 1 GET",
    ):
        thumbnail = get_thumbnailer(beach.image).get_thumbnail({"size": (100, 100), "crop": True})
    assert thumbnail.name == thumbnail_name
    assert thumbnail.url == f"/media/{thumbnail_name}"
    assert (thumbnail.width, thumbnail.height) == (100, 100)
    assert thumbnail_name in media.local_files()

    with media.production.operation(
        f"known thumbnail (thumbnails in {easy_thumbnails_storage})",
        "2 HEAD" if easy_thumbnails_storage == "local" else "3 HEAD",
        production_first="2 HEAD" if easy_thumbnails_storage == "local" else "4 HEAD",
    ):
        again = get_thumbnailer(Picture.objects.get(pk=beach.pk).image).get_thumbnail(
            {"size": (100, 100), "crop": True}
        )
    assert again.url == thumbnail.url

    with media.production.operation(
        f"{{% thumbnail %}} tag (thumbnails in {easy_thumbnails_storage})",
        "2 HEAD" if easy_thumbnails_storage == "local" else "3 HEAD",
        production_first="2 HEAD" if easy_thumbnails_storage == "local" else "5 HEAD",
    ):
        html = render(
            "{% load easy_thumbnails_tags %}{% thumbnail picture.image 100x100 crop %}",
            picture=Picture.objects.get(pk=beach.pk),
        )
    assert html == f"/media/{thumbnail_name}"
    media.production.assert_untouched()


@pytest.mark.apps("easy_thumbnails")
@pytest.mark.usefixtures("easy_thumbnails_storage")
def test_easy_thumbnails_delete(media: Any, beach: Picture) -> None:
    from easy_thumbnails.files import get_thumbnailer

    thumbnailer = get_thumbnailer(beach.image)
    thumbnail = thumbnailer.get_thumbnail({"size": (50, 50)})
    assert thumbnail.name in media.local_files()
    with media.production.operation("delete_thumbnails()", "none"):
        assert thumbnailer.delete_thumbnails() == 1
    assert thumbnail.name not in media.local_files()
    with media.production.operation("delete the production-only source", "1 HEAD"):
        beach.image.delete(save=False)  # only production has it: left alone
    assert media.stack.exists(SOURCE)
    media.production.assert_untouched()


@pytest.mark.apps("easy_thumbnails")
@pytest.mark.usefixtures("easy_thumbnails_storage")
def test_easy_thumbnails_cleanup_takes_production_only_sources_for_missing(
    media: Any, beach: Picture
) -> None:
    """A known limit: ``thumbnail_cleanup`` finds a source's storage by a hash
    of its class (the stack's is its local layer's) and asks it about an
    absolute path under ``location``, which only the local layer can answer.
    It deletes the records and local thumbnails of production-only sources;
    production is untouched and the next render makes the thumbnail again."""
    from easy_thumbnails.files import get_thumbnailer
    from easy_thumbnails.models import Source

    thumbnail = get_thumbnailer(beach.image).get_thumbnail({"size": (50, 50)})
    local_source = Picture.objects.create(title="Local")
    local_source.image.save("local.jpg", _content(jpeg("green")))
    local_thumbnail = get_thumbnailer(local_source.image).get_thumbnail({"size": (50, 50)})

    with media.production.operation("thumbnail_cleanup", "none"):
        call_command("thumbnail_cleanup", verbosity=0)
    assert list(Source.objects.values_list("name", flat=True)) == [local_source.image.name]
    assert thumbnail.name not in media.local_files()
    assert local_thumbnail.name in media.local_files()
    with media.production.operation("thumbnail again after cleanup", "6 HEAD, 1 GET"):
        remade = get_thumbnailer(beach.image).get_thumbnail({"size": (50, 50)})
    assert remade.name in media.local_files()
    media.production.assert_untouched()


def _content(data: bytes) -> Any:
    from django.core.files.base import ContentFile

    return ContentFile(data)


# -- sorl-thumbnail -----------------------------------------------------------


@pytest.fixture
def elsewhere(media: Any, settings: Any, tmp_path: Path) -> Any:
    """The local layer somewhere other than MEDIA_ROOT / MEDIA_URL."""
    from tests_apps.conftest import _reset_app_caches

    media.root = tmp_path / "dev-media"
    settings.STORAGES = {
        **settings.STORAGES,
        "local": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(media.root), "base_url": "/dev-media/"},
        },
    }
    _reset_app_caches()
    return media


@pytest.fixture
def sorl_recommended(settings: Any) -> None:
    settings.THUMBNAIL_KVSTORE = "storage_mixins.contrib.sorl.KVStore"
    settings.THUMBNAIL_STORAGE = "local"


@pytest.mark.apps("sorl.thumbnail")
@pytest.mark.usefixtures("sorl_recommended")
def test_sorl_thumbnail_with_the_recommended_settings(elsewhere: Any, beach: Picture) -> None:
    from sorl.thumbnail import default, delete, get_thumbnail
    from sorl.thumbnail.images import ImageFile

    media = elsewhere
    with media.production.operation("sorl: first thumbnail", "2 HEAD, 1 GET"):
        thumbnail = get_thumbnail(beach.image, "100x100", crop="center")
    assert thumbnail.url.startswith("/dev-media/cache/")
    assert thumbnail.name in media.local_files()
    assert (thumbnail.width, thumbnail.height) == (100, 100)

    # Each later render finds it in sorl's store, and rebuilds its storage.
    with media.production.operation("sorl: known thumbnail", "none"):
        again = get_thumbnail(Picture.objects.get(pk=beach.pk).image, "100x100", crop="center")
    assert again.url == thumbnail.url
    with media.production.operation("sorl: {% thumbnail %} tag", "none"):
        html = render(
            '{% load sorl_thumbnail %}{% thumbnail picture.image "100x100" crop="center" as im %}'
            "{{ im.url }} {{ im.width }}x{{ im.height }}{% endthumbnail %}",
            picture=beach,
        )
    assert html == f"{thumbnail.url} 100x100"

    with media.production.operation("sorl: thumbnail cleanup", "1 HEAD"):
        call_command("thumbnail", "cleanup", verbosity=0)
    # The production-only source is still known, and so is its thumbnail.
    assert default.kvstore.get(ImageFile(beach.image)) is not None
    assert get_thumbnail(beach.image, "100x100", crop="center").url == thumbnail.url
    assert thumbnail.name in media.local_files()

    with media.production.operation("sorl: delete(source)", "1 HEAD"):
        delete(beach.image)  # the source is only in production: left alone
    assert thumbnail.name not in media.local_files()
    assert default.kvstore.get(ImageFile(beach.image)) is None
    assert media.stack.exists(SOURCE)
    media.production.assert_untouched()


@pytest.mark.apps("sorl.thumbnail")
@pytest.mark.parametrize("in_stack", [False, True], ids=["thumbnails-local", "thumbnails-in-stack"])
def test_sorl_kvstore_alone_keeps_urls_and_sources(
    elsewhere: Any, beach: Picture, settings: Any, in_stack: bool
) -> None:
    """The store is what fixes sorl; THUMBNAIL_STORAGE="local" only saves requests."""
    from sorl.thumbnail import get_thumbnail

    settings.THUMBNAIL_KVSTORE = "storage_mixins.contrib.sorl.KVStore"
    settings.THUMBNAIL_STORAGE = "default" if in_stack else "local"
    label = "thumbnails in the stack" if in_stack else "thumbnails local"
    with elsewhere.production.operation(
        f"sorl: first thumbnail ({label})", "4 HEAD, 1 GET" if in_stack else "2 HEAD, 1 GET"
    ):
        first = get_thumbnail(beach.image, "80x80")
    with elsewhere.production.operation(f"sorl: known thumbnail ({label})", "none"):
        second = get_thumbnail(beach.image, "80x80")
    assert first.url == second.url
    assert second.url.startswith("/dev-media/cache/")
    call_command("thumbnail", "cleanup", verbosity=0)
    assert get_thumbnail(beach.image, "80x80").url == first.url
    elsewhere.production.assert_untouched()


@pytest.mark.apps("sorl.thumbnail")
def test_sorl_default_settings_rebuild_a_bare_filesystem_storage(
    elsewhere: Any, beach: Picture
) -> None:
    """Why the store is needed: sorl records the stack as its ``__class__``,
    the local layer's, and rebuilds ``FileSystemStorage()`` at MEDIA_ROOT."""
    from sorl.thumbnail import default, get_thumbnail
    from sorl.thumbnail.images import ImageFile

    first = get_thumbnail(beach.image, "100x100")
    assert first.url.startswith("/dev-media/cache/")
    second = get_thumbnail(beach.image, "100x100")
    assert second.url == first.url.replace("/dev-media/", "/media/")  # broken
    call_command("thumbnail", "cleanup", verbosity=0)
    assert default.kvstore.get(ImageFile(beach.image)) is None  # the source was dropped
    elsewhere.production.assert_untouched()


@pytest.mark.apps("sorl.thumbnail")
@pytest.mark.usefixtures("sorl_recommended")
def test_sorl_kvstore_records_a_stack_built_in_code_as_sorl_does(
    elsewhere: Any, beach: Picture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The documented limit: only STORAGES aliases are recorded by alias."""
    from sorl.thumbnail import default
    from sorl.thumbnail.images import ImageFile

    from storage_mixins import Fallback, ReadOnly

    in_code = Fallback("local", ReadOnly("production"))
    monkeypatch.setattr(Picture._meta.get_field("image"), "storage", in_code)
    source = ImageFile(Picture.objects.get(pk=beach.pk).image)
    default.kvstore.set(source)
    stored = default.kvstore._get_raw(f"sorl-thumbnail||image||{source.key}")
    assert '"storage": "django.core.files.storage.filesystem.FileSystemStorage"' in stored
    elsewhere.production.assert_untouched()


@pytest.mark.apps("sorl.thumbnail")
def test_sorl_without_the_kvstore_is_a_system_check_warning(elsewhere: Any, settings: Any) -> None:
    from django.core import checks

    def warned() -> bool:
        found = checks.run_checks(tags=["storage_mixins"])
        return "storage_mixins.W006" in [message.id for message in found]

    assert warned()
    settings.THUMBNAIL_KVSTORE = "storage_mixins.contrib.sorl.KVStore"
    assert not warned()
