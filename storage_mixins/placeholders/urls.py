"""The URL of placeholders, for development::

    urlpatterns += [path("__placeholders__/", include("storage_mixins.placeholders.urls"))]

``Placeholders.url()`` reverses it (unless given a ``base_url``). To serve the
placeholder layer of an alias other than ``"default"``, pass it:
``include(...)`` with ``{"storage": "alias"}``.
"""

from django.urls import path

from .storage import URL_NAME
from .views import serve

urlpatterns = [path("<path:name>", serve, name=URL_NAME)]
