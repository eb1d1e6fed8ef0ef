"""``ReadOnly``: a storage that refuses every write before any I/O happens."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar, NoReturn

from django.core.files.base import File
from django.core.files.storage import Storage

from ..backends.url_arguments import plain_arguments, url_write_reason
from ..core.errors import ReadOnlyError
from ..core.files import ReadOnlyFile
from ..core.modes import checked_mode, is_write_mode
from ..core.stack import innermost
from ..core.wrapper import StorageWrapper

__all__ = ["ReadOnly"]


class ReadOnly(StorageWrapper):
    """Wrap ``storage`` so that reads work as before and every write raises
    :class:`~storage_mixins.ReadOnlyError`.

    Refused, before the wrapped storage is touched: ``save``, ``_save``,
    ``delete``, ``open``/``_open`` in a mode containing ``w``, ``a``, ``x`` or
    ``+``, ``url()`` with arguments that could sign a write (S3's
    ``http_method="PUT"``, Azure's ``mode="w"``…: see
    ``storage_mixins.backends.url_arguments`` for the rule) and, where the backend has
    them, the staticfiles writers ``post_process`` and ``save_manifest``. Files
    opened for reading come back wrapped in :class:`ReadOnlyFile`, so they
    cannot be reopened for writing.

    ``path()`` raises ``NotImplementedError``, as for a storage without local
    files: an OS path would let callers write around the wrapper (Django's
    ``collectstatic --link`` does). Read the file with ``open()`` instead.

    ``get_available_name`` runs the backend's own rules with the ``ReadOnly``
    as ``self``, so a rule that writes (the ``OverwriteStorage`` recipe
    deletes the existing file) is refused too.

    Everything else (``exists``, ``url`` for reading, ``listdir``, ``size``,
    ``get_*_time``…) is the wrapped storage's own.

    ``ReadOnly`` guards the storage API. Objects reached through a backend's
    attributes (``S3Storage.bucket``, the ``.file`` of an in-memory file) are
    not guarded.
    """

    deconstruct_path = "storage_mixins.ReadOnly"
    passes_reads_through: ClassVar[bool] = True
    opens_as_wrapped: ClassVar[bool] = True

    @property
    def refuses_writes(self) -> bool:
        return True

    def wrap_opened(self, file: File[Any], name: str) -> ReadOnlyFile:
        return ReadOnlyFile(file, self, name)

    def describe_node(self) -> tuple[str, list[tuple[str, Storage, str]]]:
        return "ReadOnly  (refuses writes)", [("", self.__wrapped__, "")]

    def open(self, name: str, mode: str = "rb") -> ReadOnlyFile:
        if mode.__class__ is not str:
            mode = checked_mode(mode)  # what is checked is what is passed on
        if is_write_mode(mode):
            self._refuse("open", name, mode)
        return self.wrap_opened(self.__wrapped__.open(name, mode), name)

    def _open(self, name: str, mode: str = "rb") -> ReadOnlyFile:
        if mode.__class__ is not str:
            mode = checked_mode(mode)
        if is_write_mode(mode):
            self._refuse("_open", name, mode)
        opened = self.__wrapped__._open(name, mode)  # type: ignore[attr-defined]  # django-stubs' Storage lacks the backends' _open
        return self.wrap_opened(opened, name)

    def url(self, name: str | None, *args: Any, **kwargs: Any) -> str:
        if args or kwargs:  # Django's own url(name) signs nothing but a read
            args, kwargs = plain_arguments(args, kwargs)  # checked as passed on
            reason = url_write_reason(self.__wrapped__, args, kwargs)
            if reason is not None:
                raise ReadOnlyError("url", name, self, f"{reason}, and {self!r} is read-only")
        return self.__wrapped__.url(name, *args, **kwargs)

    def get_available_name(self, name: str, max_length: int | None = None) -> str:
        # The backend's own rules, with this wrapper as ``self``: what they ask
        # (exists) is answered, what they would write (the OverwriteStorage
        # recipe deletes the name it is given) is refused.
        naming = type(innermost(self.__wrapped__)).get_available_name
        return naming(self, name, max_length=max_length)

    def path(self, name: str) -> NoReturn:
        raise NotImplementedError(
            f"{self!r} gives no local paths: a path would let callers write around "
            "ReadOnly. Read the file with open()."
        )

    def save(self, name: str | None, content: object, max_length: int | None = None) -> NoReturn:
        self._refuse("save", name)

    def _save(self, name: str, content: object) -> NoReturn:
        self._refuse("_save", name)

    def delete(self, name: str) -> NoReturn:
        self._refuse("delete", name)

    # Staticfiles storages write from these methods, with the wrapped storage
    # as ``self``; present only when the wrapped storage has them.
    @property
    def post_process(self) -> Callable[..., NoReturn]:
        return self._refusing_method("post_process")

    @property
    def save_manifest(self) -> Callable[..., NoReturn]:
        return self._refusing_method("save_manifest")

    def _refusing_method(self, method_name: str) -> Callable[..., NoReturn]:
        getattr(self.__wrapped__, method_name)  # AttributeError if the backend lacks it

        def refuse(*args: Any, **kwargs: Any) -> NoReturn:
            self._refuse(method_name, None)

        return refuse

    def _refuse(self, operation: str, name: object, mode: str | None = None) -> NoReturn:
        reason = f"{self!r} is read-only"
        if mode is not None:
            reason = f"mode {mode!r} would write, and {reason}"
        raise ReadOnlyError(operation, name, self, reason)
