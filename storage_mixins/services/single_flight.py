"""One process of a fleet computes an answer, the others wait for it.

When several processes that share a cache miss the same fact at once (a cold
page behind gunicorn's workers, or on servers that share one Redis), one of
them *claims* it, with the cache's ``add`` of a key that expires after
:data:`CLAIM_SECONDS`, and computes it (lists the directory); the others
poll the cache for its answer, claiming in turn if the claim goes away
without one. Every Django cache backend gives an atomic ``add`` with an
expiry, so nothing else is needed; a process that dies holding a claim
delays the others by :data:`CLAIM_SECONDS`, and none waits longer than
:data:`WAIT_SECONDS` before it answers without the fact (per file). A cache
that fails makes every process compute on its own, as without a cache.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, Final

from .metadata_cache import MetadataCache

__all__ = ["CLAIM_SECONDS", "GAVE_UP", "WAIT_SECONDS", "one_in_the_fleet"]

#: How long a claim lasts (whole seconds: Redis and Memcached count no less):
#: what a dead holder delays the others by. A listing outlasting its claim
#: lets a second process list (one second was too short on a busy machine).
CLAIM_SECONDS: Final = 2
#: The longest a process waits for another's answer: past a claim that
#: expires, and the listing of the process that claims next.
WAIT_SECONDS: Final = 5.0
_FIRST_POLL = 0.005  # seconds; doubled after each poll…
_LAST_POLL = 0.05  # …up to this

#: What :func:`one_in_the_fleet` gives when nobody's answer came in time.
GAVE_UP: Final = object()


def one_in_the_fleet(
    metadata: MetadataCache,
    key: str,
    *,
    cached: Callable[[], tuple[bool, Any]],
    compute: Callable[[], Any],
) -> Any:
    """``compute()``, unless another process claimed ``key`` first: then what
    ``cached()`` finds (``(True, value)``) once that process has stored it,
    or :data:`GAVE_UP` after :data:`WAIT_SECONDS` without one."""
    deadline = time.monotonic() + WAIT_SECONDS
    pause = _FIRST_POLL
    while True:
        claim = metadata.claim(key, CLAIM_SECONDS)
        if claim is not None:
            try:
                # The claim may be free because its holder has just stored the
                # answer (and released it): ask once more before computing.
                hit, value = cached()
                return value if hit else compute()
            finally:
                metadata.release(key, claim)
        hit, value = cached()
        if hit:
            return value
        if time.monotonic() + pause > deadline:
            return GAVE_UP
        time.sleep(pause)
        pause = min(2 * pause, _LAST_POLL)
