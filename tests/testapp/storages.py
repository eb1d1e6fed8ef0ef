"""Storage classes decorated where they are defined, as a project's storages module does."""

from django.core.files.storage import FileSystemStorage, InMemoryStorage
from storages.backends.s3 import S3Storage

from storage_mixins import cached, logged, read_only


@read_only
class ProductionMedia(S3Storage):
    """Production's media, never written."""

    location = "media"


class ProductionThumbnails(ProductionMedia):
    """A subclass of a decorated class is decorated the same way."""

    location = "thumbnails"


@logged(logger="tests.decorated")
class LoggedThumbnails(ProductionThumbnails):
    pass


@cached(timeout=60)
@read_only
class ArchiveMemory(InMemoryStorage):
    """Caching(ReadOnly(instance)): the decorator nearest the class is innermost."""


@read_only
@cached(timeout=60)
class CachedMemory(InMemoryStorage):
    """ReadOnly(Caching(instance))."""


@read_only
class ReadOnlyMemory(InMemoryStorage):
    pass


@cached
class CachedDisk(FileSystemStorage):
    """A bare decorator: Caching with its defaults."""
