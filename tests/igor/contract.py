#!/usr/bin/python3
"""The Igor procedure's file contract, tested without Igor (plugins/igor/QPI_Extract.ipf).

Igor cannot run here, so this script produces exactly the bytes the procedure writes and
reads exactly what it reads, following the procedure's own functions step by step:

- QPIK_NpyDescr's table (Igor number type -> .npy dtype) is parsed from the .ipf itself;
  QPIK_NpyHeader's dict text and padding, QPIK_WriteNpy's byte sequence, QPIK_MapForNpy's
  layer-first copy, QPIK_CommandLine and QPIK_Script are mirrored line by line (a change in
  the .ipf's literal text that this mirror does not follow fails the literal checks).
- An Igor wave is modelled as a NumPy array indexed like the wave, w[p][q][r], whose memory
  is column-major: its bytes are w.tobytes(order="F").

Checks, each against an independent computation:
1. numpy.load reads every Igor number type's bytes back to the wave's logical values.
2. The qpik CLI, run through the procedure's script on those bytes (2-D float32 and int16
   maps, a uint8 mask wave, a positions wave, a 3-D stack), finds the same kernel as on the
   same values saved by numpy in C order, and that kernel is the true anisotropic kernel,
   not its transpose (Pearson against both).
3. The result file holds every dataset and attribute the procedure reads, with the shapes
   it expects; the procedure's reordering (both ways Igor may lay out a C-order dataset)
   gives kernel[i][j] = kernels[0, 0, i, j] and picks the right way.
4. The Igor 8 route (kernels as C-order .npy, QPIK_ReadNpy) gives the same kernel.
5. A failing run leaves a non-zero status and qpik's message in the log.

Usage: /usr/bin/python3 tests/igor/contract.py [path/to/qpik]   (needs numpy and h5py)
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import h5py
import numpy as np

ROOT = Path(__file__).resolve().parents[2]
IPF = ROOT / "plugins" / "igor" / "QPI_Extract.ipf"
QPIK = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "target" / "release" / "qpik"

SOURCE = IPF.read_text(encoding="utf-8")
checks = 0


def check(cond, what):
    global checks
    if not cond:
        raise AssertionError(what)
    checks += 1


# ---------------------------------------------------------------------------------------
# The procedure's writer, mirrored


def descr_table():
    """QPIK_NpyDescr's switch, parsed from the .ipf: {igor type: npy descr}."""
    body = SOURCE.split("Function/S QPIK_NpyDescr", 1)[1].split("\nEnd", 1)[0]
    pairs = re.findall(r'case (0x[0-9A-Fa-f]+):\s*\n\s*return "([^"]+)"', body)
    return {int(t, 16): d for t, d in pairs}


DESCR = descr_table()
# Igor's WaveType codes (XOP Toolkit's NT_* constants): what the table must cover.
IGOR_TYPES = {
    0x02: np.float32,
    0x04: np.float64,
    0x08: np.int8,
    0x48: np.uint8,
    0x10: np.int16,
    0x50: np.uint16,
    0x20: np.int32,
    0x60: np.uint32,
    0x80: np.int64,
    0xC0: np.uint64,
}


def igor_type(dtype):
    for t, d in IGOR_TYPES.items():
        if np.dtype(d) == np.dtype(dtype):
            return t
    raise ValueError(dtype)


def npy_shape(w):
    """QPIK_NpyShape."""
    if w.ndim == 1:
        return f"({w.shape[0]},)"
    return "(" + ", ".join(str(n) for n in w.shape) + ")"


def npy_header(w):
    """QPIK_NpyHeader: the dict, spaces to a multiple of 64 bytes with the 10 before it, \\n."""
    d = "{'descr': '" + DESCR[igor_type(w.dtype)] + "', 'fortran_order': True, 'shape': "
    d += npy_shape(w) + ", }"
    used = 10 + len(d) + 1
    pad = (64 - used % 64) % 64
    return d + " " * pad + "\n"


def igor_npy_bytes(w):
    """QPIK_WriteNpy: 0x93, "NUMPY", 1, 0, header length (u16 LE), header, the wave's
    column-major bytes little-endian (FBinWrite/B=3)."""
    header = npy_header(w).encode("ascii")
    le = w.dtype.newbyteorder("<")
    out = bytes([0x93]) + b"NUMPY" + bytes([1, 0]) + len(header).to_bytes(2, "little")
    return out + header + w.astype(le).tobytes(order="F")


