"""The lifetime of one qpik handle, shared by Kernel, Model and Dataset."""

from __future__ import annotations

import weakref


class Handle:
    """Owns a C handle: freed by :meth:`close`, at the end of a ``with`` block, or when the
    object is garbage-collected; use after close raises ValueError."""

    _what = "handle"

    def _own(self, handle, free):
        self._handle = handle
        self._free = weakref.finalize(self, free, handle)

    def _live(self):
        if not self._free.alive:
            raise ValueError(f"the {self._what} is closed")
        return self._handle

    def close(self):
        """Free the C object now (later use raises ValueError)."""
        self._free()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
