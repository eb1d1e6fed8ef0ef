"""``Placeholders``: a read-only storage whose files exist nowhere, made up per
name: an image at the size the database records, a minimal PDF, an empty text
file.

It goes last in a :class:`~storage_mixins.Fallback`, so that it answers only
for names that no real layer has. It declares what it is
(``refuses_writes``, ``invents_files``: ``storage_mixins.core.stack``), so
that a stack never writes to it, never takes its answers into account when it
names a new file, and ``Caching``, ``storage_pull`` and ``storage_audit``
never take its answers for files.
"""

from __future__ import annotations

import datetime
import errno
import logging
import threading
from collections.abc import Sequence
from typing import Any, ClassVar, NoReturn
from urllib.parse import urljoin

from cachetools import LRUCache
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.files.base import ContentFile
from django.core.files.storage import Storage
from django.urls import NoReverseMatch, reverse
from django.utils.deconstruct import deconstructible
from django.utils.encoding import filepath_to_uri

from ..core import hooks
from ..core.errors import ReadOnlyError
from ..core.modes import checked_mode, is_write_mode
from ..core.names import UnusualName, file_name
from .images import capped, check_pillow, draw_image
from .kinds import Kind, kind_of, minimal_pdf
from .sizes import Found, Referrers, size_in_name, valid_size

__all__ = ["URL_NAME", "Placeholders"]

logger = logging.getLogger("storage_mixins.placeholders")

#: The name of the URL pattern that serves placeholders (``storage_mixins.placeholders.urls``).
URL_NAME = "storage_mixins_placeholder"
#: Every placeholder's time: long ago, so that a real file that comes later is newer.
TIMESTAMP = datetime.datetime(2000, 1, 1, tzinfo=datetime.UTC).timestamp()
_SERVES = ("referenced", "any")


