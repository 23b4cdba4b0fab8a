"""Python progress callables behind qpik_progress_fn, with cancellation.

qpik calls the callback on the thread that made the call. A Python exception must not
unwind through C, so the trampoline catches it, asks qpik to cancel, and
:meth:`Progress.run` re-raises it once the C call has returned.

Ctrl-C: Python runs signal handlers only while Python code runs, i.e. inside the callback,
and the default handler would raise KeyboardInterrupt on entry to the trampoline, before
its ``try``, where ctypes would print and drop it. So, on the main thread, ``run`` swaps in
a handler that only records the interrupt; the trampoline then cancels and ``run`` raises
KeyboardInterrupt after qpik has cleaned up.
"""

from __future__ import annotations

import signal
import threading

from . import _errors, _lib


class Progress:
    """Wraps ``callback(stage, done, total, message) -> cancel?`` (or None) for one call."""

    def __init__(self, callback):
        if callback is not None and not callable(callback):
            raise TypeError("progress must be callable(stage, done, total, message) or None")
        self.callback = callback
        self.exception = None
        self.interrupted = False
        # The CFUNCTYPE object must outlive the C call: it is an attribute of self, and
        # self is referenced by run() until the call returns.
        self.c_callback = _lib.PROGRESS_FN(self._trampoline)

    def _trampoline(self, _user_data, stage, done, total, message):
        try:
            if self.exception is not None or self.interrupted:
                return 1
            if self.callback is None:
                return 0  # still installed, so that Ctrl-C can cancel
            stop = self.callback(
                stage.decode("utf-8", "replace") if stage else "",
                int(done),
                int(total),
                message.decode("utf-8", "replace") if message else "",
            )
            return 1 if stop or self.interrupted else 0
        except BaseException as e:  # noqa: BLE001 - re-raised after the C call returns
            self.exception = e
            return 1

    def _on_sigint(self, signum, frame):
        self.interrupted = True

    def run(self, c_function, *args):
        """Call ``c_function(*args, callback, NULL)``; re-raise a callback exception (or
        KeyboardInterrupt), else raise the QpikError of a failed status."""
        previous = None
        if (
            threading.current_thread() is threading.main_thread()
            and signal.getsignal(signal.SIGINT) is signal.default_int_handler
        ):
            previous = signal.signal(signal.SIGINT, self._on_sigint)
        try:
            status = c_function(*args, self.c_callback, None)
        finally:
            if previous is not None:
                signal.signal(signal.SIGINT, previous)
        if self.exception is not None:
            e, self.exception = self.exception, None
            raise e
        if self.interrupted:
            raise KeyboardInterrupt
        _errors.check(status)
