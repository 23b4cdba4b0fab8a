"""The map engine (qpik.extract_map): a synthetic map of a known kernel at known positions
gives it back; every layout gives the same result; stacks; bad input raises the matching
exception class."""

import numpy as np
import pytest

import qpik

S = 15
H = S // 2


def ring(wavelength):
    """A cosine ring windowed to S x S, impurity at (S // 2, S // 2)."""
    i, j = np.mgrid[:S, :S] - H
    r = np.hypot(i, j)
    return (np.cos(2 * np.pi * r / wavelength) * np.exp(-(r**2) / (2 * 2.5**2))).astype(
        np.float32
    )


def defects(n, rng):
    """Integer positions on a jittered grid (raster order) and amplitudes in [0.5, 1.5]."""
    g = np.arange(4, n - 6, 16)
    rc = np.array([(r, c) for r in g for c in g + 2]) + rng.integers(0, 6, (len(g) ** 2, 2))
    rc = rc[np.lexsort((rc[:, 1], rc[:, 0]))]  # raster order, as a mask lists them
    return rc, rng.uniform(0.5, 1.5, len(rc))


def render(n, kernel, rc, amp, rng):
    """sum_i amp_i kernel(r - r_i) + a plane + uniform noise of width 0.01 (no wrap-around)."""
    pad = np.zeros((n + 2 * H, n + 2 * H))
    for (r, c), a in zip(rc, amp):
        pad[r : r + S, c : c + S] += a * kernel
    rows, cols = np.mgrid[:n, :n]
    plane = 0.3 + 0.002 * rows - 0.001 * cols
    return (pad[H : H + n, H : H + n] + plane + 0.01 * (rng.random((n, n)) - 0.5)).astype(
        np.float32
    )


@pytest.fixture(scope="module")
def scene():
    rng = np.random.default_rng(3)
    n = 96
    rc, amp = defects(n, rng)
    k = ring(5.0)
    m = render(n, k, rc, amp, rng)
    mask = np.zeros((n, n), bool)
    mask[rc[:, 0], rc[:, 1]] = True
    return dict(n=n, rc=rc, amp=amp, kernel=k, map=m, mask=mask, rng=rng)


OPTS = dict(map__kernel_size=S, map__pixel_size_m=2.5e-10)


def pearson(a, b):
    return np.corrcoef(np.ravel(a), np.ravel(b))[0, 1]


@pytest.fixture(scope="module")
def result(scene):
    return qpik.extract_map(scene["map"], mask=scene["mask"], **OPTS)


def test_kernel_positions_and_amplitudes_come_back(scene, result):
    ex = result
    assert ex.kernels.shape == (1, 1, S, S) and ex.kernels.dtype == np.float32
    assert ex.kernel.shape == (S, S)
    assert pearson(ex.kernel, scene["kernel"]) > 0.99
    # Refined by up to map__refine_positions_px (1.5) from the true pixels they sit on.
    np.testing.assert_allclose(ex.positions, scene["rc"], atol=0.25)
    amp = scene["amp"]
    np.testing.assert_allclose(ex.amplitudes[:, 0], amp / amp.mean(), atol=0.05)
    assert ex.types.dtype == np.uint8 and not ex.types.any()
    assert ex.residual.shape == (1, scene["n"], scene["n"])
    assert np.sqrt(np.mean(ex.residual**2)) < 0.02
    assert ex.heldout_r2.shape == (1,) and 0.9 < ex.heldout_r2[0] <= 1.0
    assert ex.heldout_r2_mean == pytest.approx(ex.heldout_r2[0])
    assert ex.pixel_size_m == pytest.approx(2.5e-10)
    # Symmetry auto by default: one of the orders it chooses from (0 none, 1 isotropic); the
    # mirror line is NaN without mirrors, else its angle.
    assert not ex.positions_estimated and ex.symmetry in (0, 1, 2, 3, 4, 6)
    assert np.isnan(ex.mirror_axis_deg) or 0.0 <= ex.mirror_axis_deg < 180.0
    assert ex.kernel_std.shape == ex.kernels.shape and np.isfinite(ex.kernel_std).all()
    # Provenance: the version and the settings as chosen.
    assert ex.qpik_version == qpik.version()
    assert (ex.kernel_size, ex.num_types, ex.defects) == (S, 1, len(scene["rc"]))
    want = {0: "none", 1: "isotropic"}.get(ex.symmetry, str(ex.symmetry))
    assert ex.symmetry_name.startswith(want), (ex.symmetry_name, ex.symmetry)


