"""Sphinx configuration. Build with ``make docs`` (warnings are errors)."""

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

# Autodoc imports the package, which needs Django configured.
import django  # noqa: E402
from django.conf import settings  # noqa: E402

if not settings.configured:
    settings.configure(USE_TZ=True, INSTALLED_APPS=["storage_mixins"])
    django.setup()

import storage_mixins  # noqa: E402

project = "storage_mixins"
author = "storage_mixins maintainers"
copyright = "2026, storage_mixins maintainers"
release = storage_mixins.__version__

extensions = ["sphinx.ext.autodoc", "myst_parser"]
exclude_patterns = ["_build"]
html_theme = "furo"
html_title = f"storage_mixins {release}"
autodoc_member_order = "bysource"
autodoc_typehints = "description"
# Django's classes in annotations (layers are Storages), and the standard
# library's, link nowhere: the build is offline, without intersphinx.
nitpick_ignore_regex = [("py:class", r"django\..+"), ("py:class", r"collections\.abc\..+")]
