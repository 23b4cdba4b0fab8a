"""Extraction: every memory layout gives the contiguous float32 result; batches; errors."""

import threading

import numpy as np
import pytest

import qpik
from qpik import _arrays

from conftest import ONE_STEP, TWO_STEP


def layouts(base):
    """The same 64 x 64 values in different dtypes and memory layouts."""
    fortran64 = np.asfortranarray(base.astype(np.float64))
    big = np.zeros((3 * 64 + 5, 2 * 64 + 7), np.float32)
    view = big[5 : 5 + 3 * 64 : 3, 7 : 7 + 2 * 64 : 2]  # strided view, no copy
    view[...] = base
    flipped = base[::-1, ::-1].copy()[::-1, ::-1]  # negative strides
    transposed = np.ascontiguousarray(base.T).T  # Fortran-order float32
    big_endian = base.astype(">f8")
    return {
        "fortran-f64": fortran64,
        "strided-view": view,
        "negative-strides": flipped,
        "fortran-f32": transposed,
        "big-endian-f64": big_endian,
        "list": base.tolist(),
    }


def test_result_is_float32_kernel_shaped(model, observation):
    image, mask = observation
    k = model.extract(image, mask)
    assert k.dtype == np.float32 and k.shape == (64, 64) and k.flags.c_contiguous
    assert np.isfinite(k).all()
    assert k.std() > 0


@pytest.mark.parametrize(
    "layout",
    ["fortran-f64", "strided-view", "negative-strides", "fortran-f32", "big-endian-f64", "list"],
)
def test_every_layout_gives_the_contiguous_result(model, observation, layout):
    image, mask = observation
    want = model.extract(image, mask)
    arr = layouts(image)[layout]
    np.testing.assert_array_equal(model.extract(arr, mask), want)
    # The mask in other layouts too.
    m = layouts(mask.astype(np.float32))[layout]
    np.testing.assert_array_equal(model.extract(image, m), want)


def test_descriptor_passes_views_without_copying(observation):
    image, _ = observation
    lay = layouts(image)
    v = lay["strided-view"]
    d = _arrays.data(v, "x")
    assert d.struct.data == v.ctypes.data  # the caller's memory itself
    assert (d.struct.dtype, d.struct.ndim) == (1, 2)
    assert list(d.struct.shape[:2]) == [64, 64]
    assert list(d.struct.strides[:2]) == [3 * (2 * 64 + 7), 2]  # elements, not bytes
    assert d.struct.len == 63 * 3 * (2 * 64 + 7) + 63 * 2 + 1
    f = _arrays.data(lay["fortran-f64"], "x")
    assert f.struct.data == lay["fortran-f64"].ctypes.data
    assert (f.struct.dtype, list(f.struct.strides[:2])) == (2, [1, 64])
    n = _arrays.data(lay["negative-strides"], "x")
    assert list(n.struct.strides[:2]) == [64, 1]  # copied into C order
    assert n.struct.data != lay["negative-strides"].ctypes.data
    b = _arrays.data(np.broadcast_to(image[0], (64, 64)), "x")  # zero stride: copied
    assert list(b.struct.strides[:2]) == [64, 1]
    m = _arrays.mask(np.zeros((4, 5), bool), "m")
    assert m.struct.dtype == 3  # QPIK_U8, a view of the bool array


def test_inputs_are_left_untouched(model, observation):
    image, mask = observation
    a, m = image.copy(), mask.copy()
    model.extract(a, m)
    np.testing.assert_array_equal(a, image)
    np.testing.assert_array_equal(m, mask)


def test_stack_equals_item_by_item(model, kernel, observation):
    image, mask = observation
    others = [qpik.synthesize(kernel, 64, seed=s, defects__count_max=6) for s in (1, 2)]
    obs = np.stack([image, others[0].image, others[1].image])
    masks = np.stack([mask, others[0].mask, others[1].mask])
    batch = model.extract(obs, masks)
    assert batch.shape == (3, 64, 64) and batch.dtype == np.float32
    for i in range(3):
        np.testing.assert_array_equal(batch[i], model.extract(obs[i], masks[i]))
    assert not np.array_equal(batch[0], batch[1])
    # A Fortran-ordered stack (MATLAB's rows x cols x n seen as n x rows x cols).
    matlab = np.asfortranarray(np.moveaxis(obs, 0, -1))
    np.testing.assert_array_equal(model.extract(np.moveaxis(matlab, -1, 0), masks), batch)
    k, info = model.extract(obs, masks, return_info=True)
    assert info == qpik.ExtractInfo(mask_estimated=False, items=3, defects=int(masks.sum()))


def test_without_a_mask_the_mask_is_estimated(model, observation):
    image, _ = observation
    k, info = model.extract(image, return_info=True)
    est = qpik.estimate_mask(image)
    assert est.dtype == bool and est.shape == (64, 64)
    assert info.mask_estimated and info.items == 1 and info.defects == est.sum()
    np.testing.assert_array_equal(k, model.extract(image, est))


def test_estimate_mask_finds_isolated_defects():
    k = qpik.Kernel("shockley-cu111-0meV")
    img, mask, d = qpik.synthesize(
        k, 64, seed=11, defects__count_min=3, defects__count_max=3, defects__subpixel_steps=1,
        defects__region="central:0.6",
    )
    est = qpik.estimate_mask(img)
    # Each estimated defect is at (or next to) a true one.
    true = np.argwhere(mask)
    for p in np.argwhere(est):
        assert np.abs(true - p).max(axis=1).min() <= 1
    assert est.sum() >= 1