def test_pixel_size_in_metres_and_the_deprecated_angstrom_spelling(scene, result):
    # The deprecated Angstrom keyword gives the same pixel size in metres.
    old = qpik.extract_map(
        scene["map"], mask=scene["mask"], map__kernel_size=S, map__pixel_size_a=2.5,
        map__bootstrap=0,
    )
    assert old.pixel_size_m == pytest.approx(2.5e-10)
    # Angstrom given as metres, and metres given as Angstrom: refused with a hint.
    with pytest.raises(qpik.OptionError, match=r"did you mean 0\.893 Angstrom \(8\.93e-11 m\)"):
        qpik.extract_map(scene["map"], mask=scene["mask"], map__pixel_size_m=0.893)
    with pytest.raises(qpik.OptionError, match=r"did you mean 8\.9e-11 m"):
        qpik.extract_map(scene["map"], mask=scene["mask"], map__pixel_size_a=8.9e-11)
    for bad in (float("nan"), float("inf"), -1e-10, 0):
        with pytest.raises(qpik.OptionError):
            qpik.extract_map(scene["map"], mask=scene["mask"], map__pixel_size_m=bad)
    # An even kernel size, with the odd sizes beside it.
    with pytest.raises(qpik.OptionError, match=f"use {S} or {S + 2}"):
        qpik.extract_map(scene["map"], mask=scene["mask"], map__kernel_size=S + 1)


def test_fortran_order_and_positions_give_the_same_kernel(scene, result):
    f64 = np.asfortranarray(scene["map"].astype(np.float64))
    rc = scene["rc"][::-1]  # positions, in another order, kept as given
    keep = dict(OPTS, map__refine_positions_px=0)
    want = qpik.extract_map(scene["map"], mask=scene["mask"], **keep)
    ex = qpik.extract_map(f64, positions=rc, **keep)
    np.testing.assert_allclose(ex.kernel, want.kernel, atol=1e-3)
    np.testing.assert_array_equal(ex.positions, rc.astype(np.float32))
    # The mask in Fortran order and as float: the same as the bool mask.
    m = np.asfortranarray(scene["mask"].astype(np.float32))
    np.testing.assert_allclose(
        qpik.extract_map(scene["map"], mask=m, **OPTS).kernel, result.kernel, atol=1e-5
    )


def test_mirror_symmetry_reports_its_line(scene, result):
    ex = qpik.extract_map(
        scene["map"], mask=scene["mask"], **dict(OPTS, map__symmetry="2mm", map__decay=0)
    )
    assert ex.symmetry == 2 and 0.0 <= ex.mirror_axis_deg < 90.0
    # A mirror-symmetric kernel: it equals its reflection in the reported line (bilinear).
    k = ex.kernel.astype(np.float64)
    c = S // 2
    a = np.deg2rad(2 * ex.mirror_axis_deg)
    rr, cc = np.mgrid[0:S, 0:S] - c
    src_c = c + np.cos(a) * cc + np.sin(a) * rr
    src_r = c + np.sin(a) * cc - np.cos(a) * rr
    inside = (rr**2 + cc**2) < (c - 2) ** 2
    r0, c0 = np.floor(src_r).astype(int), np.floor(src_c).astype(int)
    fr, fc = src_r - r0, src_c - c0
    r1, c1 = np.clip(r0 + 1, 0, S - 1), np.clip(c0 + 1, 0, S - 1)
    r0, c0 = np.clip(r0, 0, S - 1), np.clip(c0, 0, S - 1)
    m = (1 - fr) * ((1 - fc) * k[r0, c0] + fc * k[r0, c1]) + fr * (
        (1 - fc) * k[r1, c0] + fc * k[r1, c1]
    )
    err = np.sqrt(np.mean((m - k)[inside] ** 2)) / np.sqrt(np.mean(k[inside] ** 2))
    assert err < 0.1, err


