"""fg.Array: immutability, operators, repr, conversions, dtype rules."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

import funcgrad as fg
import funcgrad.numpy as fnp


def test_properties_and_repr():
    x = fnp.asarray([[1.0, 2.0], [3.0, 4.0]])
    assert x.shape == (2, 2) and x.ndim == 2 and x.size == 4 and x.dtype == np.float32
    assert x.T.shape == (2, 2) and np.array_equal(np.asarray(x.T), np.asarray(x).T)
    assert repr(x) == "Array([[1., 2.],\n       [3., 4.]], dtype=float32)"
    assert str(fnp.asarray(1.5)) == "1.5"
    assert x.device.platform == "cpu"
    assert x.block_until_ready() is x
    assert len(x) == 2 and float(x.sum()) == 10.0 and x.tolist() == [[1, 2], [3, 4]]
    assert isinstance(x, fnp.ndarray)


def test_immutability():
    src = np.arange(4.0)
    x = fnp.asarray(src)
    v = np.asarray(x)
    with pytest.raises(ValueError):
        v[0] = 1.0
    with pytest.raises(TypeError, match="at"):
        x[0] = 2.0
    src[0] = 9.0
    assert np.asarray(x)[0] == 0.0
    c = np.array(x)  # an explicit copy is writable and independent
    c[0] = 5.0
    assert np.asarray(x)[0] == 0.0


def test_operators_match_numpy():
    a_np = np.array([[1.0, -2.0], [3.0, 4.0]])
    b_np = np.array([0.5, 2.0])
    a, b = fnp.asarray(a_np), fnp.asarray(b_np)
    pairs = {
        "+": (a + b, a_np + b_np),
        "-": (a - b, a_np - b_np),
        "*": (a * b, a_np * b_np),
        "/": (a / b, a_np / b_np),
        "**": (a**2, a_np**2),
        "//": (a // b, a_np // b_np),
        "%": (a % b, a_np % b_np),
        "@": (a @ b, a_np @ b_np),
        "neg": (-a, -a_np),
        "abs": (abs(a), abs(a_np)),
        "r+": (1.0 + a, 1.0 + a_np),
        "r-": (1.0 - a, 1.0 - a_np),
        "r/": (1.0 / b, 1.0 / b_np),
        "r**": (2.0**b, 2.0**b_np),
        "np+": (a_np + a, a_np + a_np),
        "<": (a < b, a_np < b_np),
        "==": (a == b, a_np == b_np),
        "list*": (a * [1.0, 2.0], a_np * [1.0, 2.0]),
    }
    for name, (got, want) in pairs.items():
        np.testing.assert_allclose(np.asarray(got), want, rtol=1e-6, err_msg=name)
    assert isinstance(a_np + a, fg.Array)


def test_python_scalars_are_weak_and_dtypes_preserved():
    x32 = fnp.ones(3)
    assert (x32 * 2.5).dtype == np.float32
    assert (x32 + 1).dtype == np.float32
    assert fnp.asarray(np.ones(2)).dtype == np.float64
    assert (fnp.asarray(np.ones(2)) * np.float32(2)).dtype == np.float64
    assert fnp.asarray(1.0).dtype == np.float32 and fnp.asarray(1).dtype == np.int64
    assert fnp.sin(1.0).dtype == np.float32
    with fg.config(default_float_dtype=np.float64):
        assert fnp.zeros(2).dtype == np.float64 and fnp.asarray(1.0).dtype == np.float64
    assert fnp.zeros(2).dtype == np.float32


def test_conversions_and_pickle():
    x = fnp.asarray(3.0)
    assert float(x) == 3.0 and int(x) == 3 and bool(x) and x.item() == 3.0
    assert [float(v) for v in fnp.arange(3.0)] == [0.0, 1.0, 2.0]
    y = pickle.loads(pickle.dumps(fnp.arange(4.0)))
    assert isinstance(y, fg.Array) and np.array_equal(np.asarray(y), np.arange(4.0))
    with pytest.raises(TypeError, match="0-d"):
        len(x)
    with pytest.raises(TypeError, match="integer"):
        [1, 2][fnp.asarray(1.0)]
