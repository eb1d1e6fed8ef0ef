"""``Proxy``: the wrapt proxy that every wrapper, reader and file proxy here is
built on.

It is ``wrapt.BaseObjectProxy`` (the C-backed proxy) with CPython's own
attribute lookup. wrapt's C proxy finds a proxy's own attributes with
``object.__getattribute__`` and hands every other name to its ``__getattr__``,
which reads it from the wrapped object. Because that ``__getattr__`` is a
method, CPython gives each Python subclass an attribute slot that calls the
class's ``__getattribute__`` through a Python-level call, on every read: a
method, a wrapper's state, a name forwarded to the storage. Naming
``object.__getattribute__`` here lets CPython take its own path for the same
two steps (its lookup, then ``__getattr__``): the same answers and errors,
2 to 5 times faster (``tests/test_proxy.py``). The proxy's ``__module__`` and
``__doc__`` are the wrapped object's, from the copies wrapt keeps of them
when it is given the object; wrapt's own lookup reads the object's at each
access, which differs only once ``__wrapped__`` is replaced (nothing here
does that) or the object's class changes them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import wrapt

__all__ = ["Proxy"]

if TYPE_CHECKING:
    Proxy = wrapt.BaseObjectProxy
else:

    class Proxy(wrapt.BaseObjectProxy):
        __getattribute__ = object.__getattribute__
