from django.conf import settings
from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("django-admin/", admin.site.urls),
    # Placeholders' files (test_placeholders.py), as a development site routes them.
    path("__placeholders__/", include("storage_mixins.placeholders.urls")),
]

if "wagtail" not in settings.MISSING_APPS:
    from wagtail.admin import urls as wagtailadmin_urls

    urlpatterns.append(path("admin/", include(wagtailadmin_urls)))
