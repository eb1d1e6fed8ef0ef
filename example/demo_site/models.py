"""The demo's one model: a photo whose row records its image's size, as in a
production database dump (``run.py`` adds the rows whose files are nowhere)."""

from django.db import models


class Photo(models.Model):
    image = models.ImageField(width_field="width", height_field="height")
    width = models.IntegerField()
    height = models.IntegerField()

    def __str__(self) -> str:
        return self.image.name
