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
it has the name (that copy would come back when the tombstone goes). Names are
chosen for a write, and writes never skip a layer that is down: every layer is
asked directly, not through its circuit breaker.

Whether a name is free is asked of the write layer first, then of the other
layers in order: the answer is the same in any order, and the write layer (the
local disk, in the design's stack) rules out a name it has without a request
to production. A second upload of ``photo.jpg`` then costs production one
request, about the name chosen, as a new name does.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.core.files.storage import FileSystemStorage, Storage

from ...core.stack import is_wrapper

if TYPE_CHECKING:
    from .tombstones import Tombstones

__all__ = ["NamePolicy"]


class NamePolicy:
    """Chooses the names of new files in a stack of ``layers`` whose write layer
    is at ``write_index`` (``None``: a read-only stack), by the rule above.

    ``proxied`` is the layer the stack proxies, whose ``get_alternative_name``
    makes alternatives; ``tombstones`` the stack's, if any.
    """

    __slots__ = ("_asks_the_write_layer", "_chooser", "_hidden_asked", "_write_layer_first",
                 "layers", "proxied", "shadow", "tombstones", "write_index",
                 "write_layer")  # fmt: skip

    def __init__(
        self,
        layers: tuple[Storage, ...],
        write_index: int | None,
        *,
        proxied: Storage,
        shadow: bool = False,
        tombstones: Tombstones | None = None,
    ) -> None:
        self.layers = layers
        self.write_index = write_index
        self.write_layer = None if write_index is None else layers[write_index]
        self.proxied = proxied
        self.shadow = shadow
        self.tombstones = tombstones
        # The layers in the order they are asked whether a name is free: the
        # write layer first (see above); for a name hidden by a tombstone, only
        # the write layer and the layers before it.
        self._write_layer_first = _cheap_first(layers, write_index)
        upto = len(layers) if write_index is None else write_index + 1
        self._hidden_asked = _cheap_first(layers[:upto], write_index)
        self._chooser = _NameChooser(self)
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
        # (before Django 5.1 it asks exists(); from 5.1, is_name_available()).
        chooser = _NameChooser(self, taken) if taken else self._chooser
        # The chooser stands in for a Storage: it answers what the algorithm asks.
        return Storage.get_available_name(chooser, name, max_length=max_length)  # type: ignore[arg-type]

    def _by_the_write_layer(
        self, write_layer: Storage, name: str, max_length: int | None
    ) -> str | frozenset[str]:
        """The write layer's choice, if it hides nothing; otherwise the names
        that turned out to be taken, so that they are not asked again."""
        if not self.shadow and self.served_elsewhere(name):
            return frozenset({name})
        chosen = write_layer.get_available_name(name, max_length=max_length)
        if self.shadow or chosen == name or not self.served_elsewhere(chosen):
            return chosen
        return frozenset({name, chosen})

    def is_name_available(self, name: str, max_length: int | None = None) -> bool:
        """Whether a new file may take ``name``: free in every layer."""
        if max_length and len(name) > max_length:
            return False
        tombstones = self.tombstones
        if tombstones is not None and name in tombstones:
            return not any(layer.exists(name) for layer in self._hidden_asked)
        for layer in self._write_layer_first:  # noqa: SIM110 - faster than any(), on every save
            if layer.exists(name):
                return False
        return True

    def served_elsewhere(self, name: str) -> bool:
        """Whether a layer besides the write layer serves ``name``, so that a
        new file of that name in the write layer would hide it."""
        write_layer = self.write_layer
        layers = self.layers
        tombstones = self.tombstones
        if tombstones is not None and name in tombstones:
            layers = layers[: self.write_index]  # they come back when it goes
        return any(layer is not write_layer and layer.exists(name) for layer in layers)

    def alternative_name(self, file_root: str, file_ext: str) -> str:
        alternative = self.proxied.get_alternative_name(file_root, file_ext)
        if alternative == f"{file_root}{file_ext}":
            # An overwriting write layer (allow_overwrite=True) offers the same
            # name again, which get_available_name would retry forever.
            alternative = Storage.get_alternative_name(self.proxied, file_root, file_ext)
        return alternative


def _cheap_first(layers: tuple[Storage, ...], write_index: int | None) -> tuple[Storage, ...]:
    """``layers`` with the one at ``write_index`` (if it is among them) first."""
    if write_index is None or write_index >= len(layers):
        return layers
    return (layers[write_index], *layers[:write_index], *layers[write_index + 1 :])


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
    }
    if hasattr(Storage, "is_name_available"):  # Django 5.1+; before, it asks exists()
        defaults["is_name_available"] = (
            Storage.is_name_available,
            FileSystemStorage.is_name_available,
        )
    while is_wrapper(storage):
        if any(method in vars(type(storage)) for method in defaults):
            return False  # e.g. Logging, which records get_available_name
        storage = storage.__wrapped__  # type: ignore[attr-defined]  # a wrapper's
    cls = type(storage)
    return all(getattr(cls, method, None) in allowed for method, allowed in defaults.items())


class _NameChooser:
    """``self`` for Django's ``Storage.get_available_name``: "exists" means
    "not free for a new file" in the stack."""

    __slots__ = ("_is_name_available", "_taken", "get_alternative_name")

    def __init__(self, policy: NamePolicy, taken: frozenset[str] = frozenset()) -> None:
        self._is_name_available = policy.is_name_available
        self._taken = taken  # names known not to be free: not asked again
        self.get_alternative_name = policy.alternative_name

    def is_name_available(self, name: str, max_length: int | None = None) -> bool:
        if name in self._taken:  # Django 5.1 and later
            return False
        return self._is_name_available(name, max_length)

    def exists(self, name: str) -> bool:  # before Django 5.1
        return not self.is_name_available(name)
