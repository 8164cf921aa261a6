"""Devices: listing, virtual CPU devices, device_put/device_get, committed arrays."""

import os
import subprocess
import sys

import numpy as np
import pytest

import funcgrad as fg
import funcgrad.numpy as fnp
from funcgrad.core import backend
from tests import fake_cupy
from tests.backends import BACKENDS, platform, real_gpu_count


def test_devices_and_config():
    with platform("cpu"):
        assert fg.default_backend() == "cpu"
    with fg.config(num_cpu_devices=3):
        assert [repr(d) for d in fg.devices()] == ["cpu:0", "cpu:1", "cpu:2"]
        assert fg.device_count() == 3 and fg.local_devices() == fg.devices("cpu")
    with pytest.raises(ValueError, match="num_cpu_devices must be a positive int"):
        fg.config.update("num_cpu_devices", 0)
    with pytest.raises(ValueError, match="unknown platform"):
        fg.devices("tpu")


def test_gpu_platform_without_a_gpu_is_a_clear_error(monkeypatch):
    monkeypatch.setenv("FUNCGRAD_PLATFORM", "gpu")
    with fake_cupy.installed(n_devices=0):
        with pytest.raises(RuntimeError, match=r"finds no GPU.*funcgrad\[cuda\]"):
            fg.default_backend()
        with pytest.raises(RuntimeError, match=r"fg.devices\('gpu'\)"):
            fg.devices("gpu")
    monkeypatch.setattr(sys, "modules", {**sys.modules, "cupy": None})  # import cupy fails
    backend.reset()
    try:
        with pytest.raises(RuntimeError, match=r"CuPy is not installed.*funcgrad\[cuda\]"):
            fg.default_backend()
    finally:
        monkeypatch.undo()
        backend.reset()


def test_default_platform_is_the_gpu_when_cupy_finds_one(monkeypatch):
    monkeypatch.delenv("FUNCGRAD_PLATFORM", raising=False)
    backend.reset()
    assert fg.default_backend() == ("gpu" if real_gpu_count() else "cpu")
    with fake_cupy.installed(n_devices=2):
        assert fg.default_backend() == "gpu" and fg.devices() == fg.devices("gpu")
        assert [repr(d) for d in fg.devices()] == ["gpu:0", "gpu:1"]
        assert fnp.ones(2).device == fg.devices("gpu")[0]
        with platform("cpu"):  # forced
            assert fg.default_backend() == "cpu" and fnp.ones(2).device == fg.devices("cpu")[0]
    with fake_cupy.installed(n_devices=0):
        assert fg.default_backend() == "cpu" and fnp.ones(2).device.platform == "cpu"
    with pytest.raises(ValueError, match="FUNCGRAD_PLATFORM='tpu'"):
        with platform("tpu"):
            fg.default_backend()


def test_importing_funcgrad_does_not_import_cupy():
    code = "import sys, funcgrad; print('cupy' in sys.modules)"
    env = {k: v for k, v in os.environ.items() if k != "FUNCGRAD_PLATFORM"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert out.stdout.strip() == "False", out.stderr


def _two_devices(backend_name):
    if backend_name == "cpu":
        return fg.devices("cpu")[:2]
    return fg.devices("gpu")[:2]


@pytest.mark.parametrize("backend", BACKENDS, indirect=True)
def test_device_put_get_on_each_backend(backend):
    if backend == "gpu" and real_gpu_count() < 2:
        pytest.skip("needs 2 GPUs")
    with fg.config(num_cpu_devices=2):
        d0, d1 = _two_devices(backend)
        x = fnp.arange(4.0)
        assert x.device == fg.devices()[0]  # host data lands on the default device
        y = fg.device_put(x, d1)
        assert y.device == d1 and (y * 2).device == d1 and fg.jit(lambda v: v + 1)(y).device == d1
        assert fg.device_put(y, d0).device == d0
        host = fg.device_get({"y": y, "n": 3})
        assert type(host["y"]) is np.ndarray and host["n"] == 3
        np.testing.assert_array_equal(host["y"], [0.0, 1.0, 2.0, 3.0])
        view = np.asarray(y)
        assert not view.flags.writeable and view.dtype == np.float32
        assert float(y.sum()) == 6.0 and int(y[3]) == 3 and y.tolist() == [0.0, 1.0, 2.0, 3.0]
        assert repr(y[:2]) == "Array([0., 1.], dtype=float32)"
        assert y.block_until_ready() is y
        assert fg.device_put(np.ones(2)).device == fg.devices()[0]


@pytest.mark.parametrize("backend", ["fake-gpu", "gpu"], indirect=True)
def test_mixing_devices_on_gpus(backend):
    if real_gpu_count() < 2 and backend == "gpu":
        pytest.skip("needs 2 GPUs")
    g0, g1 = fg.devices("gpu")[:2]
    a = fg.device_put(fnp.arange(3.0), g0)
    b = fg.device_put(fnp.arange(3.0), g1)
    for bad in (lambda: a + b, lambda: fg.jit(lambda u, v: u * v)(a, b), lambda: fnp.dot(a, b)):
        with pytest.raises(ValueError) as e:
            bad()
        msg = str(e.value)
        assert "gpu:0" in msg and "gpu:1" in msg and "fg.device_put" in msg
    with platform("cpu"):
        host = fnp.ones(3)  # an uncommitted host array: it follows the GPU operand
        committed = fg.device_put(np.ones(3), fg.devices("cpu")[0])
    assert host.device.platform == "cpu"
    assert (b + host).device == g1 and (host * b).device == g1
    np.testing.assert_array_equal(np.asarray(b + np.ones(3)), [1.0, 2.0, 3.0])
    assert fg.jit(lambda u, v: u - v)(b, host).device == g1
    with pytest.raises(ValueError, match=r"cpu:0.*gpu:1|gpu:1.*cpu:0"):
        committed + b
    # a retrace names the device that changed
    f = fg.jit(lambda u: u * 2)
    f(a), f(b)
    assert "gpu:1" in f.cache_info().last_retrace


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


def test_a_cpu_device_computation_stays_there_under_a_gpu_default(monkeypatch):
    """With the GPU as the default, a grad whose operands are committed to a CPU device keeps
    every intermediate there, 0-d results and grad's cotangent seed included (they used to be
    uncommitted and moved to the GPU, then mixed with the CPU operands)."""
    from funcgrad import nn

    monkeypatch.setenv("FUNCGRAD_PLATFORM", "gpu")
    with fake_cupy.installed(n_devices=1):
        cpu = fg.devices("cpu")[0]
        logits, labels = fg.device_put((np.ones((4, 3), np.float32), np.array([0, 1, 2, 1])), cpu)
        loss, g = fg.value_and_grad(lambda z: nn.cross_entropy(z, labels))(logits)
        assert loss.device == cpu and g.device == cpu
        np.testing.assert_allclose(g, (np.full((4, 3), 1 / 3) - np.eye(3)[[0, 1, 2, 1]]) / 4, 1e-6)
