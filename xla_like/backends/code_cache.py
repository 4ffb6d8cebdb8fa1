"""An in-memory cache of compiled code, bounded in bytes.

A backend keeps what it compiled here under a key of the program, so that the same program
jitted again, or traced by another wrapper, is not compiled again. Each entry is charged the
bytes the backend says it holds; when the total passes the cap (read at each insertion: it is a
setting), the least recently used entries go. Dropping an entry only drops the cache's
reference: an executable still using the code keeps it alive, and it is freed with the last one.
"""
from __future__ import annotations

import collections
import threading


class CodeCache:
    """{key: value} with least-recently-used eviction past `max_bytes()` bytes in all."""

    def __init__(self, max_bytes):
        self._max_bytes = max_bytes
        self._lock = threading.Lock()
        self._entries: collections.OrderedDict = collections.OrderedDict()  # key: (value, bytes)
        self.nbytes = 0
        self.evictions = 0

    def get(self, key):
        with self._lock:
            hit = self._entries.get(key)
            if hit is None:
                return None
            self._entries.move_to_end(key)
            return hit[0]

    def put(self, key, value, nbytes: int):
        """Keep `value` (charged `nbytes`), then evict down to the cap, `value` itself too if
        it alone is larger."""
        dropped = []
        with self._lock:
            old = self._entries.pop(key, None)
            if old is not None:
                self.nbytes -= old[1]
                dropped.append(old)
            self._entries[key] = (value, nbytes)
            self.nbytes += nbytes
            cap = self._max_bytes()
            while self.nbytes > cap and self._entries:
                _, old = self._entries.popitem(last=False)
                self.nbytes -= old[1]
                self.evictions += 1
                dropped.append(old)
        # Freed here, outside the lock: freeing native code may take other locks.
        dropped.clear()

    def clear(self):
        with self._lock:
            dropped = list(self._entries.values())
            self._entries.clear()
            self.nbytes = 0
        dropped.clear()

    def __len__(self):
        return len(self._entries)