def test_stacks_give_one_kernel_per_energy(scene):
    rng = np.random.default_rng(5)
    k2 = ring(3.5)
    amp2 = 2.0 - scene["amp"]
    layer2 = render(scene["n"], k2, scene["rc"], amp2, rng)
    stack = np.stack([scene["map"], layer2])
    seen = []
    ex = qpik.extract_map(
        stack,
        mask=scene["mask"],
        map__energies_ev=np.array([0.01, 0.02]),
        progress=lambda *a: seen.append(a) and False,
        **OPTS,
    )
    assert ex.kernels.shape == (1, 2, S, S) and ex.kernel.shape == (2, S, S)
    assert pearson(ex.kernel[0], scene["kernel"]) > 0.99
    assert pearson(ex.kernel[1], k2) > 0.99
    assert pearson(ex.amplitudes[:, 1], amp2) > 0.99
    assert ex.residual.shape == (2, scene["n"], scene["n"])
    assert len(seen) >= 2
    # MATLAB's rows x cols x E seen as (E, rows, cols): the same result.
    matlab = np.asfortranarray(np.moveaxis(stack, 0, -1))
    ex2 = qpik.extract_map(np.moveaxis(matlab, -1, 0), mask=scene["mask"], **OPTS)
    np.testing.assert_allclose(ex2.kernels, ex.kernels, atol=1e-5)


def test_nan_rows_are_left_out(scene):
    m = scene["map"].copy()
    m[20:22] = np.nan
    ex = qpik.extract_map(m, mask=scene["mask"], **OPTS)
    assert pearson(ex.kernel, scene["kernel"]) > 0.99
    assert np.isnan(ex.residual[0, 20:22]).all() and not np.isnan(ex.residual[0, 22]).any()


def test_blind_without_defects_finds_them_and_the_kernel(scene):
    ex = qpik.extract_map(scene["map"], **OPTS)
    assert ex.positions_estimated and len(ex.positions) == len(scene["rc"])
    d = np.hypot(*(ex.positions[:, None, :] - scene["rc"][None, :, :]).transpose(2, 0, 1))
    assert (d.min(axis=1) < 0.5).all()
    assert pearson(ex.kernel, scene["kernel"]) > 0.98


def test_blind_results_say_what_was_left_out(scene, result):
    m = scene["map"].copy()
    m[-4:] = 0.25  # an aborted scan: the last lines hold one constant value
    ex = qpik.extract_map(m, **OPTS)
    assert ex.method == "blind"
    assert ex.excluded.dtype == bool and ex.excluded.shape == m.shape
    assert ex.excluded[-4:].all()
    assert ex.excluded_pixels == ex.excluded.sum() >= 4 * scene["n"]
    assert "constant scan lines" in ex.notes
    assert "pixels left out" in repr(ex)
    # The structureless control is scored beside a blind kernel, and the kernel beats it.
    assert np.isfinite(ex.control_heldout_r2) and ex.control_heldout_r2 < ex.heldout_r2_mean
    assert result.method == "forward" and result.excluded_pixels == 0
    assert not result.excluded.any() and not result.explains_little
    assert np.isnan(result.control_heldout_r2)


def test_a_kernel_of_noise_warns_that_it_explains_little(scene):
    noise = np.random.default_rng(11).random(scene["map"].shape).astype(np.float32)
    with pytest.warns(qpik.ExplainsLittleWarning, match="explains little"):
        ex = qpik.extract_map(noise, mask=scene["mask"], **OPTS)
    assert ex.explains_little and not ex.heldout_r2_mean >= 0.1


def test_topography_gives_the_positions(scene):
    # Gaussian bumps (1.5 px) at the defects on a tilted plane: the topography of the map.
    n = scene["n"]
    rows, cols = np.mgrid[:n, :n]
    z = 1e-3 * rows
    for r, c in scene["rc"]:
        z = z + np.exp(-((rows - r) ** 2 + (cols - c) ** 2) / (2 * 1.5**2))
    found = qpik.find_defects(z, map__pixel_size_m=2.5e-10)
    assert found.shape == (len(scene["rc"]), 2)
    d = np.hypot(*(found[:, None, :] - scene["rc"][None, :, :]).transpose(2, 0, 1))
    assert (d.min(axis=1) < 0.2).all()
    ex = qpik.extract_map(scene["map"], topography=z, **OPTS)
    assert not ex.positions_estimated
    assert pearson(ex.kernel, scene["kernel"]) > 0.99
    # Known defects plus a blind type: the given ones are type 0.
    both = qpik.extract_map(scene["map"], topography=z, blind=True, **OPTS)
    assert set(both.types[: len(scene["rc"])]) == {0}


