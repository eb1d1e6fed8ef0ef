"""``Caching``: the wrapper (``wrapper``), its read path through listings
(``reads``, ``listed_reader``), and its local copies of contents (``copies``)."""

from .wrapper import Caching

__all__ = ["Caching"]
