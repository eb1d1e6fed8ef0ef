"""How a :class:`~storage_mixins.Fallback` chooses the name of a new file.

The rule: a new file never hides (shadows) a file that another layer serves.

* A name that only the write layer has, or that no layer has, follows the
  write layer's own rules: its ``get_available_name`` (a subclass's own, an
  ``OverwriteStorage`` recipe, ``allow_overwrite=True``, S3's
  ``file_overwrite``). If the name it picks is served by another layer, the
  stack picks again, below.
* A name that another layer has gets a name that is free in *every* layer,
  with Django's own algorithm and the write layer's ``get_alternative_name``.
* With ``shadow=True`` (for ``collectstatic``), only the write layer's rules
  apply, so the new file may hide a lower layer's.

A name hidden by a tombstone is free, unless the write layer or a layer before
it has the name (that copy would come back when the tombstone goes).

A layer that is down: under ``on_error="raise"``, its error is raised (with a
note that names it), and nothing is written. Under ``on_error="skip"``, the
other layers are asked through their circuit breakers; while one is down,
whether it has a name cannot be known, so no name it might have is taken: the
new file is named ``<root>_offline_<24 random hex digits><ext>``, which no
file of that layer can have but by a chance of one in 2**96, and which the
layers that answer must not have either. The write layer is always asked
directly: a write never skips it.

Whether a name is free is asked of the write layer first, then of the other
layers in order: the answer is the same in any order, and the write layer (the
local disk, in the design's stack) rules out a name it has without a request
to production. A second upload of ``photo.jpg`` then costs production one
request, about the name chosen, as a new name does.
"""

from __future__ import annotations

import logging
import secrets
from typing import TYPE_CHECKING, Any

from django.core.exceptions import SuspiciousFileOperation
from django.core.files.storage import FileSystemStorage, Storage

from ...core.labels import storage_label
from ...core.stack import is_wrapper
from .failover import GuardedLayer
from .notes import note_layer

if TYPE_CHECKING:
    from .tombstones import Tombstones

__all__ = ["NamePolicy", "offline_name"]

logger = logging.getLogger("storage_mixins.failover")

# A layer, and its circuit breaker if a new name asks through it.
_Ask = tuple[Storage, GuardedLayer | None]


class NamePolicy:
    """Chooses the names of new files in ``stack``, of ``layers`` whose write
    layer is at ``write_index`` (``None``: a read-only stack), by the rule above.

    ``proxied`` is the layer the stack proxies, whose ``get_alternative_name``
    makes alternatives; ``tombstones`` the stack's, if any; ``readers`` the
    stack's readers of its layers (``GuardedLayer`` under ``on_error="skip"``).
    """

    __slots__ = ("_asks", "_asks_the_write_layer", "_free_asks", "_hidden_asks", "layers",
                 "proxied", "shadow", "stack", "tombstones", "write_index",
                 "write_layer")  # fmt: skip

    def __init__(
        self,
        stack: Any,
        layers: tuple[Storage, ...],
        write_index: int | None,
        *,
        proxied: Storage,
        shadow: bool = False,
        tombstones: Tombstones | None = None,
        readers: tuple[Any, ...] | None = None,
    ) -> None:
        self.stack = stack
        self.layers = layers
        self.write_index = write_index
        self.write_layer = None if write_index is None else layers[write_index]
        self.proxied = proxied
        self.shadow = shadow
        self.tombstones = tombstones
        # Each layer, and its circuit breaker if a new name asks through it.
        self._asks: tuple[_Ask, ...] = tuple(
            (layer, _breaker(layer, reader, self.write_layer))
            for layer, reader in zip(layers, readers or layers, strict=True)
        )
        # The order they are asked whether a name is free: the write layer
        # first (see above); for a name hidden by a tombstone, only the write
        # layer and the layers before it.
        self._free_asks = _cheap_first(self._asks, write_index)
        upto = len(layers) if write_index is None else write_index + 1
        self._hidden_asks = _cheap_first(self._asks[:upto], write_index)
        # A write layer named by Django's own rules needs no asking: the stack's
        # algorithm, free in every layer, is what they give, in one pass.
        write_layer = self.write_layer
        self._asks_the_write_layer = write_layer is not None and (
            shadow
            or not _names_like_django(write_layer)
            or bool(getattr(write_layer, "_allow_overwrite", False))
        )

    def available_name(self, name: str, max_length: int | None = None) -> str:
        """A name for a new file called ``name``."""
        write_layer = self.write_layer
        taken: frozenset[str] = frozenset()  # names known not to be free
        if self._asks_the_write_layer:
            assert write_layer is not None  # as it is asked
            answer = self._by_the_write_layer(write_layer, name, max_length)
            if isinstance(answer, str):
                return answer
            taken = answer
        # Django's own algorithm, asking whether a name is free in the stack
        # (is_name_available()).
        chooser = _NameChooser(self, taken)
        try:
            # The chooser stands in for a Storage: it answers what the algorithm asks.
            chosen: str = Storage.get_available_name(chooser, name, max_length=max_length)  # type: ignore[arg-type]
        except SuspiciousFileOperation as exc:
            if chooser.down is not None:  # no offline name fits max_length
                exc.add_note(
                    f"storage_mixins: {storage_label(chooser.down)} is down, so the new file "
                    "needs a name none of its files can have (<root>_offline_<24 hex "
                    f"digits><ext>), and none fits max_length={max_length}: retry once it "
                    "is back, or allow a longer name"
                )
            raise
        if chooser.down is not None:
            logger.warning(
                "%s is down: whether it has %r cannot be asked, so the new file is named %r, "
                "which none of its files can have",
                storage_label(chooser.down),
                name,
                chosen,
            )
        return chosen

    def _by_the_write_layer(
        self, write_layer: Storage, name: str, max_length: int | None
    ) -> str | frozenset[str]:
        """The write layer's choice, if it hides nothing; otherwise the names
        that turned out to be taken, so that they are not asked again."""
        if not self.shadow and self.served_elsewhere(name):  # or may be: a layer is down
            return frozenset({name})
        chosen = write_layer.get_available_name(name, max_length=max_length)
        if self.shadow or chosen == name or not self.served_elsewhere(chosen):
            return chosen
        return frozenset({name, chosen})

    def is_name_available(self, name: str, max_length: int | None = None) -> bool:
        """Whether a new file may take ``name``: free in every layer."""
        return self.availability(name, max_length) is True

    def availability(self, name: str, max_length: int | None = None) -> bool | Storage:
        """Whether ``name`` is free in every layer: ``True`` or ``False``, or
        the layer that is down when no layer that answered has it."""
        if max_length and len(name) > max_length:
            return False
        asks = self._free_asks
        tombstones = self.tombstones
        if tombstones is not None and name in tombstones:
            asks = self._hidden_asks
        free: bool | Storage = True
        for layer, breaker in asks:
            has = self._ask(layer, breaker, name)
            if has:
                return False
            if has is None:
                free = layer
        return free

    def served_elsewhere(self, name: str) -> bool:
        """Whether a layer besides the write layer serves ``name`` (or may: it
        is down), so that a new file of that name in the write layer would hide it."""
        write_layer = self.write_layer
        asks = self._asks
        tombstones = self.tombstones
        if tombstones is not None and name in tombstones:
            asks = asks[: self.write_index]  # they come back when it goes
        return any(
            layer is not write_layer and self._ask(layer, breaker, name) is not False
            for layer, breaker in asks
        )

    def _ask(self, layer: Storage, breaker: GuardedLayer | None, name: str) -> bool | None:
        """Whether ``layer`` has ``name``, or ``None`` if it is down (asked
        through its ``breaker``); its error names the layer (``notes``)."""
        try:
            return layer.exists(name) if breaker is None else breaker.has(name)
        except Exception as exc:
            note_layer(exc, self.stack, layer)
            raise

    def alternative_name(self, file_root: str, file_ext: str) -> str:
        alternative = self.proxied.get_alternative_name(file_root, file_ext)
        if alternative == f"{file_root}{file_ext}":
            # An overwriting write layer (allow_overwrite=True) offers the same
            # name again, which get_available_name would retry forever.
            alternative = Storage.get_alternative_name(self.proxied, file_root, file_ext)
        return alternative


