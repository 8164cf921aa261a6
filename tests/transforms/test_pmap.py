"""pmap on virtual CPU devices: equals vmap (op-table rows, every collective), transforms of
pmap and inside it, errors."""

import pickle

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import funcgrad as fg
import funcgrad.numpy as fnp
from funcgrad import lax
from funcgrad.lax.parallel import UnboundAxisError
from tests.op_table import OPS
from tests.strategies import shapes_for, values


@pytest.fixture(params=[1, 2, 4])
def ndev(request):
    with fg.config(num_cpu_devices=request.param):
        yield request.param


def _close(a, b, **kw):
    for u, w in zip(fg.tree_util.tree_leaves(a), fg.tree_util.tree_leaves(b)):
        np.testing.assert_allclose(np.asarray(u), np.asarray(w), rtol=1e-5, atol=1e-6, **kw)


_ROWS = list(OPS[:40])


@pytest.mark.parametrize("op", _ROWS, ids=[op.name for op in _ROWS])
@settings(max_examples=3, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_pmap_equals_vmap_on_op_table_rows(op, data):
    shapes = data.draw(shapes_for(op, min_side=1, max_side=3), label="shapes")
    seed = data.draw(st.integers(0, 2**16), label="seed")
    dtype = op.dtypes[0]
    try:
        op.ref(*values(op, shapes, dtype, seed))
    except (ValueError, TypeError):
        return  # the operation itself is invalid here
    args = values(op, [(2,) + tuple(s) for s in shapes], dtype, seed)
    f = lambda *a: op.fn(*a, **op.kwargs)  # noqa: E731
    with fg.config(num_cpu_devices=2):
        expected = fg.vmap(f)(*args)
        _close(fg.pmap(f)(*args), expected)


COLLECTIVES = {
    "psum": lambda v: lax.psum(v, "i"),
    "pmean": lambda v: lax.pmean(v, "i"),
    "pmax": lambda v: lax.pmax(v, "i"),
    "pmin": lambda v: lax.pmin(v, "i"),
    "all_gather": lambda v: lax.all_gather(v, "i"),
    "all_gather_tiled": lambda v: lax.all_gather(v, "i", axis=1, tiled=True),
    "axis_index": lambda v: v * lax.axis_index("i"),
    "psum_const": lambda v: v + lax.psum(1.0, "i"),
    "normalize": lambda v: v / lax.psum(fnp.abs(v), "i"),
}


@pytest.mark.parametrize("name", sorted(COLLECTIVES))
def test_pmap_equals_vmap_for_collectives(name, ndev):
    x = np.random.default_rng(1).standard_normal((ndev, 3, 2)).astype(np.float32)
    f = COLLECTIVES[name]
    _close(fg.pmap(f, "i")(x), fg.vmap(f, axis_name="i")(x))


def test_ppermute_shift_and_partial_perm(ndev):
    x = np.arange(ndev * 2.0, dtype=np.float32).reshape(ndev, 2)
    for perm in ([(k, (k + 1) % ndev) for k in range(ndev)], [(0, ndev - 1)]):
        f = lambda v, perm=perm: lax.ppermute(v, "i", perm)  # noqa: E731
        _close(fg.pmap(f, "i")(x), fg.vmap(f, axis_name="i")(x))
        g = lambda v, perm=perm: lax.ppermute(fnp.ones(2), "i", perm) + v  # noqa: E731
        _close(fg.pmap(g, "i")(x), fg.vmap(g, axis_name="i")(x))


def test_collective_sums_are_bit_identical_on_every_device():
    with fg.config(num_cpu_devices=4):
        x = np.random.default_rng(2).standard_normal((4, 1000)).astype(np.float32)
        out = np.asarray(fg.pmap(lambda v: lax.psum(v, "i"), "i")(x))
        for k in range(1, 4):
            assert np.array_equal(out[0], out[k])


def test_grad_through_collectives_and_of_pmap(ndev):
    x = np.random.default_rng(3).standard_normal((ndev, 3)).astype(np.float32)

    def f(v):
        return (fnp.sin(v) * lax.psum(v, "i") + lax.pmax(v * v, "i")).sum()

    loss_p = lambda p: fg.pmap(f, "i")(p).sum()  # noqa: E731
    loss_v = lambda p: fg.vmap(f, axis_name="i")(p).sum()  # noqa: E731
    _close(fg.grad(loss_p)(x), fg.grad(loss_v)(x))
    _close(fg.jvp(loss_p, (x,), (np.ones_like(x),)), fg.jvp(loss_v, (x,), (np.ones_like(x),)))
    # pmap of grad with pmean'd gradients (data-parallel)
    w = np.ones(3, np.float32)
    step = lambda w, v: lax.pmean(fg.grad(lambda w: (w * v).sum() ** 2)(w), "i")  # noqa: E731
    _close(
        fg.pmap(step, "i", in_axes=(None, 0))(w, x),
        fg.vmap(step, in_axes=(None, 0), axis_name="i")(w, x),
    )


def test_vmap_inside_pmap_nested_axis_names_and_vmap_of_pmap():
    with fg.config(num_cpu_devices=2):
        x = np.random.default_rng(4).standard_normal((2, 3, 4)).astype(np.float32)

        def f(v):
            return fg.vmap(lambda u: lax.psum(u, "j") * lax.psum(u, "p"), axis_name="j")(v)

        expected = fg.vmap(f, axis_name="p")(x)
        _close(fg.pmap(f, "p")(x), expected)
        g = fg.pmap(lambda v: lax.psum(v, "p") * 2.0, "p")
        _close(fg.vmap(g, in_axes=1)(x), fg.vmap(lambda a: g(a), in_axes=1)(x))
        _close(fg.vmap(g, in_axes=1)(x), np.stack([np.asarray(g(x[:, k])) for k in range(3)]))


def test_pmap_of_jit_and_jit_of_pmap_and_caching():
    with fg.config(num_cpu_devices=2):
        x = np.arange(6.0, dtype=np.float32).reshape(2, 3)
        inner = fg.jit(lambda v: lax.psum(v * 2.0, "i"))
        expected = np.broadcast_to(2 * x.sum(0), (2, 3))
        _close(fg.pmap(inner, "i")(x), expected)
        outer = fg.jit(fg.pmap(lambda v: lax.psum(v * 2.0, "i"), "i"))
        _close(outer(x), expected)
        _close(outer(x), expected)
        p = fg.pmap(lambda v, k: v * k, static_broadcasted_argnums=1)
        _close(p(x, 3), x * 3)
        _close(p(x, 3), x * 3)
        assert p._misses == 1
        _close(p(x, 4), x * 4)
        assert p._misses == 2


def test_in_axes_out_axes_pytrees_and_kwargs():
    with fg.config(num_cpu_devices=2):
        x = np.arange(6.0, dtype=np.float32).reshape(3, 2)
        f = fg.pmap(
            lambda d, s: {"a": d["w"] + s, "b": d["w"] * 0 + 1},
            in_axes=({"w": 1}, None),
            out_axes={"a": 1, "b": 0},
        )
        out = f({"w": x}, fnp.ones(3))
        _close(out["a"], x + 1)
        assert out["b"].shape == (2, 3)


def test_unbound_axis_and_impl_outside_pmap():
    with fg.config(num_cpu_devices=2):
        with pytest.raises(UnboundAxisError, match="unbound axis name 'j'"):
            fg.pmap(lambda v: lax.psum(v, "j"), "i")(np.ones((2, 2), np.float32))


def test_errors_mapped_size_vs_devices():
    with fg.config(num_cpu_devices=2):
        f = fg.pmap(lambda v: v)
        with pytest.raises(ValueError) as e:
            f(np.ones((3, 2)))
        msg = str(e.value)
        assert "v has size 3" in msg and "only 2 device(s)" in msg
        assert "FUNCGRAD_NUM_CPU_DEVICES" in msg and "devices=" in msg
        g = fg.pmap(lambda v: v, devices=fg.devices()[:1])
        with pytest.raises(ValueError) as e:
            g(np.ones((2, 2)))
        assert "devices= lists 1 device(s)" in str(e.value) and "size 2" in str(e.value)
        with pytest.raises(ValueError, match="different sizes"):
            fg.pmap(lambda a, b: a + b)(np.ones(2), np.ones(1))
        with pytest.raises(ValueError, match="no argument is mapped"):
            fg.pmap(lambda a: a, in_axes=None)(np.ones(2))


def test_shard_error_does_not_hang():
    with fg.config(num_cpu_devices=2):

        def f(v):
            return lax.psum(fg.debug.callback(_fail_on_1, lax.axis_index("i")) * 0 + v, "i")

        x = np.ones((2, 2), np.float32)
        try:
            fg.pmap(f, "i")(x)
        except Exception:
            pass  # a callback that raises on one shard must not deadlock the others


def _fail_on_1(i):
    if int(i) == 1:
        raise RuntimeError("shard 1 fails")


@pytest.mark.parametrize("backend", ["fake-gpu", "gpu"], indirect=True)
def test_pmap_over_gpus_equals_vmap(backend):
    """One shard per GPU (under its cupy.cuda.Device and stream): collectives, grad of pmap,
    outputs on the first GPU; equal to vmap with the same axis name."""
    from tests.backends import gpu_count

    n = gpu_count(backend)
    if n < 2:
        pytest.skip("needs 2 GPUs")
    devices = fg.devices("gpu")[:2]
    x = np.random.default_rng(3).standard_normal((2, 3, 2)).astype(np.float32)
    for name, f in COLLECTIVES.items():
        out = fg.pmap(f, "i", devices=devices)(x)
        assert out.device == devices[0], name
        _close(out, fg.vmap(f, axis_name="i")(x))
    perm = [(0, 1), (1, 0)]
    g = lambda v: lax.ppermute(v, "i", perm) * lax.axis_index("i")  # noqa: E731
    _close(fg.pmap(g, "i", devices=devices)(x), fg.vmap(g, axis_name="i")(x))

    def loss(w, xs):
        return lax.pmean(fnp.sum(fnp.tanh(xs @ w) ** 2), "i")

    w = fnp.ones((2, 4))
    grads = fg.pmap(fg.grad(loss), "i", in_axes=(None, 0), devices=devices)(w, x)
    expected = fg.vmap(fg.grad(loss), (None, 0), axis_name="i")(w, x)
    _close(grads, expected)
    outer = lambda w: fg.pmap(loss, "i", in_axes=(None, 0), devices=devices)(w, x).sum()  # noqa: E731
    g = fg.grad(outer)(w)  # grad of pmap: pmap_p's vjp, run on the GPUs again
    assert g.device.platform == "gpu"
    _close(g, fg.grad(lambda w: fg.vmap(loss, (None, 0), axis_name="i")(w, x).sum())(w))
    with fg.config(debug_nans=True):
        _close(
            fg.pmap(lambda v: lax.psum(v, "i"), "i", devices=devices)(x), np.stack([x.sum(0)] * 2)
        )
    on_gpu1 = fg.device_put(fnp.asarray(x), devices[1])  # inputs on any GPU are sharded over
    summed = fg.pmap(lambda v: lax.psum(v, "i"), "i", devices=devices)(on_gpu1)
    _close(summed, np.stack([x.sum(0)] * 2))
    with fg.config(num_cpu_devices=2):  # the default devices are the GPUs
        assert fg.pmap(lambda v: v + 1)(x).device.platform == "gpu"


@pytest.mark.parametrize("with_nccl", [False, True], ids=["host-staged", "nccl"])
def test_pmap_collectives_on_fake_gpus_through_each_communicator(with_nccl):
    """The GPU collectives, host-staged (no NCCL) and through NCCL all-gathers (the fake's
    ``cupy.cuda.nccl``): every collective equals vmap, and a failing shard aborts the others."""
    from funcgrad.lax import parallel
    from tests import fake_cupy
    from tests.backends import platform

    with fake_cupy.installed(n_devices=2, with_nccl=with_nccl), platform("gpu"):
        devices = fg.devices("gpu")
        kind = parallel.NcclCommunicator if with_nccl else parallel.Communicator
        assert type(parallel.make_gpu_communicator([0, 1])) is kind
        x = np.random.default_rng(4).standard_normal((2, 3, 2)).astype(np.float32)
        for f in COLLECTIVES.values():
            _close(fg.pmap(f, "i", devices=devices)(x), fg.vmap(f, axis_name="i")(x))
        scalar = fg.pmap(lambda v: lax.pmean(v.sum(), "i"), "i", devices=devices)(x)
        assert scalar.shape == (2,)  # a 0-d value through NCCL's bytes stays 0-d
        flags = np.array([[True, False], [False, False]])  # bool and int payloads too
        any_ = fg.pmap(lambda b: lax.psum(b.astype(np.int32), "i") > 0, "i", devices=devices)
        np.testing.assert_array_equal(np.asarray(any_(flags)), [[True, False]] * 2)

        def body(v):
            fg.debug.callback(_fail_on_shard_1, lax.axis_index("i"))
            return lax.psum(v, "i")

        with pytest.raises(RuntimeError, match="shard 1 failed"):
            fg.pmap(body, "i", devices=devices)(x)
        summed = fg.pmap(lambda v: lax.psum(v, "i"), "i", devices=devices)(x)  # works again
        _close(summed, np.stack([x.sum(0)] * 2))


def _fail_on_shard_1(i):
    if int(i) == 1:
        raise RuntimeError("shard 1 failed")


# ---------------------------------------------------------------------------------------------
# Sharded outputs on GPUs (fake GPUs: tests/fake_cupy.py)


@pytest.fixture
def two_fake_gpus():
    from tests import fake_cupy
    from tests.backends import platform

    # Collectives through the fake NCCL: the host-staged ones copy to the host (.get()).
    with fake_cupy.installed(n_devices=2, with_nccl=True), platform("gpu"):
        yield fg.devices("gpu")


class _Moves:
    """Counts the fake CuPy's stacks, concatenations, copies (across devices too) and copies
    to the host inside the block."""

    def __init__(self, monkeypatch):
        from tests import fake_cupy

        self.counts = {"stack": 0, "concatenate": 0, "copy": 0, "get": 0}
        module, nd = fake_cupy.module, fake_cupy.ndarray
        for name in ("stack", "concatenate"):
            monkeypatch.setattr(module, name, self._counting(name, getattr(module, name)))
        for name in ("copy", "get"):
            monkeypatch.setattr(nd, name, self._counting(name, getattr(nd, name)))

    def _counting(self, name, fn):
        def counted(*args, **kwargs):
            self.counts[name] += 1
            return fn(*args, **kwargs)

        return counted

    def total(self) -> int:
        return sum(self.counts.values())


def _sharded_value(a):
    from funcgrad.core import backend

    v = a._value
    assert type(v) is backend.Sharded, type(v)
    return v


def test_gpu_pmap_outputs_stay_sharded_until_read(two_fake_gpus, monkeypatch):
    devices = two_fake_gpus
    x = np.random.default_rng(5).standard_normal((2, 3, 4)).astype(np.float32)
    f = lambda v: (fnp.sin(v) * 2, lax.psum(v, "i"))  # noqa: E731
    out, total = fg.pmap(f, "i", out_axes=(0, None))(x)
    moves = _Moves(monkeypatch)  # (the host-staged psum copies to the host: counted after it)
    s = _sharded_value(out)
    assert [sh.device.id for sh in s.shards] == [0, 1]
    assert out.devices() == list(devices) and out.device == devices[0]
    assert (out.shape, out.dtype, out.ndim, out.size) == ((2, 3, 4), np.float32, 3, 24)
    assert moves.counts["stack"] == 0 and moves.counts["get"] == 0  # nothing gathered yet
    assert total.devices() == [devices[0]]  # an unmapped output: device 0's, not sharded
    expected = fg.vmap(lambda v: fnp.sin(v) * 2)(x)
    np.testing.assert_allclose(np.asarray(out), np.asarray(expected), rtol=1e-6)
    assert "Array(" in repr(out) and str(out)
    np.testing.assert_allclose(np.asarray(total), x.sum(0), rtol=1e-6)
    moved = fg.pmap(lambda v: v * 3, out_axes=1)(x)  # the device axis elsewhere
    assert _sharded_value(moved).axis == 1 and moved.shape == (3, 2, 4)
    np.testing.assert_allclose(np.asarray(moved), np.moveaxis(x * 3, 0, 1), rtol=1e-6)
    with pytest.raises(TypeError, match="without gathering"):
        np.asarray(s)  # a Sharded read as an array is a loud internal error, never a silent one


def test_sharded_output_fed_back_into_pmap_is_not_gathered(two_fake_gpus, monkeypatch):
    devices = two_fake_gpus
    x = np.arange(12.0, dtype=np.float32).reshape(2, 6)
    step = fg.pmap(lambda v: v - lax.pmean(v, "i") * 0.5, "i")
    y = step(x)
    moves = _Moves(monkeypatch)
    z = step(step(y))
    assert moves.counts == {"stack": 0, "concatenate": 0, "copy": 0, "get": 0}, moves.counts
    assert z.devices() == list(devices)
    ref = x
    for _ in range(3):
        ref = ref - ref.mean(0) * 0.5
    np.testing.assert_allclose(np.asarray(z), ref, rtol=1e-6)
    # Mapped along another axis, or given whole to every device: gathered first, still right.
    x3 = np.arange(12.0, dtype=np.float32).reshape(2, 2, 3)
    y1 = fg.pmap(lambda v: v + 1, out_axes=1)(x3)  # sharded along axis 1
    moves = _Moves(monkeypatch)
    same = fg.pmap(lambda v: v * 2, in_axes=1)(y1)  # the sharded axis: no gather
    assert moves.counts["stack"] == 0 and moves.counts["copy"] == 0
    other = fg.pmap(lambda v: v * 2, in_axes=0)(y1)  # another axis: gathered, then sliced
    assert moves.counts["stack"] == 1
    np.testing.assert_allclose(np.asarray(same), (x3 + 1) * 2, rtol=1e-6)
    np.testing.assert_allclose(np.asarray(other), np.moveaxis(x3 + 1, 0, 1) * 2, rtol=1e-6)
    both = fg.pmap(lambda a, b: a + b.sum(), in_axes=(0, None))(x, y)  # y to every device
    np.testing.assert_allclose(np.asarray(both), x + np.asarray(y).sum(), rtol=1e-5)
    one = fg.pmap(lambda v: v + 1, devices=devices[1:])(x[:1])  # one device: a plain array
    assert one.devices() == [devices[1]]
    np.testing.assert_allclose(np.asarray(one), x[:1] + 1)


def test_other_operations_on_a_sharded_array_see_the_stacked_value(two_fake_gpus, monkeypatch):
    """Eager ops, indexing, jit (as an argument and as a constant), vmap and grad gather it onto
    the first GPU (once) and give what the stacked value gives."""
    devices = two_fake_gpus
    x = np.random.default_rng(6).standard_normal((2, 3)).astype(np.float32)
    s = fg.pmap(lambda v: v * 2)(x)
    d = fg.device_put(fnp.asarray(x * 2), devices[0])  # the same value, stacked on GPU 0
    _sharded_value(s)
    ways = {
        "eager": lambda a: fnp.tanh(a) + a.sum(0),
        "index": lambda a: a[1, ::2] * a[:, 0].max(),
        "at_set": lambda a: a.at[0, 1].set(7.0),
        "jit": fg.jit(lambda a: a @ a.T),
        "vmap": fg.vmap(lambda r: fnp.dot(r, r)),
        "grad": fg.grad(lambda a: fnp.sum(fnp.sin(a) ** 2)),
        "jit_const": lambda a: fg.jit(lambda y: y * a)(fnp.ones(3)),
    }
    for name, f in ways.items():
        got, want = f(s), f(d)
        assert got.devices() == [devices[0]], name
        np.testing.assert_allclose(np.asarray(got), np.asarray(want), rtol=1e-6, err_msg=name)
    moves = _Moves(monkeypatch)
    s + 1, s * 2  # noqa: B018 - gathered once, then the stacked buffer is reused
    assert moves.counts["stack"] == 0
    assert float(s[1, 2]) == pytest.approx(float(x[1, 2] * 2))
    on_gpu1 = fg.device_put(fnp.ones(3), devices[1])
    with pytest.raises(ValueError, match=r"add.*gpu:0 and gpu:1.*device_put"):
        s + on_gpu1  # noqa: B018 - gathered on gpu:0, the other operand is on gpu:1


def test_data_parallel_training_loop_keeps_params_sharded(two_fake_gpus, monkeypatch):
    """pmap of grad with pmean, params replicated over the devices (in_axes/out_axes 0): the
    same params as on virtual CPU devices, and after the first step nothing is gathered."""
    rng = np.random.default_rng(7)
    xs = rng.standard_normal((2, 4, 3)).astype(np.float32)  # (devices, batch, features)
    ys = rng.standard_normal((2, 4)).astype(np.float32)

    def loss(params, x, y):
        return fnp.mean((fnp.tanh(x @ params["w"]) + params["b"] - y) ** 2)

    def train_step(params, x, y):
        grads = lax.pmean(fg.grad(loss)(params, x, y), "batch")
        return fg.tree_util.tree_map(lambda p, g: p - 0.1 * g, params, grads)

    init = {"w": rng.standard_normal(3).astype(np.float32), "b": np.float32(0.5)}
    replicated = fg.tree_util.tree_map(lambda p: np.stack([p, p]), init)

    def run(devices):
        step = fg.pmap(train_step, "batch", devices=devices)
        params = replicated
        for _ in range(4):
            params = step(params, xs, ys)
        return params

    with fg.config(num_cpu_devices=2):
        expected = run(fg.devices("cpu"))
    devices = two_fake_gpus
    step = fg.pmap(train_step, "batch", devices=devices)
    params = step(replicated, xs, ys)
    x_gpu = fg.pmap(lambda v: v, devices=devices)(xs)  # the batches sharded too
    y_gpu = fg.pmap(lambda v: v, devices=devices)(ys)
    moves = _Moves(monkeypatch)
    for _ in range(3):
        params = step(params, x_gpu, y_gpu)
    assert moves.counts == {"stack": 0, "concatenate": 0, "copy": 0, "get": 0}, moves.counts
    for leaf in fg.tree_util.tree_leaves(params):
        assert leaf.devices() == list(devices)
    _close(params, expected)
    got = fg.device_get(params)
    np.testing.assert_array_equal(got["w"][0], got["w"][1])  # still replicated
    assert isinstance(got["b"], np.ndarray) and got["b"].shape == (2,)


def test_device_get_put_save_and_block_on_sharded_arrays(two_fake_gpus, tmp_path):
    devices = two_fake_gpus
    x = np.arange(6.0, dtype=np.float32).reshape(2, 3)
    s = fg.pmap(lambda v: v + 1)(x)
    assert s.block_until_ready() is s
    np.testing.assert_array_equal(fg.device_get({"s": s})["s"], x + 1)
    for device in devices:
        put = fg.device_put(s, device)
        assert put.devices() == [device]
        np.testing.assert_array_equal(np.asarray(put), x + 1)
    with fg.config(num_cpu_devices=2):
        on_cpu = fg.device_put(s, fg.devices("cpu")[1])
        assert on_cpu.device == fg.devices("cpu")[1]
        np.testing.assert_array_equal(np.asarray(on_cpu), x + 1)
    assert fg.device_put(s) is s  # no device: stays where it is, sharded
    path = tmp_path / "params.fg"
    fg.save(path, {"s": s})
    np.testing.assert_array_equal(np.asarray(fg.load(path)["s"]), x + 1)
    np.testing.assert_array_equal(np.asarray(pickle.loads(pickle.dumps(s))), x + 1)
