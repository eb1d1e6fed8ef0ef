"""The wrappers: ``ReadOnly``, ``Logging``, ``Caching`` and ``Fallback``.

Each is a :class:`~storage_mixins.core.wrapper.StorageWrapper`; none imports
another. What they share is below them, in ``core`` and ``services``.
"""
