"""Status codes and the exception that carries them."""

from __future__ import annotations

import enum

from . import _lib


class Status(enum.IntEnum):
    """``qpik_status`` values (fixed forever in the C ABI; new ones are only appended)."""

    QPIK_OK = 0
    QPIK_ERR_NULL = 1
    QPIK_ERR_INVALID_ARGUMENT = 2
    QPIK_ERR_SHAPE = 3
    QPIK_ERR_DTYPE = 4
    QPIK_ERR_NOT_FINITE = 5
    QPIK_ERR_UNKNOWN_OPTION = 6
    QPIK_ERR_OPTION_VALUE = 7
    QPIK_ERR_BUFFER_TOO_SMALL = 8
    QPIK_ERR_IO = 9
    QPIK_ERR_FORMAT = 10
    QPIK_ERR_NOT_FOUND = 11
    QPIK_ERR_UNAVAILABLE = 12
    QPIK_ERR_CANCELLED = 13
    QPIK_ERR_INTERNAL = 14
    QPIK_ERR_MEMORY_BUDGET = 15

    def __str__(self):
        return self.name


class QpikError(Exception):
    """A qpik call failed.

    Attributes:
        status: the :class:`Status` (an ``int`` for a status newer than this binding).
        status_name: its C name, e.g. ``"QPIK_ERR_SHAPE"``.
        message: the library's message (``qpik_last_error``), which names the argument.

    Subclasses by status (also catchable as the matching built-in exception):
    :class:`ShapeError`, :class:`DtypeError`, :class:`NotFiniteError`,
    :class:`InvalidArgumentError`, :class:`OptionError` (unknown key or bad value),
    :class:`QpikIOError`, :class:`FormatError`, :class:`NotFoundError`,
    :class:`UnavailableError`, :class:`CancelledError`, :class:`InternalError`,
    :class:`MemoryBudgetError`.
    """

    def __init__(self, status, message):
        try:
            status = Status(status)
        except ValueError:
            status = int(status)
        self.status = status
        self.status_name = status_name(status)
        self.message = message
        super().__init__(f"{message} [{self.status_name}]")

    def __reduce__(self):  # picklable (multiprocessing) despite the two-argument __init__
        return (self.__class__, (int(self.status), self.message))


class InvalidArgumentError(QpikError, ValueError):
    """QPIK_ERR_INVALID_ARGUMENT or QPIK_ERR_NULL: an argument is out of range or inconsistent."""


class ShapeError(QpikError, ValueError):
    """QPIK_ERR_SHAPE: an array's shape or layout does not fit the call."""


class DtypeError(QpikError, TypeError):
    """QPIK_ERR_DTYPE: an array's element type is not accepted."""


class NotFiniteError(QpikError, ValueError):
    """QPIK_ERR_NOT_FINITE: input data contain NaN or infinity."""


class OptionError(QpikError, ValueError):
    """QPIK_ERR_UNKNOWN_OPTION or QPIK_ERR_OPTION_VALUE: a keyword option is wrong."""


class QpikIOError(QpikError, OSError):
    """QPIK_ERR_IO: a file could not be read or written."""


class FormatError(QpikError, ValueError):
    """QPIK_ERR_FORMAT: a file or byte buffer is not a valid qpik model or dataset."""


class NotFoundError(QpikError, LookupError):
    """QPIK_ERR_NOT_FOUND: a named thing (catalog kernel, index) does not exist."""


class UnavailableError(QpikError, RuntimeError):
    """QPIK_ERR_UNAVAILABLE: this build or machine lacks what the call needs."""


class CancelledError(QpikError):
    """QPIK_ERR_CANCELLED: long work stopped because the progress callback asked."""


class InternalError(QpikError, RuntimeError):
    """QPIK_ERR_INTERNAL: a bug inside qpik (caught; the process is intact)."""


class MemoryBudgetError(QpikError, MemoryError):
    """QPIK_ERR_MEMORY_BUDGET: the request needs more memory than ``memory_budget_bytes``
    allows (nothing was allocated); the message names the size and the budget. Also a GPU
    that ran out of memory (CUDA builds), as the message says."""


for _cls in (QpikError, InvalidArgumentError, ShapeError, DtypeError, NotFiniteError,
             OptionError, QpikIOError, FormatError, NotFoundError, UnavailableError,
             CancelledError, InternalError, MemoryBudgetError, Status):
    _cls.__module__ = "qpik"  # shown as qpik.ShapeError in tracebacks

_CLASSES = {
    Status.QPIK_ERR_NULL: InvalidArgumentError,
    Status.QPIK_ERR_INVALID_ARGUMENT: InvalidArgumentError,
    Status.QPIK_ERR_SHAPE: ShapeError,
    Status.QPIK_ERR_DTYPE: DtypeError,
    Status.QPIK_ERR_NOT_FINITE: NotFiniteError,
    Status.QPIK_ERR_UNKNOWN_OPTION: OptionError,
    Status.QPIK_ERR_OPTION_VALUE: OptionError,
    Status.QPIK_ERR_BUFFER_TOO_SMALL: InvalidArgumentError,
    Status.QPIK_ERR_IO: QpikIOError,
    Status.QPIK_ERR_FORMAT: FormatError,
    Status.QPIK_ERR_NOT_FOUND: NotFoundError,
    Status.QPIK_ERR_UNAVAILABLE: UnavailableError,
    Status.QPIK_ERR_CANCELLED: CancelledError,
    Status.QPIK_ERR_INTERNAL: InternalError,
    Status.QPIK_ERR_MEMORY_BUDGET: MemoryBudgetError,
}


def status_name(status):
    """The C name of a status value (``"QPIK_ERR_SHAPE"``; ``"unknown status"`` if unknown)."""
    if isinstance(status, Status):
        return status.name
    return _lib.lib().qpik_status_name(int(status)).decode("utf-8", "replace")


def error(status, message):
    """The QpikError subclass for ``status``, carrying ``message``."""
    try:
        cls = _CLASSES.get(Status(status), QpikError)
    except ValueError:
        cls = QpikError
    return cls(status, message)


def check(status):
    """Raise the QpikError for a failed call's status, with the thread's last error."""
    if status != 0:
        msg = _lib.lib().qpik_last_error()
        raise error(status, msg.decode("utf-8", "replace") if msg else "")
