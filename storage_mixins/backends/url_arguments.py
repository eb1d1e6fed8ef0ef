"""Whether a ``url()`` call's extra arguments could sign a write.

Django's ``Storage.url(name)`` takes only a name. Backends add arguments that
sign URLs for other operations, and whoever holds such a URL can write without
going through the storage API:

* ``S3Storage.url(name, http_method="PUT")`` signs an upload, ``"DELETE"`` a
  deletion;
* ``GoogleCloudStorage.url(name, parameters={"method": "PUT"})`` likewise;
* ``AzureStorage.url(name, mode="w")`` grants SAS write permissions, and
  ``parameters={"policy_id": ...}`` those of a stored access policy.

So an argument is trusted only when it is known and its value can only read
(an allowlist): ``http_method``/``method`` must be ``"GET"`` or ``"HEAD"`` (in
any case, nothing else: not ``" GET"``, not ``b"GET"``), ``mode`` only ``"r"``,
``expire``/``expires``/``expiration`` anything. ``parameters`` must be a dict;
it is passed to the signer of a read (S3's ``get_object``, Google's
``generate_signed_url``, Azure's ``generate_blob_sas``), so its keys are free
except those that name the verb (checked as above), permissions or a stored
policy, and headers that override the method. Any other argument is unknown,
and therefore refused. Positional arguments are read by the backend's own
signature; a backend whose ``url()`` takes ``*args`` cannot be read, so extra
positional arguments to it are refused.
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from typing import Any

from django.core.files.storage import Storage

from ..core.stack import leaves

__all__ = ["READ_METHODS", "plain_arguments", "url_write_reason"]

READ_METHODS = frozenset({"GET", "HEAD"})

_METHOD_ARGUMENTS = frozenset({"http_method", "method", "httpmethod"})
_LIFETIME_ARGUMENTS = frozenset({"expire", "expires", "expiration"})
_GRANTING_PARAMETERS = frozenset({"permission", "permissions", "policy_id"})
_METHOD_OVERRIDE_HEADERS = frozenset(
    {"x-http-method-override", "x-http-method", "x-method-override", "x-goog-resumable"}
)


def plain_arguments(
    args: tuple[Any, ...], kwargs: dict[str, Any]
) -> tuple[tuple[Any, ...], dict[str, Any]]:
    """The arguments as plain values: ``str`` and ``dict`` subclasses become
    ``str`` and ``dict`` (read with ``str``'s and ``dict``'s own methods), in
    lists and tuples too. Check these, and pass these on: a subclass could
    answer the check one way (``upper()``, ``items()``, iteration) and the
    signer another."""
    return tuple(_plain(value) for value in args), {
        _plain(key): _plain(value) for key, value in kwargs.items()
    }


def _plain(value: Any) -> Any:
    if isinstance(value, str):
        return value if value.__class__ is str else str.__str__(value)
    if isinstance(value, dict):
        return {_plain(key): _plain(item) for key, item in dict.items(value)}
    if isinstance(value, list):
        return [_plain(item) for item in list.__iter__(value)]
    if isinstance(value, tuple):
        return tuple(_plain(item) for item in tuple.__iter__(value))
    return value


def url_write_reason(storage: Storage, args: tuple[Any, ...], kwargs: dict[str, Any]) -> str | None:
    """Why ``storage.url(name, *args, **kwargs)`` could sign a write, or ``None``.

    ``storage`` may be a stack: the arguments are read by the signature of every
    backend in it, and count as a write if any backend would read them so.
    Give it :func:`plain_arguments`' answer, and pass that on.
    """
    for backend in leaves(storage):
        reason = _reason_for(backend, args, kwargs)
        if reason is not None:
            return reason
    return None


def _reason_for(backend: Storage, args: tuple[Any, ...], kwargs: dict[str, Any]) -> str | None:
    try:
        signature = inspect.signature(backend.url)
    except (TypeError, ValueError):  # no url(), or a signature that cannot be read
        return "its arguments cannot be read" if args or kwargs else None
    try:
        bound = signature.bind("name", *args, **kwargs)
    except TypeError:
        return None  # the backend refuses this call itself, before signing anything
    parameters = list(signature.parameters.values())
    for parameter in parameters[1:]:  # the first is the name
        if parameter.name not in bound.arguments:
            continue
        value = bound.arguments[parameter.name]
        if parameter.kind is inspect.Parameter.VAR_POSITIONAL:
            if value:
                return f"url() positional arguments {value!r} cannot be read"
        elif parameter.kind is inspect.Parameter.VAR_KEYWORD:
            for key, item in value.items():
                reason = _argument_reason(key, item)
                if reason is not None:
                    return reason
        else:
            reason = _argument_reason(parameter.name, value)
            if reason is not None:
                return reason
    return None


def _argument_reason(argument: str, value: object) -> str | None:
    key = argument.lower()
    if key in _METHOD_ARGUMENTS:
        return None if _is_read_method(value) else f"url({argument}={value!r}) could sign a write"
    if key == "mode":
        if value is None or (isinstance(value, str) and value and set(value) <= {"r"}):
            return None
        return f"url(mode={value!r}) grants more than reading ('r')"
    if key in _LIFETIME_ARGUMENTS:
        return None
    if key == "parameters":
        return _parameters_reason(value)
    return f"url({argument}=...) is not known to be read-only"


def _parameters_reason(parameters: object) -> str | None:
    if parameters is None:
        return None
    if not isinstance(parameters, Mapping):
        return f"url(parameters={parameters!r}) is not a dict, so it cannot be checked"
    for key, value in parameters.items():
        lowered = str(key).lower()
        if lowered in _METHOD_ARGUMENTS and not _is_read_method(value):
            return f"url(parameters={{{key!r}: {value!r}}}) could sign a write"
        if lowered in _GRANTING_PARAMETERS:
            return f"url(parameters={{{key!r}: ...}}) could grant more than reading"
        if lowered == "headers":
            headers = value if isinstance(value, Mapping) else {}
            if not isinstance(value, Mapping) or any(
                str(header).lower() in _METHOD_OVERRIDE_HEADERS for header in headers
            ):
                return f"url(parameters={{'headers': {value!r}}}) could change the method"
    return None


def _is_read_method(value: object) -> bool:
    # str.upper, not value.upper: a str subclass could answer anything.
    return value is None or (isinstance(value, str) and str.upper(value) in READ_METHODS)
