"""``ReadOnly``: a storage that refuses every write before any I/O happens."""

from __future__ import annotations

from collections.abc import Callable
from types import TracebackType
from typing import TYPE_CHECKING, Any, NoReturn, Self

from django.core.files.base import File
from django.core.files.storage import Storage

from .base import StorageWrapper
from .errors import ReadOnlyError
from .proxy import Proxy
from .url_arguments import plain_arguments, url_write_reason

__all__ = ["ReadOnly", "ReadOnlyFile", "checked_mode", "is_write_mode", "plain_text"]


def is_write_mode(mode: str | None) -> bool:
    """Whether opening a file with ``mode`` could change it.

    Judged by the mode's text, which is what ``open()`` reads: a ``str``
    subclass cannot make a write mode look like ``"rb"``, and a mode that is
    not a string at all counts as one that could write.
    """
    if mode.__class__ is not str:
        if mode is None:
            return False
        if not isinstance(mode, str):
            return True
        mode = plain_text(mode)
    if mode == "rb" or not mode:
        return False  # the common case, first
    return "w" in mode or "a" in mode or "x" in mode or "+" in mode


def plain_text(text: str) -> str:
    """``text`` as a plain ``str``: a subclass's methods (``__eq__``, ``upper``,
    iteration…) cannot then answer differently from what it holds."""
    return text if text.__class__ is str else str.__str__(text)


class ReadOnly(StorageWrapper):
    """Wrap ``storage`` so that reads work as before and every write raises
    :class:`~storage_mixins.ReadOnlyError`.

    Refused, before the wrapped storage is touched: ``save``, ``_save``,
    ``delete``, ``open``/``_open`` in a mode containing ``w``, ``a``, ``x`` or
    ``+``, ``url()`` with arguments that could sign a write (S3's
    ``http_method="PUT"``, Azure's ``mode="w"``…: see
    ``storage_mixins.url_arguments`` for the rule) and, where the backend has
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

    @property
    def refuses_writes(self) -> bool:
        return True

    def _describe_node(self) -> tuple[str, list[tuple[str, Storage, str]]]:
        return "ReadOnly  (refuses writes)", [("", self.__wrapped__, "")]

    def open(self, name: str, mode: str = "rb") -> ReadOnlyFile:
        if mode.__class__ is not str:
            mode = checked_mode(mode)  # what is checked is what is passed on
        if is_write_mode(mode):
            self._refuse("open", name, mode)
        return ReadOnlyFile(self.__wrapped__.open(name, mode), self, name)

    def _open(self, name: str, mode: str = "rb") -> ReadOnlyFile:
        if mode.__class__ is not str:
            mode = checked_mode(mode)
        if is_write_mode(mode):
            self._refuse("_open", name, mode)
        opened = self.__wrapped__._open(name, mode)  # type: ignore[attr-defined]  # django-stubs' Storage lacks the backends' _open
        return ReadOnlyFile(opened, self, name)

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
        naming = type(_unwrapped(self.__wrapped__)).get_available_name
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


def checked_mode(mode: Any) -> Any:
    """A mode as it is checked and passed on: a ``str`` subclass as its text."""
    return plain_text(mode) if isinstance(mode, str) else mode


def _unwrapped(storage: Storage) -> Storage:
    while isinstance(storage, StorageWrapper):
        storage = storage.__wrapped__
    return storage


if TYPE_CHECKING:
    # A File to a type checker, as to isinstance(): what it does not refuse
    # is the wrapped file's own.
    class _FileProxy(Proxy[File[Any]], File[Any]):
        def __exit__(
            self,
            exc_type: type[BaseException] | None,
            exc_value: BaseException | None,
            traceback: TracebackType | None,
        ) -> None: ...

else:
    _FileProxy = Proxy


class ReadOnlyFile(_FileProxy):
    """A file that reads, and refuses to write: what :class:`ReadOnly` returns.

    Django's ``File.open(mode)`` reopens a closed file from its path, so
    ``FieldFile.open("wb")`` after a read would otherwise write straight into
    the read-only storage. ``reason`` overrides the error's explanation.
    """

    def __init__(
        self, file: File[Any], storage: Storage, name: str, reason: str | None = None
    ) -> None:
        super().__init__(file)
        self._self_storage = storage
        self._self_storage_name = name  # as asked of the storage, for errors
        self._self_reason = reason

    def open(self, mode: str | None = None, *args: Any, **kwargs: Any) -> Self:
        """Reopen for reading; ``mode=None`` reopens in the mode it was opened
        with (``File.mode``, which anyone can set: it is checked too)."""
        reopened_in = mode if mode is not None else getattr(self.__wrapped__, "mode", None)
        if is_write_mode(reopened_in):
            self._refuse("open", f"mode {reopened_in!r} would write")
        if mode is not None and mode.__class__ is not str:
            mode = checked_mode(mode)
        self.__wrapped__.open(mode, *args, **kwargs)
        return self

    def write(self, *args: Any, **kwargs: Any) -> NoReturn:
        self._refuse("write")

    def writelines(self, *args: Any, **kwargs: Any) -> NoReturn:
        self._refuse("writelines")

    def truncate(self, *args: Any, **kwargs: Any) -> NoReturn:
        self._refuse("truncate")

    def _refuse(self, operation: str, detail: str | None = None) -> NoReturn:
        reason = self._self_reason or f"{self._self_storage!r} is read-only"
        if detail:
            reason = f"{detail}, and {reason}"
        raise ReadOnlyError(operation, self._self_storage_name, self._self_storage, reason)

    def __enter__(self) -> Self:
        self.__wrapped__.__enter__()
        return self

    def __exit__(self, *exc_info: Any) -> None:
        return self.__wrapped__.__exit__(*exc_info)

    def __iter__(self) -> Any:
        return iter(self.__wrapped__)

    def __repr__(self) -> str:
        return f"<ReadOnlyFile: {self.__wrapped__!r}>"
