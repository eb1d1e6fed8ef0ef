from django.urls import path

from . import views

urlpatterns = [
    path("page/", views.page),
    path("async-page/", views.async_page),
    path("read/", views.read_files),
    path("stream/", views.stream),
    path("async-stream/", views.async_stream),
]