def test_progress_cancels_and_reraises(scene):
    with pytest.raises(qpik.CancelledError):
        qpik.extract_map(scene["map"], mask=scene["mask"], progress=lambda *a: True, **OPTS)

    def boom(*a):
        raise KeyError("from the callback")

    with pytest.raises(KeyError, match="from the callback"):
        qpik.extract_map(scene["map"], mask=scene["mask"], progress=boom, **OPTS)


def test_bad_input_raises_the_matching_exception(scene):
    m, mask, n = scene["map"], scene["mask"], scene["n"]
    with pytest.raises(qpik.ShapeError, match="smaller than the 15 x 15 kernel"):
        qpik.extract_map(m[:10, :10], mask=mask[:10, :10], **OPTS)
    with pytest.raises(qpik.InvalidArgumentError, match="marks no defect"):
        qpik.extract_map(m, mask=np.zeros_like(mask), **OPTS)
    with pytest.raises(qpik.InvalidArgumentError, match="0 positions"):
        qpik.extract_map(m, positions=[], **OPTS)
    with pytest.raises(qpik.InvalidArgumentError, match="constant"):
        qpik.extract_map(np.zeros((32, 32)))
    noise = np.random.default_rng(1).normal(size=(64, 64))
    with pytest.raises(qpik.InvalidArgumentError, match="no defects found"):
        qpik.extract_map(noise, map__kernel_size=15)
    with pytest.raises(qpik.InvalidArgumentError, match="every one"):
        qpik.extract_map(m, mask=np.ones_like(mask), **OPTS)
    with pytest.raises(qpik.ShapeError, match="mask has shape"):
        qpik.extract_map(m, mask=mask[:, :-1], **OPTS)
    with pytest.raises(qpik.ShapeError, match=r"must be \(N, 2\)"):
        qpik.extract_map(m, positions=np.zeros((3, 3)), **OPTS)
    with pytest.raises(qpik.InvalidArgumentError, match="outside"):
        qpik.extract_map(m, positions=[[10, 10], [n + H + 1, 5]], **OPTS)
    with pytest.raises(qpik.NotFiniteError):
        qpik.extract_map(m, positions=[[10, np.nan]], **OPTS)
    bad = m.copy()
    bad[3, 4] = np.inf
    with pytest.raises(qpik.NotFiniteError, match="infinite"):
        qpik.extract_map(bad, mask=mask, **OPTS)
    with pytest.raises(qpik.InvalidArgumentError, match="all NaN"):
        qpik.extract_map(np.full((2, n, n), np.nan), mask=mask, **OPTS)
    with pytest.raises(qpik.DtypeError):
        qpik.extract_map(m.astype(np.complex64), mask=mask, **OPTS)
    with pytest.raises(qpik.InvalidArgumentError, match="not both"):
        qpik.extract_map(m, mask=mask, positions=[[1, 2]], **OPTS)
    with pytest.raises(qpik.InvalidArgumentError, match="one of mask, positions and topography"):
        qpik.extract_map(m, mask=mask, topography=m)
    with pytest.raises(qpik.OptionError, match="kernel size"):
        qpik.extract_map(m, mask=mask, map__kernel_size=1)
    with pytest.raises(qpik.OptionError, match="did you mean 'map.symmetry'"):
        qpik.extract_map(m, mask=mask, map__symetry=4)
    with pytest.raises(qpik.OptionError, match="map.energies_ev"):
        qpik.extract_map(m, mask=mask, map__energies_ev=[0.1, 0.2], **OPTS)
    # Every message is about the call, and bad input never gets to the engine's result.
    with pytest.raises(qpik.ShapeError):
        qpik.extract_map(np.zeros(5), mask=None)


def test_options_describe_every_map_setting():
    keys = {o.key: o for o in qpik.options()}
    for k in (
        "kernel_size",
        "symmetry",
        "background",
        "smoothness",
        "decay",
        "bootstrap",
        "block_px",
        "refine_positions_px",
        "outer_iterations",
        "cg_iterations",
        "seed",
        "memory_budget_bytes",
        "pixel_size_m",
        "pixel_size_a",
        "value_unit",
        "energies_ev",
    ):
        assert f"map.{k}" in keys, k
    assert keys["map.kernel_size"].default == "auto"
    assert keys["map.bootstrap"].default == "8"