def test_models_load_from_bytes_like_from_files(observation):
    image, mask = observation
    for path in (TWO_STEP, ONE_STEP):
        data = path.read_bytes()
        a = qpik.Model.from_file(path)
        for b in (qpik.Model.from_bytes(data), qpik.Model.from_bytes(bytearray(data))):
            assert b.info == a.info
            np.testing.assert_array_equal(b.extract(image, mask), a.extract(image, mask))


def test_model_info(two_step, one_step):
    assert two_step.info == qpik.ModelInfo("two-step", 64, "cpu", False)
    assert one_step.info == qpik.ModelInfo("one-step", 64, "cpu", False)


def test_cuda_request_runs_somewhere():
    m = qpik.Model.from_file(TWO_STEP, device="cuda")
    assert m.info.device in ("cpu", "cuda")
    assert m.info.fell_back_to_cpu == (m.info.device == "cpu")


def test_default_model_loads_or_says_it_is_absent():
    try:
        m = qpik.Model.default(method="one-step")
    except qpik.UnavailableError as e:
        assert e.status is qpik.Status.QPIK_ERR_UNAVAILABLE
        assert "embeds no default model" in e.message
    else:
        assert m.info.method == "one-step" and m.info.size == 64


def test_threads_share_one_model(two_step, observation):
    image, mask = observation
    want = two_step.extract(image, mask)
    results, errors = [], []

    def work():
        try:
            for _ in range(5):
                results.append(two_step.extract(image, mask))
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and len(results) == 20
    for r in results:
        np.testing.assert_array_equal(r, want)


# --- errors ---------------------------------------------------------------------------


def test_wrong_shape(two_step):
    with pytest.raises(qpik.ShapeError, match=r"takes 64 x 64 images") as e:
        two_step.extract(np.zeros((32, 32), np.float32))
    assert e.value.status is qpik.Status.QPIK_ERR_SHAPE
    with pytest.raises(qpik.ShapeError, match="1 dimensions"):
        two_step.extract(np.zeros(64 * 64))
    with pytest.raises(qpik.ShapeError, match="at most 4"):
        two_step.extract(np.zeros((1, 1, 1, 1, 64)))
    with pytest.raises(qpik.ShapeError, match="must match the observation"):
        two_step.extract(np.zeros((64, 64)), np.zeros((64, 32)))


def test_nan_is_refused(two_step, observation):
    image, mask = observation
    bad = image.astype(np.float64)
    bad[10, 20] = np.nan
    with pytest.raises(qpik.NotFiniteError, match=r"NaN or infinite.*flat index 660") as e:
        two_step.extract(bad, mask)
    assert e.value.status is qpik.Status.QPIK_ERR_NOT_FINITE
    bad[10, 20] = np.inf
    with pytest.raises(qpik.NotFiniteError):
        two_step.extract(bad, mask)


def test_non_binary_mask_is_refused(two_step, observation):
    image, mask = observation
    m = mask.astype(np.float32)
    m[5, 6] = 0.5
    with pytest.raises(qpik.InvalidArgumentError, match=r"binary.*0\.5 at flat index 326") as e:
        two_step.extract(image, m)
    assert e.value.status is qpik.Status.QPIK_ERR_INVALID_ARGUMENT
    with pytest.raises(qpik.InvalidArgumentError, match="binary"):
        two_step.extract(image, mask.astype(np.uint8) * 2)
    with pytest.raises(qpik.InvalidArgumentError, match="binary"):
        two_step.extract(image, mask.astype(np.int64) * 256)  # not wrapped to 0 by uint8


def test_complex_input_is_refused(two_step):
    with pytest.raises(qpik.DtypeError, match="complex") as e:
        two_step.extract(np.zeros((64, 64), complex))
    assert e.value.status is qpik.Status.QPIK_ERR_DTYPE
    assert isinstance(e.value, TypeError)


def test_corrupt_model_bytes():
    data = TWO_STEP.read_bytes()
    for bad in (b"not a model", data[: len(data) // 2], b""):
        with pytest.raises(qpik.FormatError, match="not a safetensors model") as e:
            qpik.Model.from_bytes(bad)
        assert e.value.status is qpik.Status.QPIK_ERR_FORMAT


def test_missing_and_foreign_model_files(tmp_path):
    missing = tmp_path / "none.safetensors"
    with pytest.raises(qpik.QpikIOError, match="none.safetensors") as e:
        qpik.Model.from_file(missing)
    assert e.value.status is qpik.Status.QPIK_ERR_IO
    text = tmp_path / "text.safetensors"
    text.write_text("hello")
    with pytest.raises(qpik.FormatError, match="text.safetensors") as e:
        qpik.Model.from_file(text)
    assert e.value.status is qpik.Status.QPIK_ERR_FORMAT


def test_closed_model_refuses_use(observation):
    image, mask = observation
    m = qpik.Model.from_file(ONE_STEP)
    m.close()
    m.close()  # twice is fine
    with pytest.raises(ValueError, match="closed"):
        m.extract(image, mask)
    with pytest.raises(TypeError):
        qpik.Model(None)
