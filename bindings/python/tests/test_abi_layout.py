"""The ctypes copies of the C ABI (qpik._lib) against include/qpik.h (issue 20): a small C
program compiled against the header prints every struct's size, every field's offset and
the enum values the binding hard-codes; they must equal what ctypes computes."""

import ctypes
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from qpik import _lib

ROOT = Path(__file__).resolve().parents[3]  # bindings/python/tests/test_abi_layout.py
HEADER = ROOT / "include" / "qpik.h"

STRUCTS = sorted(
    (v for v in vars(_lib).values() if isinstance(v, type) and issubclass(v, ctypes.Structure)),
    key=lambda s: s.__name__,
)
# Constants of the binding and the header's names for them.
CONSTANTS = {
    "QPIK_ABI_VERSION": _lib.ABI_VERSION,
    "QPIK_MAX_DIMS": _lib.MAX_DIMS,
    "QPIK_F32": _lib.F32,
    "QPIK_F64": _lib.F64,
    "QPIK_U8": _lib.U8,
    **{f"QPIK_METHOD_{name.upper()}": value for value, name in _lib.EXTRACTION_METHODS.items()},
}


def expected():
    """Lines 'name size', 'name.field offset' and 'CONSTANT value' as ctypes sees them."""
    lines = []
    for s in STRUCTS:
        lines.append(f"{s.__name__} {ctypes.sizeof(s)}")
        lines += [f"{s.__name__}.{f[0]} {getattr(s, f[0]).offset}" for f in s._fields_]
    lines += [f"{k} {v}" for k, v in CONSTANTS.items()]
    return lines


def c_program():
    body = []
    for s in STRUCTS:
        n = s.__name__
        body.append(f'printf("{n} %zu\\n", sizeof({n}));')
        body += [f'printf("{n}.{f[0]} %zu\\n", offsetof({n}, {f[0]}));' for f in s._fields_]
    body += [f'printf("{k} %lld\\n", (long long){k});' for k in CONSTANTS]
    return (
        "#include <stddef.h>\n#include <stdio.h>\n#include \"qpik.h\"\n"
        "int main(void) {\n    " + "\n    ".join(body) + "\n    return 0;\n}\n"
    )


def test_structs_and_constants_match_the_header(tmp_path):
    cc = os.environ.get("CC") or shutil.which("cc") or shutil.which("gcc")
    if not HEADER.is_file() or not cc:
        pytest.skip(f"needs the repository's include/qpik.h and a C compiler (cc: {cc})")
    src, exe = tmp_path / "layout.c", tmp_path / "layout"
    src.write_text(c_program())
    built = subprocess.run(
        [cc, "-std=c11", "-Wall", "-Werror", f"-I{HEADER.parent}", str(src), "-o", str(exe)],
        capture_output=True,
        text=True,
    )
    # A field or constant the header lacks fails here, named in the compiler's message.
    assert built.returncode == 0, built.stderr
    got = subprocess.run([str(exe)], check=True, capture_output=True, text=True).stdout.split("\n")
    want = expected()
    assert [g for g in got if g] == want, "\n".join(
        f"header {g!r} != ctypes {w!r}" for g, w in zip(got, want) if g != w
    )
    assert any(line.startswith("qpik_extraction_info.excluded_pixels ") for line in want)


def header_fields(name):
    """The member names of ``typedef struct NAME { ... }`` in the header, in order."""
    body = re.search(r"typedef struct %s \{(.*?)\} %s;" % (name, name), HEADER.read_text(), re.S)
    assert body, f"include/qpik.h has no struct {name}"
    code = re.sub(r"/\*.*?\*/", "", body.group(1), flags=re.S)
    return re.findall(r"(\w+)(?:\[\w+\])?;", code)


def test_every_header_field_is_in_the_binding():
    # Offsets alone miss a field left out where the padding hides it (a uint32 before an
    # int64): the names must be the header's, in its order.
    if not HEADER.is_file():
        pytest.skip("needs the repository's include/qpik.h")
    for s in STRUCTS:
        assert [f[0] for f in s._fields_] == header_fields(s.__name__), s.__name__
