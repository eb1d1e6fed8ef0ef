"""The Django admin's upload form over the stack."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from tests_apps.conftest import CDN, jpeg
from tests_apps.gallery.models import Picture

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin(client: Any, django_user_model: Any) -> Any:
    user = django_user_model.objects.create_superuser("admin", "admin@example.com", "pw")
    client.force_login(user)
    return client


def test_admin_upload_form(media: Any, admin: Any) -> None:
    media.production.put("pictures/harbour.jpg", jpeg("navy"))  # a name production has
    old = Picture.objects.create(title="Old", image="pictures/harbour.jpg")

    with media.production.operation("admin: change form of a production-only file", "none"):
        page = admin.get(reverse("admin:gallery_picture_change", args=[old.pk]))
    assert page.status_code == 200
    assert f'href="{CDN}/pictures/harbour.jpg"' in page.content.decode()

    upload = SimpleUploadedFile("harbour.jpg", jpeg("teal"), content_type="image/jpeg")
    with media.production.operation("admin: upload through the add form", "2 HEAD"):
        response = admin.post(
            reverse("admin:gallery_picture_add"), {"title": "New", "image": upload}
        )
    assert response.status_code == 302, response.content.decode()[:2000]
    new = Picture.objects.get(title="New")
    assert new.image.name.startswith("pictures/harbour_")  # free in every layer
    assert new.image.name in media.local_files()
    with media.local.open(new.image.name) as saved:
        assert saved.read() == jpeg("teal")

    with media.production.operation(
        "admin: change form of the upload", "none", production_first="3 HEAD"
    ):
        page = admin.get(reverse("admin:gallery_picture_change", args=[new.pk]))
    assert f'href="/media/{new.image.name}"' in page.content.decode()
    media.production.assert_untouched()
