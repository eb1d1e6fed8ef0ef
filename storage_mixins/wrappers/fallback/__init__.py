"""``Fallback``: the wrapper (``wrapper``), how reads find the layer that
answers (``routing``), where writes go (``writes``), the names of new files
(``naming``), absolute paths, the root and local paths (``paths``),
tombstones (``tombstones``) and layers that are down (``failover``)."""

from .wrapper import Fallback

__all__ = ["Fallback"]
