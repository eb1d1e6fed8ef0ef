"""tests/testapp/urls.py with django-debug-toolbar's (for tests/test_panel.py)."""

from debug_toolbar.toolbar import debug_toolbar_urls

from .urls import urlpatterns as site

urlpatterns = [*site, *debug_toolbar_urls()]
