"""Devices: listing, virtual CPU devices, device_put/device_get, committed arrays."""

import numpy as np
import pytest

import funcgrad as fg
import funcgrad.numpy as fnp


def test_devices_and_config():
    assert fg.default_backend() == "cpu"
    with fg.config(num_cpu_devices=3):
        assert [repr(d) for d in fg.devices()] == ["cpu:0", "cpu:1", "cpu:2"]
        assert fg.device_count() == 3 and fg.local_devices() == fg.devices("cpu")
    with pytest.raises(ValueError, match="num_cpu_devices must be a positive int"):
        fg.config.update("num_cpu_devices", 0)
    with pytest.raises(ValueError, match="unknown platform"):
        fg.devices("tpu")


def test_gpu_platform_without_cupy_is_a_clear_error(monkeypatch):
    pytest.importorskip("numpy")
    try:
        import cupy  # noqa: F401

        pytest.skip("CuPy is installed")
    except ImportError:
        pass
    monkeypatch.setenv("FUNCGRAD_PLATFORM", "gpu")
    with pytest.raises(RuntimeError, match=r"funcgrad\[cuda\]"):
        fg.default_backend()


def test_device_put_get_and_committed_arrays():
    with fg.config(num_cpu_devices=2):
        d0, d1 = fg.devices()
        tree = fg.device_put({"a": np.ones(2), "b": 3.0}, d1)
        assert tree["a"].device == d1 and tree["b"].device == d1
        assert (tree["a"] * 2).device == d1  # results stay on the operands' device
        assert fnp.ones(2).device == d0  # uncommitted
        got = fg.device_get(tree)
        assert type(got["a"]) is np.ndarray and np.array_equal(got["a"], [1.0, 1.0])
        a0 = fg.device_put(fnp.ones(2), d0)
        with pytest.raises(ValueError) as e:
            a0 + tree["a"]
        msg = str(e.value)
        assert "cpu:0" in msg and "cpu:1" in msg and "fg.device_put" in msg
        with pytest.raises(ValueError, match="does not exist"):
            fg.device_put(np.ones(2), fg.core.backend.Device("cpu", 5))