def map_for_npy(w):
    """QPIK_MapForNpy: a 3-D wave [P][Q][R] copied to [R][P][Q] (stack = map[q][r][p])."""
    if w.ndim != 3:
        return w
    stack = np.empty((w.shape[2], w.shape[0], w.shape[1]), dtype=w.dtype)
    for p in range(stack.shape[0]):
        stack[p] = w[:, :, p]
    return stack


def command_line(program, map_path, defects_flag, defects_path, kernel_size, symmetry, out):
    """QPIK_CommandLine (types 1, not blind, no pixel size: the map has no length unit)."""
    cmd = f'"{program}" extract "{map_path}"'
    if defects_flag:
        cmd += f' {defects_flag} "{defects_path}"'
    if kernel_size > 0:
        cmd += f" --kernel-size {kernel_size}"
    cmd += f" --symmetry {symmetry}"
    return cmd + f' -o "{out}" --json'


def script(cmd, log, status):
    """QPIK_Script, the macOS (sh) form."""
    return f'#!/bin/sh\n{cmd} > "{log}" 2>&1\necho $? > "{status}"\n'


def run_like_igor(tmp, name, wave, defects=None, defects_flag="", out_name="result.h5"):
    """QPIK_Run: map.npy (and defects.npy), run.sh, run; returns (status, log, out path)."""
    d = tmp / name
    d.mkdir()
    (d / "map.npy").write_bytes(igor_npy_bytes(map_for_npy(wave)))
    if defects is not None:
        (d / "defects.npy").write_bytes(igor_npy_bytes(defects))
    out = d / out_name
    cmd = command_line(QPIK, d / "map.npy", defects_flag, d / "defects.npy", 21, "none", out)
    (d / "run.sh").write_text(script(cmd, d / "log.txt", d / "status.txt"))
    subprocess.run(["/bin/sh", str(d / "run.sh")], check=False)
    status = (d / "status.txt").read_text().strip()
    return int(status), (d / "log.txt").read_text(), out


def run_numpy(tmp, name, image, positions):
    """The independent route: numpy's own C-order .npy and a positions text file."""
    d = tmp / name
    d.mkdir()
    np.save(d / "map.npy", np.ascontiguousarray(image))
    np.savetxt(d / "positions.txt", positions, fmt="%.6f", delimiter=", ")
    out = d / "result.h5"
    subprocess.run(
        [str(QPIK), "extract", str(d / "map.npy"), "--positions", str(d / "positions.txt"),
         "--kernel-size", "21", "--symmetry", "none", "-o", str(out), "--json"],
        check=True, capture_output=True,
    )
    return out


# ---------------------------------------------------------------------------------------
# The procedure's reader, mirrored


def igor_load(dataset, kept):
    """What HDF5LoadData may give for a C-order dataset: the same indices (kept), or the
    dimensions reversed over the same memory (the transpose of the logical array)."""
    a = np.asarray(dataset)
    return a if kept else a.T


def dim(w, i):
    return w.shape[i] if i < w.ndim else 1


def kept_order(kr, energies):
    """KeptOrder."""
    return dim(kr, 1) == energies and dim(kr, 2) == dim(kr, 3)


