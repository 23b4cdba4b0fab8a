"""Catalog, kernels and synthesis, checked against direct computation where possible."""

import numpy as np
import pytest

import qpik


def test_catalog_lists_named_kernels():
    names = qpik.catalog()
    assert len(names) > 50
    assert len(set(names)) == len(names)
    assert "shockley-cu111-0meV" in names
    assert all(isinstance(n, str) and n for n in names)


def test_catalog_spec_is_toml_naming_the_kernel():
    spec = qpik.catalog_spec("shockley-cu111-0meV")
    assert 'name = "shockley-cu111-0meV"' in spec
    assert "[render]" in spec


def test_unknown_catalog_kernel():
    with pytest.raises(qpik.NotFoundError, match="no catalog kernel is named 'nope'") as e:
        qpik.Kernel("nope")
    assert e.value.status is qpik.Status.QPIK_ERR_NOT_FOUND


def test_kernel_image_shape_centre_and_info(kernel):
    img = kernel.image
    assert img.dtype == np.float64 and img.shape == (64, 64) == kernel.shape
    assert img.flags.c_contiguous and np.isfinite(img).all()
    i = kernel.info
    assert (i.rows, i.cols, i.centre_row, i.centre_col) == (64, 64, 32, 32)
    assert i.energy_ev == 0.0 and i.symmetry == 1
    assert i.pixel_size_m == pytest.approx(1.4e-10) and i.pixel_size_a == pytest.approx(1.4)
    # The impurity site carries the strongest LDOS change of an isotropic kernel.
    assert np.unravel_index(np.abs(img).argmax(), img.shape) == (32, 32)
    # Isotropic: mirror symmetric about the centre row and column.
    c = img[1:, 1:]
    np.testing.assert_allclose(c, c[::-1, :], atol=1e-12 * np.abs(img).max())
    np.testing.assert_allclose(c, c[:, ::-1], atol=1e-12 * np.abs(img).max())


@pytest.mark.parametrize("size", [(33, 31), "48x40", 20])
def test_grid_options_override_the_spec(size):
    k = qpik.Kernel("shockley-cu111-0meV", size=size, pixel_size_a=2.0)
    rows, cols = {str((33, 31)): (33, 31), "48x40": (48, 40), "20": (20, 20)}[str(size)]
    assert k.image.shape == (rows, cols)
    assert (k.info.centre_row, k.info.centre_col) == (rows // 2, cols // 2)
    assert np.unravel_index(np.abs(k.image).argmax(), (rows, cols)) == (rows // 2, cols // 2)
    assert k.info.pixel_size_m == pytest.approx(2e-10)


def test_spec_text_gives_the_same_kernel(kernel):
    k = qpik.Kernel(spec=qpik.catalog_spec("shockley-cu111-0meV"))
    assert k.name is None
    np.testing.assert_array_equal(k.image, kernel.image)
    changed = qpik.catalog_spec("shockley-cu111-0meV").replace("energy_ev = 0.0", "energy_ev = 0.1")
    k2 = qpik.Kernel(spec=changed)
    assert k2.info.energy_ev == pytest.approx(0.1)
    assert not np.allclose(k2.image, kernel.image)


def test_exactly_one_of_name_and_spec():
    with pytest.raises(qpik.InvalidArgumentError):
        qpik.Kernel()
    with pytest.raises(qpik.InvalidArgumentError):
        qpik.Kernel("shockley-cu111-0meV", spec="x")
    with pytest.raises(qpik.QpikError) as e:
        qpik.Kernel(spec="this is not toml [")
    assert e.value.status is qpik.Status.QPIK_ERR_INVALID_ARGUMENT


def test_closed_kernel_refuses_use():
    k = qpik.Kernel("shockley-cu111-0meV", size=16)
    with k:
        assert k.image.shape == (16, 16)
    with pytest.raises(ValueError, match="closed"):
        k.image


def test_synthesis_is_reproducible_with_a_seed(kernel):
    a = qpik.synthesize(kernel, (64, 48), seed=3)
    b = qpik.synthesize(kernel, (64, 48), seed=3)
    c = qpik.synthesize(kernel, (64, 48), seed=4)
    assert a.image.shape == a.mask.shape == (64, 48)
    assert a.image.dtype == np.float64 and a.mask.dtype == bool
    np.testing.assert_array_equal(a.image, b.image)
    np.testing.assert_array_equal(a.mask, b.mask)
    np.testing.assert_array_equal(a.defects, b.defects)
    assert not np.array_equal(a.image, c.image)


def test_synthesis_defects_and_mask_agree(kernel):
    img, mask, defects = qpik.synthesize(
        kernel, 64, seed=5, defects__count_min=4, defects__count_max=4,
        defects__amplitude_min=2, defects__amplitude_max=3,
    )
    assert defects.shape == (4, 3) and defects.dtype == np.float64
    assert ((defects[:, 2] >= 2) & (defects[:, 2] <= 3)).all()
    assert ((defects[:, :2] >= 0) & (defects[:, :2] <= 63)).all()
    rows, cols = np.rint(defects[:, 0]).astype(int), np.rint(defects[:, 1]).astype(int)
    assert mask[rows, cols].all()
    assert 1 <= mask.sum() <= 4


def test_synthesis_is_the_sum_of_shifted_kernels():
    """Whole-pixel defects: the map equals amplitude x the kernel image moved to the defect."""
    k = qpik.Kernel("shockley-cu111-0meV", size=32)
    kimg = k.image
    for seed in range(3):
        img, mask, d = qpik.synthesize(
            k, (48, 40), seed=seed, defects__count_min=1, defects__count_max=1,
            defects__subpixel_steps=1,
        )
        assert d.shape == (1, 3)
        r, c, amp = int(d[0, 0]), int(d[0, 1]), d[0, 2]
        assert (r, c) == (d[0, 0], d[0, 1])
        assert np.argwhere(mask).tolist() == [[r, c]]
        expected = np.zeros_like(img)
        for i in range(48):
            for j in range(40):
                ki, kj = i - r + 16, j - c + 16
                if 0 <= ki < 32 and 0 <= kj < 32:
                    expected[i, j] = amp * kimg[ki, kj]
        inside = expected != 0
        assert inside.sum() > 200
        tol = 1e-6 * np.abs(img).max()
        np.testing.assert_allclose(img[inside], expected[inside], rtol=0, atol=tol)


def test_synthesis_option_errors(kernel):
    with pytest.raises(qpik.OptionError, match="defects") as e:
        qpik.synthesize(kernel, 64, defects__count_min=9, defects__count_max=2)
    assert e.value.status is qpik.Status.QPIK_ERR_OPTION_VALUE
    with pytest.raises(qpik.ShapeError):
        qpik.synthesize(kernel, (0, 64))
    with pytest.raises(TypeError):
        qpik.synthesize("shockley-cu111-0meV", 64)
