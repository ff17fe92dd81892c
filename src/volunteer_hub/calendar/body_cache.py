"""Feed bodies kept in the web process, keyed by their ETag.

A unit feed is a megabyte, and calendar apps fetch it all day; reading it from
PostgreSQL every time costs several times what sending it does. ARCHITECTURE keeps
state out of web processes; this is a cache, not state, because nothing it holds can be
wrong or stale:

- The key is the feed's ETag, the SHA-256 of the stored bytes. Every request still
  reads the feed's row (revoked? which ETag is current?) from the database, and only
  then looks here; a rebuilt feed has a new ETag, and its old body ages out unused.
- Losing it (a restart, another worker, another host) costs one database read.

It is bounded in bytes (``FEED_BODY_CACHE_BYTES``, per process; 0 turns it off) and
evicts the least recently served body first. Bodies larger than the bound are not kept.
"""

from __future__ import annotations

import threading

from cachetools import LRUCache
from flask import current_app

EXTENSION_KEY = "volunteer_hub.feed_bodies"


class FeedBodyCache:
    def __init__(self, max_bytes: int):
        self.max_bytes = max(0, max_bytes)
        self._bodies: LRUCache[str, bytes] = LRUCache(maxsize=self.max_bytes, getsizeof=len)
        # gunicorn's sync workers serve one request at a time, threaded servers do not.
        self._lock = threading.Lock()

    def get(self, etag: str) -> bytes | None:
        with self._lock:
            return self._bodies.get(etag)

    def put(self, etag: str, body: bytes) -> None:
        if not self.max_bytes or len(body) > self.max_bytes:
            return
        with self._lock:
            self._bodies[etag] = body

    @property
    def size(self) -> int:
        """Bytes held now."""
        return self._bodies.currsize


def feed_bodies() -> FeedBodyCache:
    """The current app's cache, made on first use (after the app's config is final)."""
    extensions = current_app.extensions
    cache = extensions.get(EXTENSION_KEY)
    if cache is None:
        cache = extensions.setdefault(
            EXTENSION_KEY, FeedBodyCache(current_app.config["FEED_BODY_CACHE_BYTES"])
        )
    return cache
