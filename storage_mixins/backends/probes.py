"""Health probes: read-only requests that say what is wrong with a backend,
and what fixes it (``manage.py storage_stack``).

An S3 backend is probed with one ``ListObjectsV2`` of at most one key, whose
error code tells bad credentials, a missing bucket and a denied
``s3:ListBucket`` apart (a ``HEAD`` would give a bare 403 or 404); any other
backend with one ``exists()``. A backend that takes writes on local disk is
also checked for a directory it can write to, without writing. Nothing is
written anywhere.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

from django.core.files.storage import FileSystemStorage, Storage

from .errors import cause_and_fix, error_code, is_transport_error
from .s3.client import is_s3, s3_client
from .s3.listing import S3Lister

__all__ = ["Probe", "probe"]


@dataclass
class Probe:
    """What probing one backend found: the request sent, how long it took
    (``None``: it failed), and each problem found, as ``(problem, fix)``."""

    request: str
    milliseconds: float | None = None
    unreachable: bool = False
    problems: list[tuple[str, str]] = field(default_factory=list)


def probe(backend: Storage, *, takes_writes: bool, slow_ms: float) -> Probe:
    """Probe ``backend`` (a backend, not a wrapper) with one read-only request;
    ``takes_writes``: a stack writes to it, so it must be writable; a request
    slower than ``slow_ms`` milliseconds is a problem."""
    result = Probe("ListObjectsV2" if is_s3(backend) else "exists()")
    try:
        request = _request(backend)
        start = time.perf_counter()
        request()
    # A probe reports whatever failed: saying which, and why, is its job.
    except Exception as exc:  # noqa: BLE001
        found = cause_and_fix(exc)
        result.unreachable = is_transport_error(exc)
        what = error_code(exc) or type(exc).__name__
        if found is None:
            lines = str(exc).splitlines()
            found = (f"{what}: {lines[0] if lines else 'no message'}", "see the error")
        else:
            found = (f"{found[0]} ({what})", found[1])
        result.problems.append(found)
        return result
    result.milliseconds = (time.perf_counter() - start) * 1000
    if result.milliseconds > slow_ms:
        result.problems.append(
            (
                f"slow: one {result.request} took {result.milliseconds:.0f} ms "
                f"(more than {slow_ms:.0f} ms)",
                "check the network, and use an endpoint near this machine (endpoint_url, "
                "region_name); Caching(..., listings=...) saves most requests",
            )
        )
    if takes_writes and isinstance(backend, FileSystemStorage):
        problem = _unwritable(str(backend.location))
        if problem is not None:
            result.problems.append(problem)
    return result


def _request(backend: Storage) -> Callable[[], object]:
    """The probe's request, ready to send: an S3 backend's client is made now,
    before the clock starts (a first client costs a few hundred milliseconds
    once a process, which no request pays)."""
    if is_s3(backend):
        s3_client(backend)
        return S3Lister(backend).probe
    name = f".storage-mixins-probe-{uuid.uuid4().hex}"
    return lambda: backend.exists(name)


def _unwritable(location: str) -> tuple[str, str] | None:
    """Why a file could not be saved under ``location`` (made when first
    needed, as ``FileSystemStorage`` does), or ``None``; asked of the file
    system, never tried."""
    path = os.path.abspath(location)
    while not os.path.exists(path) and os.path.dirname(path) != path:
        path = os.path.dirname(path)
    fix = "point location (MEDIA_ROOT) at a directory this process can write to"
    if not os.path.isdir(path):
        return f"not writable: {path} is not a directory, so {location} cannot be made", fix
    if not os.access(path, os.W_OK | os.X_OK):
        return f"not writable: this process may not write to {path}", f"fix its mode, or {fix}"
    return None
