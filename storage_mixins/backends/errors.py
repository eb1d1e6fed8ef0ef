"""What a backend's error means: a missing file, a backend that cannot be
reached, a refusal. Each backend's errors, and their HTTP statuses, are read
here and nowhere else; :class:`HTTPStatusError` is the error of an HTTP
server's answer (``HTTPStorage``).

Third-party exception classes are looked up in ``sys.modules`` only: an
exception of a library can only exist once that library has been imported,
so storage_mixins never imports them itself.
"""

from __future__ import annotations

import errno
import socket
import sys

__all__ = [
    "HTTPStatusError",
    "error_code",
    "http_status",
    "is_not_found",
    "is_refusal",
    "is_transport_error",
    "not_found_types",
]


class HTTPStatusError(OSError):
    """An HTTP server answered ``status`` for ``url``, and that answer is neither
    a file nor a missing one (``HTTPStorage``): a refusal (401, 403), a server
    error (5xx, which ``is_transport_error`` reads as the server being down),
    a redirect loop… ``reason`` says what was wrong."""

    def __init__(self, status: int, url: str, reason: str = "") -> None:
        self.status = status
        self.url = url
        self.reason = reason
        super().__init__(f"HTTP {status} for {url}" + (f": {reason}" if reason else ""))

    def __reduce__(self) -> tuple[object, ...]:
        return (type(self), (self.status, self.url, self.reason))


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
    if _is_botocore_error(exc):
        code = error_code(exc)
        if code == "NoSuchBucket":
            return False
        return http_status(exc) == 404 or code in _S3_NOT_FOUND_CODES
    return isinstance(exc, _third_party_not_found_types())


def http_status(exc: BaseException) -> int | None:
    """The HTTP status of an :class:`HTTPStatusError` or of a botocore
    ``ClientError`` (an S3 error), or ``None``."""
    if isinstance(exc, HTTPStatusError):
        return exc.status
    if not _is_botocore_error(exc):
        return None
    status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")  # type: ignore[attr-defined]  # a ClientError's
    return status if isinstance(status, int) else None


def error_code(exc: BaseException) -> str | None:
    """The error code of a botocore ``ClientError`` (``"NoSuchKey"``…), or ``None``."""
    if not _is_botocore_error(exc):
        return None
    code = exc.response.get("Error", {}).get("Code")  # type: ignore[attr-defined]  # a ClientError's
    return code if isinstance(code, str) else None


def is_refusal(exc: BaseException) -> bool:
    """Whether ``exc`` is S3's 403 (``AccessDenied``): the credentials may not do it."""
    return http_status(exc) == 403 or error_code(exc) == "AccessDenied"


def _is_botocore_error(exc: BaseException) -> bool:
    # A botocore ClientError carries its parsed response as a dict.
    return isinstance(getattr(exc, "response", None), dict)


# botocore's "could not talk to the endpoint" errors.
_BOTOCORE_TRANSPORT = (
    "EndpointConnectionError",
    "ConnectTimeoutError",
    "ReadTimeoutError",
    "ConnectionClosedError",
    "ConnectionError",
    "HTTPClientError",
)


# urllib3's (HTTPStorage's client): timeouts (connecting, reading, and a
# connection that could not be made, NewConnectionError, or whose name did not
# resolve), a connection reset or closed mid-answer, a body cut short, a proxy
# that could not be reached.
_URLLIB3_TRANSPORT = ("TimeoutError", "ProtocolError", "IncompleteRead", "ProxyError")


def is_transport_error(exc: BaseException) -> bool:
    """Whether ``exc`` says the storage could not be reached or did not answer.

    Yes: connection refused or reset, DNS failures, timeouts, HTTP 5xx,
    botocore's endpoint, timeout and closed-connection errors, and urllib3's
    timeout, connection, truncated-body and proxy errors (``HTTPStorage``).
    Never: a missing file (404), a permission error (403; note that S3 answers
    403 for a missing key when the credentials lack ``s3:ListBucket``, which
    is therefore never skipped), a TLS certificate that does not verify, or
    ``SuspiciousOperation``.
    """
    if is_not_found(exc) or isinstance(exc, PermissionError):
        return False
    if isinstance(exc, ConnectionError | TimeoutError | socket.gaierror):
        return True
    if isinstance(exc, OSError) and exc.errno in (errno.EHOSTUNREACH, errno.ENETUNREACH):
        return True
    botocore = sys.modules.get("botocore.exceptions")
    if botocore is not None:
        transport = tuple(getattr(botocore, name) for name in _BOTOCORE_TRANSPORT)
        if isinstance(exc, transport):
            return True
    if _is_urllib3_transport_error(exc):
        return True
    status = http_status(exc)
    return status is not None and 500 <= status < 600


def _is_urllib3_transport_error(exc: BaseException) -> bool:
    urllib3 = sys.modules.get("urllib3.exceptions")
    if urllib3 is None:
        return False
    if isinstance(exc, tuple(getattr(urllib3, name) for name in _URLLIB3_TRANSPORT)):
        return True
    # What urllib3's own retries end with: the last error is the reason.
    reason = getattr(exc, "reason", None)
    return (
        isinstance(exc, urllib3.MaxRetryError)
        and isinstance(reason, BaseException)
        and is_transport_error(reason)
    )
