"""The worked example of docs/python.md: the kernel of the real FeSe scan from Python.

    python3 bindings/python/examples/fese.py [tests/data/FeSe_topography.sxm] [positions.h5]

Reads the Nanonis .sxm with a small reader (below), extracts the kernel of the dI/dV
channel LIY_1_omega with the map engine, with defect positions estimated from the map,
and, when a qpik result file made by `qpik extract scan.sxm --defects-from Z -o fese.h5` is
given, with the positions found in the topography Z. Needs numpy (and h5py for the second).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

import qpik


def read_sxm(path):
    """Forward images of a Nanonis .sxm as {channel: (rows, cols) float64}, row 0 at the top
    of the scan frame (a scan that went up is flipped), and the pixel size in Angstrom."""
    raw = Path(path).read_bytes()
    end = raw.index(b":SCANIT_END:")
    header = raw[:end].decode("latin-1")
    data = raw[raw.index(b"\x1a\x04", end) + 2:]
    fields, key = {}, None
    for line in header.splitlines():
        if line.startswith(":") and line.endswith(":"):
            key = line.strip(":")
            fields[key] = []
        elif key:
            fields[key].append(line)
    cols, rows = (int(v) for v in fields["SCAN_PIXELS"][0].split())
    width_m = float(fields["SCAN_RANGE"][0].split()[0])
    big_endian = "MSBFIRST" in " ".join(fields.get("SCANIT_TYPE", ["MSBFIRST"]))
    up = fields.get("SCAN_DIR", ["down"])[0].strip() == "up"
    table = [r.split("\t") for r in fields["DATA_INFO"] if r.strip()]
    names = [c.strip() for c in table[0]]
    at = 0
    images = {}
    values = np.frombuffer(data, dtype=">f4" if big_endian else "<f4")
    for row in table[1:]:
        info = dict(zip(names, (c.strip() for c in row)))
        for direction in ["forward", "backward"] if info["Direction"] == "both" else ["forward"]:
            img = values[at:at + rows * cols].reshape(rows, cols).astype(np.float64)
            at += rows * cols
            if direction == "forward":
                images[info["Name"]] = img[::-1] if up else img
    return images, width_m / cols * 1e10


def main():
    root = Path(__file__).resolve().parents[3]
    sxm = sys.argv[1] if len(sys.argv) > 1 else root / "tests" / "data" / "FeSe_topography.sxm"
    images, pixel_a = read_sxm(sxm)
    liy = images["LIY_1_omega"]
    print(f"{sxm}: LIY_1_omega {liy.shape}, {pixel_a:.3f} A per pixel")

    ex = qpik.extract_map(liy, map__pixel_size_m=pixel_a * 1e-10, map__value_unit="A")
    print(f"positions from the map itself: {len(ex.positions)} defects, kernel "
          f"{ex.kernel.shape}, held-out R2 {ex.heldout_r2_mean:.3f}")

    if len(sys.argv) > 2:
        import h5py

        with h5py.File(sys.argv[2], "r") as f:
            found_in_z = f["positions"][...]
        ez = qpik.extract_map(liy, positions=found_in_z, map__pixel_size_m=pixel_a * 1e-10,
                              map__kernel_size=69)
        print(f"positions from Z: {len(ez.positions)} defects, kernel {ez.kernel.shape}, "
              f"held-out R2 {ez.heldout_r2_mean:.3f}")


if __name__ == "__main__":
    main()
