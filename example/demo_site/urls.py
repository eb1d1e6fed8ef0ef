from debug_toolbar.toolbar import debug_toolbar_urls
from django.conf import settings
from django.conf.urls.static import static
from django.urls import include, path

from . import views

urlpatterns = [
    path("", views.gallery, name="gallery"),
    path("upload/", views.upload, name="upload"),
    path("delete/", views.delete, name="delete"),
    *static(settings.MEDIA_URL, document_root=settings.MEDIA_ROOT),
    # What Placeholders.url() gives: the images of rows whose files are nowhere.
    path("__placeholders__/", include("storage_mixins.placeholders.urls")),
    *debug_toolbar_urls(),
]
