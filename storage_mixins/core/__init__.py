"""The core: what every layer above builds on, and nothing else.

The proxy and the wrapper base, what a stack is and how to walk it
(``stack``), the names a stack is asked about (``names``), the errors the
wrappers raise, file modes and file proxies, turning settings into storages
(``resolve``, ``deconstruct``), and the hook points that code above hooks
into (``hooks``). It imports no other part of the package.
"""
