"""The CuPy double (tests/fake_cupy.py) refuses what CuPy refuses, so the fake-gpu tests find the
bugs a real GPU would: a check that it does, and that the op-table backend test catches an impl
written against NumPy instead of ``xp``."""

import numpy as np
import pytest

import funcgrad as fg
import funcgrad.numpy as fnp
from funcgrad.core import backend
from funcgrad.lax import elementwise
from tests import fake_cupy
from tests.backends import use_backend


def test_the_double_behaves_like_cupy_where_it_matters():
    with fake_cupy.installed(n_devices=2) as cp:
        a = cp.asarray(np.arange(3.0))
        assert type(a) is cp.ndarray and a.device.id == 0 and not isinstance(a, np.ndarray)
        with pytest.raises(TypeError, match="Implicit conversion to a NumPy array"):
            np.asarray(a)
        for mixed in (
            lambda: a + np.ones(3),
            lambda: np.ones(3) * a,
            lambda: cp.add(a, np.ones(3)),
        ):
            with pytest.raises(TypeError, match="Unsupported type"):
                mixed()
        assert type(a + np.float32(1)) is cp.ndarray and type(np.sin(a)) is cp.ndarray
        assert type(np.concatenate([a, a])) is cp.ndarray and type(a.sum()) is cp.ndarray
        np.testing.assert_array_equal(cp.asnumpy(a * 2), [0.0, 2.0, 4.0])
        with cp.cuda.Device(1):
            b = a.copy()  # to the current device
            assert b.device.id == 1 and cp.ones(2).device.id == 1
            with pytest.raises(ValueError, match="different from the current device"):
                a + 1
        with pytest.raises(ValueError, match="different from the current device"):
            b + 1
        with cp.cuda.Device(1), cp.cuda.Stream(non_blocking=True) as s:
            assert cp.cuda.get_current_stream() is s
        assert cp.cuda.runtime.getDeviceCount() == 2
    assert sys_cupy() is None and not backend.state.gpu  # removed, funcgrad back on NumPy


def sys_cupy():
    import sys

    return sys.modules.get("cupy")


def test_fake_gpu_catches_an_impl_that_uses_numpy_instead_of_xp(monkeypatch):
    """A wrong impl (its operand made a NumPy array) passes on the CPU and fails on the fake GPU,
    as it would on a real one."""
    monkeypatch.setattr(elementwise.sin_p, "impl", lambda xp, x: np.sin(np.asarray(x)))
    x = np.linspace(0.0, 1.0, 4)
    np.testing.assert_allclose(np.asarray(fnp.sin(fnp.asarray(x))), np.sin(x))
    with use_backend("fake-gpu", n_fake_devices=1):
        with pytest.raises(TypeError, match="sin.*Implicit conversion"):
            fnp.sin(fnp.asarray(x))
        assert fnp.cos(fnp.asarray(x)).device == fg.devices("gpu")[0]
