"""One process of a fleet computes an answer, the others wait for it.

When several processes that share a cache miss the same fact at once (a cold
page behind gunicorn's workers, or on servers that share one Redis), one of
them *claims* it, with the cache's ``add`` of a key that expires after
:data:`CLAIM_SECONDS`, and computes it (lists the directory); the others
poll the cache for its answer, claiming in turn if the claim goes away
without one. Every Django cache backend gives an atomic ``add`` with an
expiry, so nothing else is needed.

A process that dies holding a claim leaves it until the cache expires it, in
whole seconds. So a waiter that has watched one claim for
:data:`TAKEOVER_SECONDS` without an answer takes it over: the one waiter
that claims its *successor* (a key named after its holder) frees it and
claims it, and computes; the others, and whoever misses next, wait for it as
for any holder. A dead holder delays the others by that much; a holder that
is merely slow costs one more computation each :data:`TAKEOVER_SECONDS`,
never a wrong answer. None waits longer than :data:`WAIT_SECONDS` before it
answers without the fact (per file). A cache that fails makes every process
compute on its own, as without a cache.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, Final

from .metadata_cache import MetadataCache

__all__ = [
    "CLAIM_SECONDS",
    "GAVE_UP",
    "TAKEOVER_SECONDS",
    "WAIT_SECONDS",
    "one_in_the_fleet",
    "successor",
]

#: How long a claim lasts (whole seconds: Redis and Memcached count no less).
#: A listing outlasting its claim lets a second process list (one second was
#: too short on a busy machine).
CLAIM_SECONDS: Final = 2
#: How long a waiter watches one claim without an answer before it takes
#: over (see the module's docstring): what a dead holder delays the others by.
TAKEOVER_SECONDS: Final = 1.5
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
    watched: str | None = None  # the token of the claim's holder, watched since ``since``
    since = 0.0
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
        now = time.monotonic()
        holder = metadata.holder(key)
        if holder is None or holder != watched:
            watched, since = holder, now  # a new holder (a taker too) is given the full time
        elif (
            now - since >= TAKEOVER_SECONDS
            and metadata.claim(successor(key, holder), CLAIM_SECONDS) is not None
        ):
            # The one taker frees the claim given up on, and claims it at once:
            # whoever misses next, even once the old claim would have
            # expired, waits for the taker. (Someone claiming in between
            # computes in its place, or, freed by mistake, besides it.)
            metadata.release(key, holder)
            continue
        if now + pause > deadline:
            return GAVE_UP
        time.sleep(pause)
        pause = min(2 * pause, _LAST_POLL)


def successor(key: str, holder: str) -> str:
    """The claim that decides which of the waiters who gave up on ``holder``'s
    claim of ``key`` takes it over (tokens are unique: no chain of these)."""
    return f"{key}:after:{holder}"
