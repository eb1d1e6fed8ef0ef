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


class ScanField(models.FileField):
    """A ``FileField`` subclass, as third-party apps define them."""


class Gallery(models.Model):
    """Rows that refer to files by name, as in a production database dump
    (``storage_audit``, ``storage_pull --referenced``). ``attachment`` uses the
    default storage; tests give ``cover`` a stack of its own."""

    title = models.CharField(max_length=100, blank=True)
    cover = models.ImageField(upload_to="covers", blank=True, max_length=255)
    attachment = models.FileField(upload_to="attachments", blank=True, null=True, max_length=255)


class Scan(models.Model):
    scan = ScanField(upload_to="scans", blank=True, max_length=255)


class ScanProxy(Scan):
    """A proxy: its rows are ``Scan``'s, walked once."""

    class Meta:
        proxy = True


class DecoratedFiles(models.Model):
    """Decorated storage classes (tests/testapp/storages.py) on fields."""

    image = models.FileField(storage=ReadOnlyMemory)
    archived = models.FileField(storage=ArchiveMemory(base_url="https://archive.example/"))


class Poster(models.Model):
    """An image whose row records its size (``width_field``/``height_field``),
    as Wagtail's images do: what ``Placeholders`` draws a missing one at."""

    image = models.ImageField(
        upload_to="posters", width_field="width", height_field="height", max_length=255
    )
    width = models.IntegerField(null=True, blank=True)
    height = models.IntegerField(null=True, blank=True)
