"""Shared fixtures: the repository's tiny model and dataset files, a kernel, an observation."""

from pathlib import Path

import numpy as np
import pytest

import qpik

ROOT = Path(__file__).resolve().parents[3]  # bindings/python/tests/conftest.py
DATA = ROOT / "tests" / "data"
TWO_STEP = DATA / "tiny-two-step.safetensors"
ONE_STEP = DATA / "tiny-one-step.safetensors"
DATASET = DATA / "tiny-dataset.h5"

# Small training settings: seconds on a CPU.
TINY_TRAIN = dict(
    train__epochs=1,
    train__steps_per_epoch=1,
    train__batch_size=2,
    train__channels="4,4,8",
)
# A small generated dataset.
TINY_DATA = dict(size=32, dataset__kernels=3, dataset__per_kernel=2, dataset__unseen_fraction=0)


def pytest_report_header(config):
    return f"qpik binding {qpik.__file__}, library {qpik.load_library()} ({qpik.version()})"


@pytest.fixture(scope="session")
def two_step():
    return qpik.Model.from_file(TWO_STEP)


@pytest.fixture(scope="session")
def one_step():
    return qpik.Model.from_file(ONE_STEP)


@pytest.fixture(scope="session", params=["two-step", "one-step"])
def model(request, two_step, one_step):
    return two_step if request.param == "two-step" else one_step


@pytest.fixture(scope="session")
def kernel():
    return qpik.Kernel("shockley-cu111-0meV")


@pytest.fixture(scope="session")
def observation(kernel):
    """(image as C-order float32, bool mask), 64 x 64 with a few defects."""
    s = qpik.synthesize(kernel, (64, 64), seed=7, defects__count_min=3, defects__count_max=5)
    image = np.ascontiguousarray(s.image, dtype=np.float32)
    image.flags.writeable = False
    s.mask.flags.writeable = False
    return image, s.mask