@deconstructible(path="storage_mixins.Placeholders")
class Placeholders(Storage):
    """A read-only storage that answers as if every file it is asked about
    existed, with a generated one; meant to go last in a ``Fallback``.

    ``serves="referenced"`` (the default) makes up only the files a row of
    the database refers to (a ``FileField``, easy-thumbnails' and
    sorl-thumbnail's records); ``serves="any"``, any name of a known type.
    Images (``.jpg``, ``.png``, ``.gif``, ``.webp``) are drawn at the size the
    database records, else the size a thumbnailer wrote into the name, else
    ``size``, capped to ``max_pixels``; ``.pdf`` names get a one-page PDF
    (``pdf=False``: missing), ``text/*`` types an empty file (``text=False``:
    missing), any other name is missing.

    ``exists``, ``size``, ``open``, the times and ``url`` agree. ``url()`` is
    ``base_url`` + the name, or the URL of the view in
    ``storage_mixins.placeholders.urls``. Files are drawn once and kept in
    memory (at most ``max_memory`` bytes), the database's answers for
    ``timeout`` seconds (:meth:`forget` forgets both). Every write raises
    :class:`~storage_mixins.ReadOnlyError` before anything happens. Needs
    Pillow (``storage-mixins[placeholders]``). In full: docs/placeholders.rst.
    """

    refuses_writes: ClassVar[bool] = True
    invents_files: ClassVar[bool] = True

    def __init__(
        self,
        *,
        serves: str = "referenced",
        size: Sequence[int] = (800, 600),
        max_pixels: int = 16_000_000,
        pdf: bool = True,
        text: bool = True,
        base_url: str | None = None,
        max_memory: int = 32 * 2**20,
        timeout: float = 60,
    ) -> None:
        check_pillow()
        if serves not in _SERVES:
            raise ImproperlyConfigured(f'serves must be "referenced" or "any", not {serves!r}')
        default = valid_size(*size) if isinstance(size, Sequence) and len(size) == 2 else None
        if default is None:
            raise ImproperlyConfigured(f"size must be (width, height) over 0, not {size!r}")
        for option, value in (("max_pixels", max_pixels), ("max_memory", max_memory)):
            if type(value) is not int or value < 1:
                raise ImproperlyConfigured(f"{option} must be a whole number over 0, not {value!r}")
        self.serves = serves
        self.default_size = default
        self.max_pixels = max_pixels
        self.pdf = bool(pdf)
        self.text = bool(text)
        self.base_url = base_url
        self._referrers = Referrers(timeout=timeout)
        self._files: LRUCache[str, bytes] = LRUCache(maxsize=max_memory, getsizeof=len)
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return "Placeholders()" if self.serves == "referenced" else "Placeholders(serves='any')"

    def __reduce__(self) -> tuple[Any, ...]:
        # Copies and pickles are built again from the options: what is drawn
        # and known (and the lock) is this instance's own.
        _path, args, kwargs = self.deconstruct()  # type: ignore[attr-defined]  # @deconstructible's
        return (_rebuilt, (args, kwargs))

    def forget(self) -> None:
        """Forget the files drawn and what the database said: after loading
        another dump, say."""
        self._referrers.forget()
        with self._lock:
            self._files.clear()

    # -- reads ---------------------------------------------------------------

    def exists(self, name: str) -> bool:
        try:
            self._served(name)
        except FileNotFoundError:
            return False
        return True

    def open(self, name: str, mode: str = "rb") -> ContentFile[Any]:
        return self._open(name, mode)

    def _open(self, name: str, mode: str = "rb") -> ContentFile[Any]:
        mode = checked_mode(mode)
        if is_write_mode(mode):
            self._refuse("open", name, f"mode {mode!r} would write, and")
        name, content = self._content(name)
        if "b" not in mode:
            return ContentFile(content.decode("latin-1"), name=name)
        return ContentFile(content, name=name)

    def size(self, name: str) -> int:
        return len(self._content(name)[1])

    def get_accessed_time(self, name: str) -> datetime.datetime:
        return self._time(name)

    def get_created_time(self, name: str) -> datetime.datetime:
        return self._time(name)

    def get_modified_time(self, name: str) -> datetime.datetime:
        return self._time(name)

    def url(self, name: str | None) -> str:
        name = file_name(name or "")
        hooks.note_stand_in(repr(self))  # a URL no cache may keep: a real file may come
        if self.base_url is not None:
            return urljoin(self.base_url, filepath_to_uri(name))
        try:
            return reverse(URL_NAME, kwargs={"name": name})
        except NoReverseMatch:  # not routed (check W007 says so): where media are
            return urljoin(settings.MEDIA_URL or "/", filepath_to_uri(name))

    def listdir(self, path: str) -> NoReturn:
        raise FileNotFoundError(
            errno.ENOENT, "Placeholders has no directories: it makes up files one name at a time",
            path,
        )  # fmt: skip

    def path(self, name: str) -> NoReturn:
        raise NotImplementedError(f"{self!r} gives no local paths: its files exist nowhere")

    # -- writes: refused before anything happens --------------------------------

    def save(self, name: str | None, content: Any, max_length: int | None = None) -> NoReturn:
        self._refuse("save", name)

    def _save(self, name: str, content: Any) -> NoReturn:
        self._refuse("_save", name)

    def delete(self, name: str) -> NoReturn:
        self._refuse("delete", name)

    def get_available_name(self, name: str, max_length: int | None = None) -> NoReturn:
        # Names a new file, which it never takes (and every name "exists" here).
        self._refuse("get_available_name", name)

    def _refuse(self, operation: str, name: object, why: str = "") -> NoReturn:
        reason = f"{why} {self!r} is read-only: its files are placeholders".lstrip()
        raise ReadOnlyError(operation, name, self, reason)

    # -- what a name stands for ------------------------------------------------

    def _served(self, name: str) -> tuple[str, Kind]:
        """The name's one spelling and its kind, if this storage makes the file
        up; ``FileNotFoundError`` otherwise."""
        try:
            name = file_name(name)
        except UnusualName as unusual:
            raise FileNotFoundError(errno.ENOENT, "Not a file name", unusual.name) from None
        kind = kind_of(name, pdf=self.pdf, text=self.text)
        if kind is None:
            raise FileNotFoundError(errno.ENOENT, "No placeholder for this type of file", name)
        if self.serves == "referenced" and self._referrers.find(name) is None:
            raise FileNotFoundError(
                errno.ENOENT, "No placeholder: no row of the database refers to it", name
            )
        hooks.note_stand_in(repr(self))
        return name, kind

    def _content(self, name: str) -> tuple[str, bytes]:
        """The name's one spelling and the placeholder's bytes: drawn once, kept."""
        name, kind = self._served(name)
        with self._lock:
            content = self._files.get(name)
        if content is None:
            content = self._made(name, kind)
            if len(content) <= self._files.maxsize:
                with self._lock:
                    self._files[name] = content
        return name, content

    def _made(self, name: str, kind: Kind) -> bytes:
        if kind.format is None:
            logger.debug("placeholder for %r: %s", name, kind.name)
            return minimal_pdf(name) if kind.name == "pdf" else b""
        size, source = self._image_size(name, self._referrers.find(name))
        drawn = capped(*size, self.max_pixels)
        content = draw_image(name, size, drawn, kind.format)
        logger.debug(
            "placeholder for %r: %d × %d %s (size from %s), %d bytes",
            name, *drawn, kind.format, source, len(content),
        )  # fmt: skip
        return content

    def _image_size(self, name: str, found: Found | None) -> tuple[tuple[int, int], str]:
        """The image's real size, and where it comes from."""
        if found is not None and found.size is not None:
            return found.size, found.source
        from_name = size_in_name(name, self.default_size)
        if from_name is not None:
            return from_name, "the name"
        return self.default_size, "the default"

    def _time(self, name: str) -> datetime.datetime:
        self._served(name)
        return datetime.datetime.fromtimestamp(
            TIMESTAMP, tz=datetime.UTC if settings.USE_TZ else None
        )


def _rebuilt(args: tuple[Any, ...], kwargs: dict[str, Any]) -> Placeholders:
    return Placeholders(*args, **kwargs)