def load_result_h5(path, map_shape):
    """LoadResultH5 for both layouts; returns the waves of the kept one after checking the
    reversed one gives the same."""
    e = map_shape[2] if len(map_shape) == 3 else 1
    results = []
    with h5py.File(path, "r") as f:
        for layout in (True, False):
            kr = igor_load(f["kernels"], layout)
            sr = igor_load(f["kernel_std"], layout)
            pr = igor_load(f["positions"], layout)
            ar = igor_load(f["amplitudes"], layout)
            rr = igor_load(f["residual"], layout)
            kept = kept_order(kr, e)
            check(kept == layout, f"KeptOrder picks the {'kept' if layout else 'reversed'} layout")
            t = dim(kr, 0) if kept else dim(kr, 3)
            ks = dim(kr, 3) if kept else dim(kr, 0)
            kernel = np.empty((ks, ks, e, t), np.float32)
            std = np.empty_like(kernel)
            for p, q, r, s in np.ndindex(kernel.shape):
                kernel[p, q, r, s] = kr[s, r, p, q] if kept else kr[q, p, r, s]
                std[p, q, r, s] = sr[s, r, p, q] if kept else sr[q, p, r, s]
            n = f["types"].shape[0]
            positions = np.array([[pr[p, q] if kept else pr[q, p] for q in range(2)]
                                  for p in range(n)])
            amplitudes = np.array([[ar[p, q] if kept else ar[q, p] for q in range(e)]
                                   for p in range(n)])
            h, w = map_shape[0], map_shape[1]
            residual = np.empty((h, w, e), np.float32)
            for p, q, r in np.ndindex(residual.shape):
                residual[p, q, r] = rr[r, p, q] if kept else rr[q, p, r]
            results.append((kernel, std, positions, amplitudes, residual))
        attrs = {k: f.attrs[k] for k in ("heldout_r2", "pixel_size_m", "symmetry",
                                         "heldout_r2_per_energy", "fit_r2")}
    for name, a, b in zip(("kernel", "std", "positions", "amplitudes", "residual"),
                          results[0], results[1]):
        check(np.array_equal(a, b, equal_nan=True), f"both Igor layouts load the same {name}")
    return results[0], attrs


def read_npy_like_igor(path):
    """QPIK_ReadNpy: header parsed as the procedure does, C-order data read into a wave of
    reversed dimensions, then permuted to the logical order."""
    raw = Path(path).read_bytes()
    check(raw[0] == 0x93 and raw[1:6] == b"NUMPY" and raw[6] == 1, "qpik's .npy: magic, v1")
    hlen = int.from_bytes(raw[8:10], "little")
    d = raw[10:10 + hlen].decode("ascii")
    descr = re.search(r"'descr':\s*'?([^',}]*)", d).group(1)
    fortran = re.search(r"'fortran_order':\s*'?([^',}]*)", d).group(1) == "True"
    shape_txt = d[d.index("'shape':"):]
    shape = [int(x) for x in shape_txt[shape_txt.index("(") + 1:shape_txt.index(")")].split(",")
             if x.strip()]
    check(descr in ("<f4", "<f8"), f"qpik writes <f4 or <f8 (got {descr})")
    data = np.frombuffer(raw[10 + hlen:], dtype=descr)
    mem = shape if fortran else shape[::-1]
    wave = data.reshape(mem, order="F")  # Igor's Make/N=(mem) + FBinRead
    if fortran or len(shape) == 1:
        return wave
    return wave.transpose(tuple(range(len(shape)))[::-1])  # out = flat[...][q][p]


# ---------------------------------------------------------------------------------------
# Test data: an anisotropic kernel, so a transposed result cannot pass


def true_kernel(s=21):
    c = s // 2
    y, x = np.mgrid[0:s, 0:s].astype(float) - c  # rows (p) and columns (q) from the centre
    k = np.exp(-(x**2) / 18.0 - (y**2) / 50.0) * np.cos(0.9 * x)
    return k + 0.6 * np.exp(-((y - 3) ** 2 + (x + 4) ** 2) / 3.0)


def synthetic_map(h=96, w=88, n=24, seed=5, layers=1):
    rng = np.random.default_rng(seed)
    k = true_kernel()
    c = k.shape[0] // 2
    pos = np.stack([rng.integers(4, h - 4, n), rng.integers(4, w - 4, n)], axis=1)
    maps = []
    for layer in range(layers):
        img = 0.02 * rng.standard_normal((h + 2 * c, w + 2 * c))
        kl = k * (1.0 + 0.3 * layer)
        for r, col in pos:
            img[r:r + 2 * c + 1, col:col + 2 * c + 1] += rng.uniform(0.8, 1.2) * kl
        maps.append(img[c:c + h, c:c + w])
    return (maps[0] if layers == 1 else np.stack(maps, axis=2)), pos.astype(float)


def pearson(a, b):
    a = a.ravel() - a.mean()
    b = b.ravel() - b.mean()
    return float(a @ b / np.sqrt((a @ a) * (b @ b)))


