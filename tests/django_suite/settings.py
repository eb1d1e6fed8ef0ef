"""Settings for Django's ``runtests.py``: its own SQLite settings, this
directory's recording runner, and the wrapper shim named by
``$DJANGO_SUITE_WRAPPER`` (none: the unwrapped baseline)."""

import os

from test_sqlite import *  # noqa: F403 - Django's test settings, from its tests directory

from tests.django_suite import shim

TEST_RUNNER = "tests.django_suite.runner.RecordingRunner"

if os.environ.get("DJANGO_SUITE_WRAPPER"):
    shim.install(os.environ["DJANGO_SUITE_WRAPPER"])
