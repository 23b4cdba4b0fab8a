"""Keyword arguments as a qpik_options object; C strings in and out."""

from __future__ import annotations

import ctypes
import os
import re
from collections import namedtuple

import numpy as np

from . import _errors, _lib
from ._errors import Status


def cstr(value, name):
    """``value`` (str or os.PathLike) as NUL-terminated UTF-8 bytes for C.

    Embedded NULs would silently cut the string in C, so they are refused here.
    """
    if isinstance(value, os.PathLike):
        value = os.fspath(value)
    if isinstance(value, str):
        value = os.fsencode(value) if name == "path" else value.encode("utf-8")
    if not isinstance(value, bytes):
        raise TypeError(f"{name} must be a str, not {type(value).__name__}")
    if b"\0" in value:
        raise _errors.error(Status.QPIK_ERR_INVALID_ARGUMENT, f"{name} contains a NUL character")
    return value


def path_arg(p):
    """A file path (str, bytes or os.PathLike) as bytes for C."""
    return cstr(os.fspath(p), "path")


def fetch_string(call, *args):
    """Run a ``buf, buf_len, needed`` function (size query, then the real call) -> str."""
    lib_check = _errors.check
    needed = ctypes.c_size_t(0)
    for _ in range(4):  # the text could change between the calls (it never does today)
        status = call(*args, None, 0, ctypes.byref(needed))
        if status not in (Status.QPIK_OK, Status.QPIK_ERR_BUFFER_TOO_SMALL):
            lib_check(status)
        buf = ctypes.create_string_buffer(max(needed.value, 1))
        status = call(*args, buf, len(buf), ctypes.byref(needed))
        if status != Status.QPIK_ERR_BUFFER_TOO_SMALL:
            lib_check(status)
            return buf.value.decode("utf-8", "replace")
    lib_check(status)


def option_text(key, value):
    """A Python value as qpik option text: bools as true/false, sizes as ROWSxCOLS,
    other sequences (and NumPy arrays) comma-separated, paths as paths, everything else with ``str``."""
    if isinstance(value, (bool, np.bool_)):
        return "true" if value else "false"
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    if isinstance(value, np.ndarray):
        value = value.tolist()  # e.g. map__energies_ev=np.linspace(...)
    if isinstance(value, (tuple, list)):
        sep = "x" if key == "size" else ","
        return sep.join(str(v) for v in value)
    return str(value)


def key_of(keyword):
    """Keyword argument name -> option key: ``defects__count_max`` -> ``defects.count_max``."""
    return keyword.replace("__", ".")


class Options:
    """A ``qpik_options`` built from keyword arguments (None values are skipped, meaning
    "the default"); use as a context manager, pass ``.handle`` to C."""

    def __init__(self, options):
        lib = _lib.lib()
        self.handle = ctypes.c_void_p()
        _errors.check(lib.qpik_options_new(ctypes.byref(self.handle)))
        try:
            for keyword, value in options.items():
                if value is None:
                    continue
                key = key_of(keyword)
                text = option_text(key, value)
                status = lib.qpik_options_set(
                    self.handle, cstr(key, "option key"), cstr(text, "option value")
                )
                if status != Status.QPIK_OK:
                    msg = lib.qpik_last_error().decode("utf-8", "replace")
                    raise _errors.error(status, _pythonic(msg, keyword))
        except BaseException:
            self.close()
            raise

    def close(self):
        if self.handle:
            _lib.lib().qpik_options_free(self.handle)
            self.handle = ctypes.c_void_p()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def _pythonic(message, keyword):
    """Add the keyword-argument spelling to a message that names option keys."""
    hint = re.search(r"did you mean '([^']+)'\?", message)
    if hint:
        return f"{message} (keyword argument {hint.group(1).replace('.', '__')}=...)"
    if "__" in keyword:
        return f"{message} (from keyword argument {keyword}=...)"
    return message


OptionInfo = namedtuple("OptionInfo", ["key", "keyword", "default", "help"])
OptionInfo.__doc__ = """One option: its key, the Python keyword for it, its default and help."""


def describe():
    """Every option as OptionInfo(key, keyword, default, help)."""
    text = fetch_string(_lib.lib().qpik_options_describe)
    out = []
    for line in text.splitlines():
        parts = line.split("\t")
        if len(parts) == 3:
            out.append(OptionInfo(parts[0], parts[0].replace(".", "__"), parts[1], parts[2]))
    return out
