from django.conf import settings
from django.contrib import admin
from django.urls import include, path

urlpatterns = [path("django-admin/", admin.site.urls)]

if "wagtail" not in settings.MISSING_APPS:
    from wagtail.admin import urls as wagtailadmin_urls

    urlpatterns.append(path("admin/", include(wagtailadmin_urls)))
