"""The keys of facts in a shared Django cache, and the tokens of versions.

A key is made of a storage's namespace, a short code for the fact and a hash
of the path: safe for every Django cache backend (memcached takes no spaces
or control characters, and 250 characters at most), and short whatever the
file name. A token names one version of a path, or one listing: no other
process, nor an earlier run, makes the same.
"""

from __future__ import annotations

import functools
import hashlib
import itertools
import os
import posixpath
import uuid
from collections.abc import Iterator

__all__ = ["MAX_LISTED_LAYERS", "cache_key", "directories_above", "listing_fact", "new_token"]

# Short codes keep keys short: every key is checked character by character
# (for memcached's sake) on every get and set.
_CODES = {
    "exists": "e",
    "size": "s",
    "get_accessed_time": "a",
    "get_created_time": "c",
    "get_modified_time": "m",
    "url": "u",
    "listdir": "l",
    "contents": "x",
    "version": "v",
    "outside": "o",  # a path's outside version: see storage_mixins.services.metadata_cache
}
# The listing of a directory as layer N of the storage sees it (N is 0 for a
# storage that is not a Fallback): see storage_mixins.services.listing_cache.
MAX_LISTED_LAYERS = 16
_CODES.update({f"listing:{position}": f"L{position:x}" for position in range(MAX_LISTED_LAYERS)})


def listing_fact(position: int) -> str:
    """The fact that holds a directory's listing by layer ``position``."""
    return f"listing:{position}"


@functools.lru_cache(maxsize=8192)
def cache_key(namespace: str, fact: str, path: str) -> str:
    """The key of ``fact`` (``exists``, ``version``, ``listing:0``…) about ``path``."""
    # Pages ask about the same names over and over, hence the memo.
    digest = hashlib.blake2b(path.encode("utf-8", "surrogatepass"), digest_size=10)
    return f"sm:{namespace}:{_CODES[fact]}{digest.hexdigest()}"


def directories_above(path: str) -> Iterator[str]:
    """The directories above ``path``, nearest first, the root (``""``) last."""
    while path:
        path = posixpath.dirname(path)
        yield path


def new_token() -> str:
    """A token no other process, or earlier run, makes: a random prefix per
    process (new in a forked child) and a counter."""
    return f"{_token_prefix}{next(_token_counter)}"


def _new_token_source() -> None:
    global _token_prefix, _token_counter
    _token_prefix = uuid.uuid4().hex[:16]
    _token_counter = itertools.count()


_token_prefix = ""
_token_counter = itertools.count()
_new_token_source()
os.register_at_fork(after_in_child=_new_token_source)
