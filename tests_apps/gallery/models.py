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
