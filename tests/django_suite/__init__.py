"""Django's own tests of storages, uploads, file fields, staticfiles and forms,
run under each wrapper and compared with the unwrapped baseline.

``python -m tests.django_suite`` (the ``django-suite`` tox environment):

1. fetches the sdist of the installed Django from PyPI with pip, once, and
   keeps its ``tests/`` directory in ``~/.cache/storage-mixins/``
   (``$XDG_CACHE_HOME`` is honoured);
2. runs the test packages in :data:`~tests.django_suite.__main__.LABELS` with
   Django's ``runtests.py``: once unwrapped (the baseline), then once for each
   wrapper in :data:`~tests.django_suite.shim.WRAPPERS`, with every
   ``FileSystemStorage`` the tests build replaced by a wrapped one
   (:mod:`tests.django_suite.shim` says how);
3. fails unless every test that passes in the baseline and not under a wrapper
   is in ``allowlist.toml`` for that wrapper, with a reason that
   ``docs/differences.rst`` states; an allowlisted test that passes again is a
   stale entry, and fails the run too.

``--print-new`` prints the newly failing tests of each wrapper in the
allowlist's format, to regenerate it; ``--wrappers`` runs some of them only.
"""
