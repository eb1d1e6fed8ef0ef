"""Models whose files live in the default storage: the stack under test."""

from django.conf import settings
from django.db import models

if "django_cleanup" in settings.MISSING_APPS:

    def select(model: type) -> type:
        return model
else:
    from django_cleanup.cleanup import select


class Picture(models.Model):
    """An image, for the thumbnailers."""

    title = models.CharField(max_length=100, blank=True)
    image = models.ImageField(upload_to="pictures")

    def __str__(self) -> str:
        return self.title or self.image.name


@select
class Attachment(models.Model):
    """A file django-cleanup deletes when it is replaced or its row deleted."""

    file = models.FileField(upload_to="attachments")


def _archive_storage() -> object:
    """A stack built in code, as the README's "in code" form writes it."""
    from django.core.files.storage import FileSystemStorage
    from storages.backends.s3 import S3Storage

    from storage_mixins import Fallback, ReadOnly

    return Fallback(
        FileSystemStorage(location="/srv/dev-media/archive", base_url="/archive/"),
        ReadOnly(S3Storage(bucket_name="production-archive", querystring_auth=False)),
    )


class Record(models.Model):
    """A FileField whose storage is a stack built in code (for makemigrations)."""

    file = models.FileField(storage=_archive_storage(), upload_to="records")

    def __str__(self) -> str:
        return self.file.name


class Poster(models.Model):
    """An image whose row records its size (``width_field``/``height_field``), as
    in a production dump: what ``Placeholders`` draws a missing one at."""

    title = models.CharField(max_length=100, blank=True)
    image = models.ImageField(upload_to="posters", width_field="width", height_field="height")
    width = models.IntegerField(null=True, blank=True)
    height = models.IntegerField(null=True, blank=True)

    def __str__(self) -> str:
        return self.title or self.image.name
