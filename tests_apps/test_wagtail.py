"""Wagtail 8 over the stack: renditions of production-only originals, the
{% image %} tag, uploads through Wagtail's form, and deletes, including the
background task that rebuilds the storage from its deconstruct()."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.template import engines
from django.urls import reverse

from tests_apps.conftest import CDN, jpeg

pytestmark = [pytest.mark.apps("wagtail"), pytest.mark.django_db]

ORIGINAL = "original_images/sunset.jpg"


@pytest.fixture
def collection(db: Any) -> Any:
    from wagtail.models import Collection

    return Collection.get_first_root_node() or Collection.add_root(name="Root")


@pytest.fixture
def sunset(media: Any, collection: Any) -> Any:
    """A Wagtail image whose original is only in production (a production dump)."""
    from wagtail.images.models import Image

    media.production.put(ORIGINAL, jpeg("orange"))
    return Image.objects.create(
        title="Sunset", file=ORIGINAL, width=640, height=480, collection=collection
    )


@pytest.fixture
def editor(client: Any, django_user_model: Any) -> Any:
    user = django_user_model.objects.create_superuser("editor", "editor@example.com", "pw")
    client.force_login(user)
    return client


def test_rendition_of_a_production_only_original(media: Any, sunset: Any) -> None:
    with media.production.operation("new rendition (fill-100x100)", "4 HEAD, 1 GET"):
        rendition = sunset.get_rendition("fill-100x100")
    assert (rendition.width, rendition.height) == (100, 100)
    assert rendition.file.name.startswith("images/sunset.")
    assert rendition.url == f"/media/{rendition.file.name}"
    assert rendition.file.name in media.local_files()  # the derived file is local
    assert sunset.file.url == f"{CDN}/{ORIGINAL}"  # the original is served by production

    with media.production.operation("known rendition", "none"):
        again = type(sunset).objects.get(pk=sunset.pk).get_rendition("fill-100x100")
    assert again.file.name == rendition.file.name

    with media.production.operation(
        "{% image %} of a known rendition", "none", production_first="1 HEAD"
    ):
        html = (
            engines["django"]
            .from_string("{% load wagtailimages_tags %}{% image image fill-100x100 %}")
            .render({"image": type(sunset).objects.get(pk=sunset.pk)})
        )
    assert html == f'<img alt="Sunset" height="100" src="/media/{rendition.file.name}" width="100">'

    with media.production.operation(
        "{% image %} of a new rendition (width-50)",
        "4 HEAD, 1 GET",
        production_first="5 HEAD, 1 GET",
    ):
        html = (
            engines["django"]
            .from_string("{% load wagtailimages_tags %}{% image image width-50 %}")
            .render({"image": sunset})
        )
    assert 'src="/media/images/sunset.' in html and 'width="50"' in html
    media.production.assert_untouched()


def test_upload_through_wagtails_form(media: Any, editor: Any, collection: Any) -> None:
    from wagtail.images.models import Image

    media.production.put("original_images/upload.jpg", jpeg("blue"))  # a taken name
    upload = SimpleUploadedFile("upload.jpg", jpeg("green"), content_type="image/jpeg")
    with media.production.operation("upload through wagtailimages:add", "2 HEAD"):
        response = editor.post(
            reverse("wagtailimages:add"),
            {"title": "Upload", "file": upload, "collection": collection.pk, "tags": ""},
        )
    assert response.status_code == 302, response.content.decode()[:2000]
    image = Image.objects.get(title="Upload")
    # Production's file keeps its name; the upload gets a free one, locally.
    assert image.file.name.startswith("original_images/upload_")
    assert image.file.name in media.local_files()
    assert (image.width, image.height) == (640, 480)
    with media.production.operation(
        "admin listing shows the upload", "1 HEAD", production_first="4 HEAD"
    ):
        listing = editor.get(reverse("wagtailimages:index"))
    assert listing.status_code == 200
    assert "Upload" in listing.content.decode()
    media.production.assert_untouched()


def test_delete_an_image_only_production_has(
    media: Any, sunset: Any, editor: Any, django_capture_on_commit_callbacks: Any
) -> None:
    from django_tasks.signals import task_finished

    rendition = sunset.get_rendition("fill-100x100")
    assert rendition.file.name in media.local_files()
    finished: list[Any] = []

    def record(sender: Any, task_result: Any, **kwargs: Any) -> None:
        finished.append(task_result)

    task_finished.connect(record)

    with (
        media.production.operation("delete through wagtailimages:delete (task)", "1 HEAD"),
        django_capture_on_commit_callbacks(execute=True),
    ):
        response = editor.post(reverse("wagtailimages:delete", args=[sunset.pk]))
    assert response.status_code == 302
    assert not type(sunset).objects.filter(pk=sunset.pk).exists()
    # The tasks (immediate backend) deleted the local rendition and left production alone.
    task_finished.disconnect(record)
    assert [result.status for result in finished] == ["SUCCESSFUL", "SUCCESSFUL"]
    assert rendition.file.name not in media.local_files()
    media.production.assert_untouched()


def test_background_task_rebuilds_a_stack_built_in_code(
    media: Any,
    sunset: Any,
    settings: Any,
    monkeypatch: pytest.MonkeyPatch,
    django_capture_on_commit_callbacks: Any,
) -> None:
    """FileField(storage=Fallback(FileSystemStorage(...), ReadOnly(S3Storage(...)))):
    the task's arguments are JSON, on a queue, and a worker rebuilds the stack."""
    from django.core.files.storage import FileSystemStorage
    from django_tasks import default_task_backend
    from storages.backends.s3 import S3Storage
    from wagtail.tasks import delete_file_from_storage_task

    from storage_mixins import Fallback, ReadOnly

    local = FileSystemStorage(location=str(media.root), base_url="/media/")
    production = ReadOnly(S3Storage(**settings.STORAGES["production"]["OPTIONS"]))
    stack = (
        Fallback(local, production) if media.order == "local-first" else Fallback(production, local)
    )
    for model in (type(sunset), type(sunset).get_rendition_model()):
        monkeypatch.setattr(model._meta.get_field("file"), "storage", stack)
    sunset = type(sunset).objects.get(pk=sunset.pk)
    rendition = sunset.get_rendition("fill-100x100")
    settings.TASKS = {"default": {"BACKEND": "django_tasks.backends.dummy.DummyBackend"}}

    with django_capture_on_commit_callbacks(execute=True):
        sunset.delete()  # no TypeError: Unsupported type: FileSystemStorage
    queued = [json.loads(json.dumps([r.args, r.kwargs])) for r in default_task_backend.results]
    assert [args[1] for args, _ in queued] == [rendition.file.name, ORIGINAL]
    assert rendition.file.name in media.local_files()  # not run yet

    with media.production.operation("worker: delete_file_from_storage_task x2", "1 HEAD"):
        for args, kwargs in queued:  # what a worker process does
            delete_file_from_storage_task.call(*args, **kwargs)
    assert rendition.file.name not in media.local_files()
    media.production.assert_untouched()


