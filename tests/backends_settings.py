"""Settings for the backends environment, which has no boto3: the test suite's
settings without the test app, whose storages subclass S3Storage."""

from tests.settings import *  # noqa: F403

INSTALLED_APPS = [app for app in INSTALLED_APPS if app != "tests.testapp"]  # noqa: F405
