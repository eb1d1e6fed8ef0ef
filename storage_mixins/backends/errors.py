"""What a backend's error means: a missing file, a backend that cannot be
reached, a refusal, and its likely cause. Each backend's errors, their HTTP
statuses and S3's error codes are read here and nowhere else.

Third-party exception classes are looked up in ``sys.modules`` only: an
exception of a library can only exist once that library has been imported,
so storage_mixins never imports them itself.
"""

from __future__ import annotations

import errno
import socket
import sys

from ..core.errors import FileChangedError, ReadOnlyError

__all__ = [
    "backend_error_types",
    "cause_and_fix",
    "error_code",
    "failure_summary",
    "http_status",
    "is_backend_error",
    "is_not_found",
    "is_refusal",
    "is_transport_error",
    "likely_cause",
    "not_found_types",
    "note_failure",
]


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
    """The HTTP status of a botocore ``ClientError`` (an S3 error), or ``None``."""
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


def is_transport_error(exc: BaseException) -> bool:
    """Whether ``exc`` says the storage could not be reached or did not answer.

    Yes: connection refused or reset, DNS failures, timeouts, HTTP 5xx, and
    botocore's endpoint, timeout and closed-connection errors. Never: a missing
    file (404), a permission error (403; note that S3 answers 403 for a missing
    key when the credentials lack ``s3:ListBucket``, which is therefore never
    skipped), or ``SuspiciousOperation``.
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
    status = http_status(exc)
    return status is not None and 500 <= status < 600


# -- what a failure means, in words --------------------------------------------

# What S3's error codes most likely mean, and what fixes them.
_RENEW = "renew the credentials (security_token, AWS_SESSION_TOKEN), or unset an old token"
_REGION = "set region_name (AWS_S3_REGION_NAME) to the bucket's region"
_S3_CAUSES = {
    "InvalidAccessKeyId": (
        "the credentials are invalid: the endpoint knows no such access key",
        "set the key production uses (access_key, AWS_S3_ACCESS_KEY_ID or AWS_ACCESS_KEY_ID)",
    ),
    "SignatureDoesNotMatch": (
        "the credentials are invalid: the secret key does not match the access key",
        "set its secret (secret_key, AWS_S3_SECRET_ACCESS_KEY or AWS_SECRET_ACCESS_KEY)",
    ),
    "InvalidToken": ("the credentials' session token is invalid", _RENEW),
    "ExpiredToken": ("the credentials' session token has expired", _RENEW),
    "TokenRefreshRequired": ("the credentials' session token has expired", _RENEW),
    "NoSuchBucket": (
        "the bucket does not exist at this endpoint",
        "check bucket_name (AWS_STORAGE_BUCKET_NAME) and endpoint_url (AWS_S3_ENDPOINT_URL)",
    ),
    "PermanentRedirect": ("the bucket is in another region", _REGION),
    "AuthorizationHeaderMalformed": ("the request was signed for another region", _REGION),
    "AccessDenied": (
        "the credentials may not do this",
        "allow it in the user's or the bucket's policy",
    ),
}
_S3_LISTINGS = ("ListObjects", "ListObjectsV2")
_LIST_DENIED = (
    "the credentials lack s3:ListBucket: listings are off, and S3 answers 403 instead of 404 "
    "for a missing file",
    "grant s3:ListBucket on the bucket",
)
# A HEAD request's error has no body, so no code: only its status.
_HEAD_FORBIDDEN = (
    "S3 answered 403 to a HEAD request, which gives no reason: the credentials are invalid, "
    "or may not read the object, or lack s3:ListBucket (then a missing file is a 403)",
    "`manage.py storage_stack --check` tells which",
)
_NO_CREDENTIALS = (
    "no credentials were found",
    "set access_key and secret_key (AWS_S3_ACCESS_KEY_ID, AWS_S3_SECRET_ACCESS_KEY), or the "
    "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY variables",
)
_UNREACHABLE = (
    "the backend cannot be reached",
    "check its endpoint (endpoint_url) and the network; a development stack can read on "
    'without it: Fallback(..., on_error="skip")',
)


def cause_and_fix(exc: BaseException) -> tuple[str, str] | None:
    """What ``exc`` most likely means, and what fixes it, in a few words each:
    for S3's error codes (bad credentials, a missing bucket, a denied
    listing…), a backend that cannot be reached or fails, and botocore
    without credentials; ``None`` for any other error."""
    code = error_code(exc)
    if code is not None:
        if code == "AccessDenied" and getattr(exc, "operation_name", None) in _S3_LISTINGS:
            return _LIST_DENIED
        if code in _S3_CAUSES:
            return _S3_CAUSES[code]
        if code == "403":
            return _HEAD_FORBIDDEN
    if _is_instance(exc, "botocore.exceptions", "NoCredentialsError"):
        return _NO_CREDENTIALS
    if is_transport_error(exc):
        status = http_status(exc)
        if status is not None:
            return f"the backend failed (HTTP {status})", "try again later"
        return _UNREACHABLE
    return None


def likely_cause(exc: BaseException) -> str | None:
    """:func:`cause_and_fix` in one phrase."""
    found = cause_and_fix(exc)
    return None if found is None else f"{found[0]}; {found[1]}"


def failure_summary(exc: BaseException) -> str:
    """One line about ``exc``: its class and code, the bucket it names, where
    it came from (its :func:`note_failure`) and its likely cause (or its own
    message)."""
    code = error_code(exc)
    kind = type(exc).__name__
    if code is not None and code != kind:  # botocore names some classes by their code
        kind += f" {code}"
    operation = getattr(exc, "operation_name", None)
    if operation:
        kind += f" from {operation}"
    bucket = exc.response.get("Error", {}).get("BucketName") if _is_botocore_error(exc) else None  # type: ignore[attr-defined]  # a ClientError's
    if isinstance(bucket, str):
        kind += f" on bucket {bucket!r}"
    noted = next((n for n in getattr(exc, "__notes__", ()) if n.startswith(_NOTE)), None)
    if noted is not None:
        return f"{kind}, {noted.removeprefix(_NOTE)}"
    lines = str(exc).splitlines()
    return f"{kind}: {likely_cause(exc) or (lines[0] if lines else 'no message')}"


# The third-party errors of backends: each library's base class.
_BACKEND_ERROR_TYPES = (
    ("botocore.exceptions", "ClientError"),
    ("botocore.exceptions", "BotoCoreError"),
    ("google.api_core.exceptions", "GoogleAPIError"),
    ("azure.core.exceptions", "AzureError"),
)


def backend_error_types() -> tuple[type[BaseException], ...]:
    """The exception classes a backend raises when it fails (beside ``OSError``,
    whose subclasses the storage_mixins errors are too): for ``except``."""
    types: list[type[BaseException]] = [ConnectionError, TimeoutError, socket.gaierror]
    for module_name, class_name in _BACKEND_ERROR_TYPES:
        exc_type = getattr(sys.modules.get(module_name), class_name, None)
        if isinstance(exc_type, type) and issubclass(exc_type, BaseException):
            types.append(exc_type)
    return tuple(types)


def is_backend_error(exc: BaseException) -> bool:
    """Whether ``exc`` is a backend's own failure (an S3 error, a backend that
    cannot be reached, a local disk's ``OSError``), rather than storage_mixins'
    own refusal or a caller's mistake."""
    if isinstance(exc, ReadOnlyError | FileChangedError):
        return False
    return isinstance(exc, (OSError, *backend_error_types()))


_NOTE = "storage_mixins: "


def note_failure(exc: BaseException, where: str) -> None:
    """Add to ``exc`` a note saying that it came from ``where`` (a layer, its
    bucket, its alias), and its likely cause; once: the innermost stack that
    sees it knows the layer best. The exception keeps its type."""
    if any(note.startswith(_NOTE) for note in getattr(exc, "__notes__", ())):
        return
    cause = likely_cause(exc)
    exc.add_note(f"{_NOTE}raised by {where}" + (f": {cause}" if cause else ""))


def _is_instance(exc: BaseException, module_name: str, class_name: str) -> bool:
    exc_type = getattr(sys.modules.get(module_name), class_name, None)
    return isinstance(exc_type, type) and isinstance(exc, exc_type)
