"""Sphinx configuration (the documentation itself is still to be written)."""

project = "storage_mixins"
author = "storage_mixins maintainers"
extensions = ["sphinx.ext.autodoc"]
exclude_patterns = ["_build"]
