from django.urls import include, path

from . import views

urlpatterns = [
    path("page/", views.page),
    path("async-page/", views.async_page),
    path("read/", views.read_files),
    path("stream/", views.stream),
    path("async-stream/", views.async_stream),
]

# Placeholders' files, over HTTP (tests/test_placeholders.py).
urlpatterns.append(path("__placeholders__/", include("storage_mixins.placeholders.urls")))