def _cheap_first(asks: tuple[_Ask, ...], write_index: int | None) -> tuple[_Ask, ...]:
    """``asks`` with the write layer's (at ``write_index``, if among them) first."""
    if write_index is None or write_index >= len(asks):
        return asks
    return (asks[write_index], *asks[:write_index], *asks[write_index + 1 :])


def _breaker(layer: Storage, reader: Any, write_layer: Storage | None) -> GuardedLayer | None:
    """The reader a new name is asked of ``layer`` through: its circuit
    breaker under ``on_error="skip"``, but for the write layer, which a write
    never skips."""
    if isinstance(reader, GuardedLayer) and layer is not write_layer:
        return reader
    return None


def _names_like_django(storage: Storage) -> bool:
    """Whether ``storage`` (through its wrappers) names new files by Django's
    default rules (unless its ``allow_overwrite``, checked at each call, says
    otherwise)."""
    defaults: dict[str, tuple[Any, ...]] = {
        "get_available_name": (Storage.get_available_name,),
        "get_alternative_name": (
            Storage.get_alternative_name,
            FileSystemStorage.get_alternative_name,
        ),
        "is_name_available": (Storage.is_name_available, FileSystemStorage.is_name_available),
    }
    while is_wrapper(storage):
        if any(method in vars(type(storage)) for method in defaults):
            return False  # e.g. Logging, which records get_available_name
        storage = storage.__wrapped__  # type: ignore[attr-defined]  # a wrapper's
    cls = type(storage)
    return all(getattr(cls, method, None) in allowed for method, allowed in defaults.items())


def offline_name(file_root: str, file_ext: str) -> str:
    """A name that no file of a layer that is down can have, but by a chance of
    one in 2**96: what its files are named cannot be asked."""
    return f"{file_root}_offline_{secrets.token_hex(12)}{file_ext}"


class _NameChooser:
    """``self`` for Django's ``Storage.get_available_name``, for one name:
    "exists" means "not free for a new file" in the stack. Once a layer is
    down (``down``), the alternatives are offline names, free of it."""

    __slots__ = ("_alternative_name", "_availability", "_offline", "_taken", "down")

    def __init__(self, policy: NamePolicy, taken: frozenset[str] = frozenset()) -> None:
        self._availability = policy.availability
        self._alternative_name = policy.alternative_name
        self._taken = taken  # names known not to be free: not asked again
        self._offline = ""  # the last offline name made (its base name)
        self.down: Storage | None = None  # a layer found down

    def is_name_available(self, name: str, max_length: int | None = None) -> bool:
        if name in self._taken:
            return False
        free = self._availability(name, max_length)
        if isinstance(free, bool):
            return free
        if name.rpartition("/")[2] == self._offline:
            return True  # no file of the layer that is down has it
        self.down = free
        return False

    def get_alternative_name(self, file_root: str, file_ext: str) -> str:
        if self.down is None:
            return self._alternative_name(file_root, file_ext)
        self._offline = offline_name(file_root, file_ext)
        return self._offline