def test_renditions_from_a_production_dump_are_served_by_production(
    media: Any, sunset: Any
) -> None:
    """A dump has Wagtail's rendition rows too; their files are production's."""
    name = "images/sunset.2e16d0ba.fill-100x100.jpg"
    media.production.put(name, jpeg("orange", (100, 100)))
    sunset.renditions.create(
        filter_spec="fill-100x100", focal_point_key="2e16d0ba", file=name, width=100, height=100
    )
    with media.production.operation("{% image %} of a rendition from the dump", "none"):
        html = (
            engines["django"]
            .from_string("{% load wagtailimages_tags %}{% image image fill-100x100 %}")
            .render({"image": type(sunset).objects.get(pk=sunset.pk)})
        )
    assert html == f'<img alt="Sunset" height="100" src="{CDN}/{name}" width="100">'
    assert media.local_files() == set()  # nothing re-made
    media.production.assert_untouched()


@pytest.mark.parametrize("on_delete", ["raise", "hide"])
def test_delete_task_under_the_other_on_delete_policies(
    media: Any, sunset: Any, settings: Any, on_delete: str, django_capture_on_commit_callbacks: Any
) -> None:
    from django_tasks.signals import task_finished

    default = settings.STORAGES["default"]
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {**default, "OPTIONS": {**default["OPTIONS"], "on_delete": on_delete}},
    }
    finished: list[Any] = []

    def record(sender: Any, task_result: Any, **kwargs: Any) -> None:
        finished.append(task_result)

    task_finished.connect(record)
    try:
        with (
            media.production.operation(f"delete an image (task, on_delete={on_delete})", "1 HEAD"),
            django_capture_on_commit_callbacks(execute=True),
        ):
            type(sunset).objects.get(pk=sunset.pk).delete()
    finally:
        task_finished.disconnect(record)
    (result,) = finished
    assert not type(sunset).objects.filter(pk=sunset.pk).exists()  # the row goes either way
    if on_delete == "raise":
        assert result.status == "FAILED"
        assert result.errors[0].exception_class_path == "storage_mixins.ReadOnlyError"
        assert media.stack.exists(ORIGINAL)
    else:
        assert result.status == "SUCCESSFUL"
        assert not media.stack.exists(ORIGINAL)  # hidden by a tombstone
    media.production.assert_untouched()
