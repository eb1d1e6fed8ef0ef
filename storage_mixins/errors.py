"""Errors raised by the wrappers, and how backend errors are classified."""

from __future__ import annotations

import sys

__all__ = ["FileChangedError", "ReadOnlyError", "is_not_found", "not_found_types"]


class ReadOnlyError(PermissionError):
    """A write was refused because the storage that would receive it is read-only.

    Raised before any I/O reaches the storage. ``operation`` is the refused
    method (``"save"``, ``"delete"``, ``"open"``…), ``name`` the file name it
    was called with (``None`` where there is none) and ``storage`` the storage
    that refused.
    """

    def __init__(
        self,
        operation: str,
        name: object,
        storage: object,
        reason: str | None = None,
    ) -> None:
        self.operation = operation
        self.name = name
        self.storage = storage
        self.reason = reason
        call = f"{operation}({name!r})" if name is not None else f"{operation}()"
        super().__init__(f"{call} refused: {reason or f'{storage!r} is read-only'}")

    def __reduce__(self) -> tuple[object, ...]:
        return (type(self), (self.operation, self.name, self.storage, self.reason))


class FileChangedError(OSError):
    """A file being read changed (or was deleted) in its storage meanwhile.

    Raised by a read of a file streamed from S3 that needs another request (a
    seek, a rewind) once the object is no longer the version the file started
    on: going on would mix the bytes of two versions. Open the file again to
    read the new version. ``name`` is the file's name.
    """

    def __init__(self, name: str, detail: str) -> None:
        self.name = name
        self.detail = detail
        super().__init__(f"{name!r} changed in the storage while it was being read ({detail})")

    def __reduce__(self) -> tuple[object, ...]:
        return (type(self), (self.name, self.detail))


# Third-party "not found" exceptions, looked up in sys.modules only: an
# exception of a library can only exist once that library has been imported,
# so storage_mixins never imports them itself.
_NOT_FOUND_TYPES = (
    ("botocore.exceptions", "ClientError"),  # django-storages S3; needs a 404
    ("google.api_core.exceptions", "NotFound"),  # django-storages Google Cloud
    ("azure.core.exceptions", "ResourceNotFoundError"),  # django-storages Azure
)

_S3_NOT_FOUND_CODES = frozenset({"404", "NoSuchKey", "NotFound"})


def not_found_types() -> tuple[type[BaseException], ...]:
    """Exception classes that *may* mean "this file does not exist".

    Use it in an ``except`` clause and confirm with :func:`is_not_found`, which
    separates a botocore 404 from every other botocore ``ClientError``.
    """
    return _BUILTIN_NOT_FOUND + _third_party_not_found_types()


# A path whose parent is a file, or that is a directory, names no file either.
_BUILTIN_NOT_FOUND: tuple[type[BaseException], ...] = (
    FileNotFoundError,
    NotADirectoryError,
    IsADirectoryError,
)


def _third_party_not_found_types() -> tuple[type[BaseException], ...]:
    types = []
    for module_name, class_name in _NOT_FOUND_TYPES:
        exc_type = getattr(sys.modules.get(module_name), class_name, None)
        if isinstance(exc_type, type) and issubclass(exc_type, BaseException):
            types.append(exc_type)
    return tuple(types)


def is_not_found(exc: BaseException) -> bool:
    """Whether ``exc`` says the file does not exist (as opposed to any other failure).

    Besides ``FileNotFoundError``: a path whose parent is a file
    (``NotADirectoryError``) or that is a directory (``IsADirectoryError``)
    names no file in that layer, while another layer may have it (S3 holds
    both ``a`` and ``a/b.txt``, a filesystem cannot).

    Not a miss: a missing *bucket* (a configuration error), and a 403 from S3,
    even though S3 sends 403 for a missing key when the credentials lack
    ``s3:ListBucket``: treating it as a miss would hide a permission problem.
    """
    if isinstance(exc, _BUILTIN_NOT_FOUND):
        return True
    response = getattr(exc, "response", None)
    if isinstance(response, dict):  # botocore ClientError
        status = response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        code = response.get("Error", {}).get("Code")
        if code == "NoSuchBucket":
            return False
        return status == 404 or code in _S3_NOT_FOUND_CODES
    return isinstance(exc, _third_party_not_found_types())