def main():
    check(QPIK.is_file(), f"{QPIK} exists (cargo build --release)")
    # 1. the table covers every real Igor number type, and numpy reads each back
    check(DESCR.keys() == IGOR_TYPES.keys(), f"QPIK_NpyDescr covers Igor's types: {DESCR}")
    check("'fortran_order': True, 'shape': " in SOURCE, "the .ipf writes fortran_order True")
    check('FBinWrite/B=3 refNum, w' in SOURCE, "the .ipf writes the data little-endian")
    rng = np.random.default_rng(1)
    with tempfile.TemporaryDirectory(prefix="qpik-igor-") as t:
        tmp = Path(t)
        for t_code, dtype in IGOR_TYPES.items():
            for shape in [(7,), (5, 3), (4, 3, 2)]:
                w = (rng.uniform(-100, 100, shape) if np.dtype(dtype).kind != "u"
                     else rng.uniform(0, 200, shape)).astype(dtype)
                b = igor_npy_bytes(w)
                check((10 + int.from_bytes(b[8:10], "little")) % 64 == 0, "header aligned")
                p = tmp / f"t{t_code:x}-{len(shape)}.npy"
                p.write_bytes(b)
                back = np.load(p)
                check(back.dtype == np.dtype(dtype) and np.array_equal(back, w),
                      f"numpy reads Igor type {t_code:#x} {shape}")

        truth = true_kernel()
        image, pos = synthetic_map()
        mask = np.zeros(image.shape, np.uint8)
        mask[pos[:, 0].astype(int), pos[:, 1].astype(int)] = 1

        # 2. 2-D float32 wave + uint8 mask wave, against numpy's C order + positions text
        wave32 = image.astype(np.float32)
        status, log, out = run_like_igor(tmp, "f32-mask", wave32, mask, "--mask")
        check(status == 0, f"qpik ran on the Igor bytes: {log}")
        report = json.loads(log.strip().splitlines()[-1])
        check(report["map_shape"] == list(image.shape) and report["defects"] == len(pos),
              f"qpik saw the Igor map as {image.shape} with {len(pos)} defects: {report}")
        ref_out = run_numpy(tmp, "numpy-c", wave32, pos)
        (kernel, std, positions, amplitudes, residual), attrs = load_result_h5(out, image.shape)
        with h5py.File(ref_out, "r") as f:
            ref_kernel = f["kernels"][0, 0]
            ref_pos = f["positions"][...]
        k_igor = kernel[:, :, 0, 0]
        check(np.allclose(k_igor, ref_kernel, rtol=1e-4, atol=1e-5 * np.abs(ref_kernel).max()),
              "Igor route and numpy route give the same kernel")
        check(np.allclose(np.sort(positions, axis=0), np.sort(ref_pos, axis=0), atol=1e-3),
              "same positions")
        r_true, r_transposed = pearson(k_igor, truth), pearson(k_igor, truth.T)
        check(r_true > 0.95 and r_true > r_transposed + 0.2,
              f"kernel[i][j] is the true kernel (Pearson {r_true:.3f}), not its transpose "
              f"({r_transposed:.3f})")
        check(std.shape == kernel.shape and np.all(np.isfinite(std)), "kernel_std loaded")
        check(amplitudes.shape == (len(pos), 1) and abs(amplitudes.mean() - 1) < 1e-3,
              "amplitudes [n][e] with mean 1")
        fitted = residual[:, :, 0]
        check(np.nanstd(fitted) < 0.2 * np.std(image), "residual[p][q] is the map's leftover")
        check(np.isfinite(attrs["heldout_r2"]) and attrs["heldout_r2"] > 0.5,
              f"held-out R^2 {attrs['heldout_r2']}")
        names = set(re.findall(r'LoadDataset\(fileID, "([a-z_0-9]+)"\)', SOURCE))
        names |= set(re.findall(r'LoadNumberAttribute\(fileID, "([a-z_0-9]+)"\)', SOURCE))
        names |= set(re.findall(r'/A="([a-z_0-9]+)"', SOURCE))
        names |= set(re.findall(r'LoadStringAttribute\(fileID, "([a-z_0-9]+)"\)', SOURCE))
        check({"excluded", "method", "notes"} <= names, "the .ipf reads excluded, method, notes")
        check("control_heldout_r2" in names, "the .ipf reads the structureless control")
        check({"qpik_version", "kernel_size", "types", "symmetry_name", "defects",
               "input_name", "input_sha256"} <= names,
              "the .ipf reads the provenance and the settings as chosen")
        with h5py.File(out, "r") as f:
            for n in sorted(names):
                check(n in f or n in f.attrs, f"the result file has {n}, which the .ipf reads")
            check(f.attrs["format"] in ("qpik-extraction", b"qpik-extraction"), "format attr")

        # int16 wave (an Igor type qpik converts) and a positions wave [N][2] (float64)
        wave16 = np.round(image * 1000).astype(np.int16)
        status, log, out16 = run_like_igor(tmp, "i16-pos", wave16, pos.astype(np.float64),
                                           "--positions")
        check(status == 0, f"qpik ran on an int16 wave with a positions wave: {log}")
        ref16 = run_numpy(tmp, "numpy-i16", wave16.astype(np.float32), pos)
        (k16, *_), _ = load_result_h5(out16, image.shape)
        with h5py.File(ref16, "r") as f:
            check(np.allclose(k16[:, :, 0, 0], f["kernels"][0, 0], rtol=1e-4,
                              atol=1e-5 * np.abs(f["kernels"][...]).max()),
                  "int16 wave: same kernel as numpy's float32 of the same values")

        # a 3-D wave [P][Q][R]: energies as layers
        stack, spos = synthetic_map(h=72, w=80, n=18, seed=9, layers=3)
        smask = np.zeros(stack.shape[:2], np.uint8)
        smask[spos[:, 0].astype(int), spos[:, 1].astype(int)] = 1
        status, log, out3 = run_like_igor(tmp, "stack", stack.astype(np.float32), smask,
                                          "--mask")
        check(status == 0, f"qpik ran on a 3-D wave: {log}")
        ref3 = run_numpy(tmp, "numpy-stack", np.transpose(stack, (2, 0, 1)).astype(np.float32),
                         spos)
        (k3, *_rest), _ = load_result_h5(out3, stack.shape)
        residual3 = _rest[3]
        check(k3.shape == (21, 21, 3, 1) and residual3.shape == stack.shape,
              f"3-D: kernel [i][j][e] {k3.shape}, residual like the map {residual3.shape}")
        with h5py.File(ref3, "r") as f:
            ref = f["kernels"][0]
            for e in range(3):
                check(np.allclose(k3[:, :, e, 0], ref[e], rtol=1e-4,
                                  atol=1e-5 * np.abs(ref).max()), f"3-D layer {e}")
        scale = [np.abs(k3[:, :, e, 0]).max() for e in range(3)]
        check(scale[0] < scale[1] < scale[2], f"layer e is the map's layer e {scale}")

        # 4. the Igor 8 route: kernels alone as qpik's C-order .npy
        status, log, npy_out = run_like_igor(tmp, "igor8", wave32, mask, "--mask", "kernel.npy")
        check(status == 0, f"qpik wrote kernel.npy: {log}")
        k8 = read_npy_like_igor(npy_out)
        check(k8.shape == (21, 21) and np.allclose(k8, k_igor, rtol=1e-4,
                                                   atol=1e-5 * np.abs(k_igor).max()),
              "QPIK_ReadNpy gives the kernel of the .h5 route")
        kstack = read_npy_like_igor(run_like_igor(tmp, "igor8-stack", stack.astype(np.float32),
                                                  smask, "--mask", "kernel.npy")[2])
        check(kstack.shape == (3, 21, 21) and np.allclose(
            kstack[1], k3[:, :, 1, 0], rtol=1e-4, atol=1e-5 * np.abs(k3).max()),
            "QPIK_ReadNpy reads a C-order 3-D .npy with its logical indices")

        # 5. failure: a constant map
        cmask = np.zeros((40, 40), np.uint8)
        cmask[20, 20] = 1
        status, log, out_c = run_like_igor(tmp, "constant", np.ones((40, 40), np.float32),
                                           cmask, "--mask")
        check(status != 0 and "constant" in log.lower() and not out_c.exists(),
              f"a failing run leaves no result and says why: {log!r}")
        status, log, _ = run_like_igor(tmp, "no-defects", np.zeros((40, 40), np.float32))
        check(status != 0 and log.startswith("error:"), f"qpik's error in the log: {log!r}")
    print(f"igor contract: {checks} checks passed")


if __name__ == "__main__":
    main()
