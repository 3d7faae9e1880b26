"""Objects kept per thread, such as HTTP sessions whose connections stay open between calls."""

import os
import threading


class PerThread:
    """One object per thread and key, made by `make(key)` on first use.

    A threaded web worker's request threads each keep their own (an HTTP session is not
    thread-safe). A forked child starts with none: a worker must not share its parent's sockets.
    """

    def __init__(self, make):
        self._make = make
        self._local = threading.local()
        os.register_at_fork(after_in_child=self._forget)

    def _forget(self):
        self._local = threading.local()

    def get(self, key=None):
        """This thread's object for key, made now if this thread has none for that key."""
        kept = getattr(self._local, "objects", None)
        if kept is None:
            kept = self._local.objects = {}
        if key not in kept:
            kept[key] = self._make(key)
        return kept[key]
