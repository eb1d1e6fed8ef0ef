from django.db import models

from storage_mixins import Fallback, FallbackStorage, ReadOnly

from .storages import ArchiveMemory, ReadOnlyMemory


def production_media():
    return ReadOnly("production")


class Document(models.Model):
    """A model whose files live in the default storage (a stack in some tests)."""

    file = models.FileField(upload_to="documents", max_length=100)


class Photo(models.Model):
    """Storages given explicitly, as users do with ``FileField(storage=...)``."""

    original = models.FileField(storage=FallbackStorage(["local", "production"]))
    archived = models.FileField(storage=production_media)
    layered = models.FileField(storage=Fallback("local", ReadOnly("production")))


class Scan(models.Model):
    """Decorated storage classes (tests/testapp/storages.py) on fields."""

    image = models.FileField(storage=ReadOnlyMemory)
    archived = models.FileField(storage=ArchiveMemory(base_url="https://archive.example/"))
