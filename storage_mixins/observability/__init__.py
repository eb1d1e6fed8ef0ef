"""Seeing what a stack does: recording calls and backend requests
(``recording``, the API), how they are gathered (``calls``, ``context``,
``instrumentation``, ``s3_requests``), and ``describe()``.

The wrappers never import this package: it hooks into them
(``storage_mixins.core.hooks``, and their classes while it records).
"""
