"""Training tiny models through the library, with progress, cancellation and errors."""

import numpy as np
import pytest

import qpik

from conftest import DATASET, TINY_DATA, TINY_TRAIN


def test_train_one_step_and_extract(tmp_path, observation):
    out = tmp_path / "one.safetensors"
    calls = []
    qpik.train("one-step", DATASET, out, lambda *a: calls.append(a), seed=1, **TINY_TRAIN)
    assert out.is_file()
    assert calls and all(isinstance(s, str) and s for s, _, _, _ in calls)
    assert calls[-1][1] == calls[-1][2] == 1  # one step of one
    assert "loss" in calls[-1][3]
    m = qpik.Model.from_file(out)
    assert m.info.method == "one-step" and m.info.size == 64
    image, mask = observation
    k = m.extract(image, mask)
    assert k.shape == (64, 64) and np.isfinite(k).all()


def test_train_vae_then_align_on_generated_data(tmp_path):
    data = tmp_path / "data.h5"
    qpik.generate_dataset(data, seed=2, **TINY_DATA)
    vae = tmp_path / "vae.safetensors"
    qpik.train("vae", data, vae, **TINY_TRAIN, train__augment=False)
    with pytest.raises(qpik.InvalidArgumentError, match="VAE"):
        qpik.Model.from_file(vae)  # a VAE alone cannot extract
    with pytest.raises(qpik.OptionError, match="train.vae"):
        qpik.train("align", data, tmp_path / "x.safetensors", **TINY_TRAIN)
    two = tmp_path / "two.safetensors"
    qpik.train("align", data, two, train__vae=vae, **TINY_TRAIN)
    m = qpik.Model.from_file(two)
    assert m.info == qpik.ModelInfo("two-step", 32, "cpu", False)
    obs, masks, _ = qpik.Dataset(data).read(0, 2)
    assert m.extract(obs, masks).shape == (2, 32, 32)


def test_training_is_reproducible(tmp_path, observation):
    image, mask = observation
    out = []
    for name in ("a", "b"):
        path = tmp_path / f"{name}.safetensors"
        qpik.train("one-step", DATASET, path, seed=5, **TINY_TRAIN)
        out.append(qpik.Model.from_file(path).extract(image, mask))
    np.testing.assert_array_equal(out[0], out[1])


def test_cancelled_training(tmp_path):
    out = tmp_path / "m.safetensors"
    with pytest.raises(qpik.CancelledError) as e:
        qpik.train("one-step", DATASET, out, lambda *a: True, **TINY_TRAIN)
    assert e.value.status is qpik.Status.QPIK_ERR_CANCELLED
    assert not out.exists()  # cancelled before the first epoch finished


def test_exception_in_training_callback_is_reraised(tmp_path):
    class Stop(Exception):
        pass

    calls = []

    def progress(stage, done, total, message):
        calls.append(stage)
        raise Stop("from the callback")

    out = tmp_path / "m.safetensors"
    with pytest.raises(Stop, match="from the callback"):
        qpik.train("one-step", DATASET, out, progress, **TINY_TRAIN)
    assert len(calls) == 1
    assert list(tmp_path.iterdir()) == []


def test_training_errors(tmp_path):
    out = tmp_path / "m.safetensors"
    with pytest.raises(qpik.InvalidArgumentError, match="what = 'gan'"):
        qpik.train("gan", DATASET, out, **TINY_TRAIN)
    with pytest.raises(qpik.QpikIOError):
        qpik.train("one-step", tmp_path / "missing.h5", out, **TINY_TRAIN)
    with pytest.raises(qpik.OptionError, match="train.channels") as e:
        qpik.train("one-step", DATASET, out, train__channels="4,4")
    assert e.value.status is qpik.Status.QPIK_ERR_OPTION_VALUE
    with pytest.raises(qpik.OptionError, match="did you mean 'train.epochs'"):
        qpik.train("one-step", DATASET, out, train__epoch=1)
    assert not out.exists()
