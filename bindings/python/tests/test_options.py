"""Keyword arguments as options: key mapping, value text, help."""

from pathlib import Path

import pytest

import qpik
from qpik import _lib, _options


def stored(**kw):
    """The option values the library holds after setting ``kw``."""
    with _options.Options(kw) as o:
        get = _lib.lib().qpik_options_get
        return {k: _options.fetch_string(get, o.handle, _options.key_of(k).encode()) for k in kw}


def test_keywords_map_to_keys_and_text():
    got = stored(
        defects__count_max=5,
        train__augment=False,
        train__resume=True,
        train__channels=(4, 4, 8),
        size=(48, 40),
        pixel_size_a=1.5,
        train__vae=Path("/tmp/v.safetensors"),
    )
    assert got == {
        "defects__count_max": "5",
        "train__augment": "false",
        "train__resume": "true",
        "train__channels": "4,4,8",
        "size": "48x40",
        "pixel_size_a": "1.5",
        "train__vae": "/tmp/v.safetensors",
    }


def test_none_means_default():
    assert stored(seed=None) == {"seed": "0"}


def test_unknown_key_names_the_close_one():
    with pytest.raises(qpik.OptionError) as e:
        qpik.Kernel("shockley-cu111-0meV", defects__count_mx=5)
    err = e.value
    assert err.status is qpik.Status.QPIK_ERR_UNKNOWN_OPTION
    assert "unknown option 'defects.count_mx'" in err.message
    assert "did you mean 'defects.count_max'?" in err.message
    assert "defects__count_max=" in err.message  # the Python spelling too


def test_far_off_key_points_to_the_list():
    with pytest.raises(qpik.OptionError, match="lists every key"):
        qpik.Kernel("shockley-cu111-0meV", zzzzzzzz=1)


def test_bad_value():
    with pytest.raises(qpik.OptionError, match="option 'size' = 'abc'") as e:
        qpik.Kernel("shockley-cu111-0meV", size="abc")
    assert e.value.status is qpik.Status.QPIK_ERR_OPTION_VALUE


def test_help_lists_every_option_with_its_keyword():
    opts = qpik.options()
    keys = {o.key for o in opts}
    assert {"seed", "defects.count_max", "train.channels", "artefacts"} <= keys
    text = qpik.options_help()
    assert len(text.splitlines()) == len(opts)
    line = next(l for l in text.splitlines() if l.startswith("defects__count_max "))
    assert "[20]" in line and "most defects" in line


def test_options_object_is_freed_on_error(monkeypatch):
    real = _lib.lib()
    freed = []

    class Spy:
        def __getattr__(self, name):
            return getattr(real, name)

        def qpik_options_free(self, handle):
            freed.append(handle.value)
            real.qpik_options_free(handle)

    monkeypatch.setattr(_lib, "_lib", Spy())
    with pytest.raises(qpik.OptionError):
        _options.Options({"seed": 1, "bogus_key": 2})
    assert len(freed) == 1 and freed[0]
