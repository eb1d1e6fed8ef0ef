"""``HTTPStorage``: production's media read over HTTP, with no credentials.

``storage`` is the storage; ``client`` its HTTP client (one urllib3 pool per
storage: ``GET`` and ``HEAD`` only, timeouts, retries, redirects, each
request reported to ``core.hooks.backend_request``); ``answers`` what a
status means (there, missing, an error); ``facts`` what an answer says of a
file, reused for a moment; ``files`` the streamed, ranged reads of
``open()``; ``listing`` finding many names at once (HTTP lists nothing).

Nothing here imports urllib3 at import time: it is the ``http`` extra.
"""

from .listing import HTTPLister
from .storage import HTTPStorage, is_http

__all__ = ["HTTPLister", "HTTPStorage", "is_http"]
