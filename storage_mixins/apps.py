"""The Django app: the ``storage_*`` management commands and the system checks."""

from django.apps import AppConfig


class StorageMixinsConfig(AppConfig):
    """Adds the ``storage_*`` management commands and the storage system checks."""

    name = "storage_mixins"
    verbose_name = "Storage mixins"

    def ready(self) -> None:
        from . import checks

        checks.register()
