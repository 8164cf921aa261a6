"""nn layers: PyTorch's default initialisations, nn.init, BatchNorm's statistics, layer forms."""

import functools
import math

import numpy as np
import pytest

import funcgrad as fg
import funcgrad.numpy as fnp
from funcgrad import nn
from funcgrad.nn import functional as F
from tests.backends import platform
from tests.helpers import check_grads
from tests.nn import reference as ref

KEY = fg.random.key(0)


def _np(tree):
    return fg.tree_util.tree_map(np.asarray, tree)


def _run(layer, x, **kw):
    return np.asarray(layer.apply(layer.init(KEY, dtype=np.float64), fnp.asarray(x), **kw))


@pytest.mark.parametrize(
    "layer,fan_in",
    [
        (nn.Linear(50, 40), 50),
        (nn.Conv2d(6, 30, 3, groups=2), 27),
        (nn.Conv1d(4, 20, 5), 20),
        (nn.ConvTranspose2d(6, 8, 3, groups=2), 36),
    ],
)
def test_default_init_bounds(layer, fan_in):
    p = _np(layer.init(KEY))
    bound = 1 / math.sqrt(fan_in)  # kaiming_uniform(a=sqrt(5)) and the bias rule agree
    for name in ("weight", "bias"):
        v = p[name]
        assert v.dtype == np.float32
        assert np.abs(v).max() <= bound
        assert np.abs(v).max() > 0.8 * bound  # fills the interval
    assert np.abs(p["weight"].mean()) < bound / 5


def test_norm_and_embedding_init():
    bn, ln = _np(nn.BatchNorm2d(3).init(KEY)), _np(nn.LayerNorm((2, 3)).init(KEY))
    np.testing.assert_array_equal(bn["weight"], 1)
    np.testing.assert_array_equal(bn["bias"], 0)
    assert ln["weight"].shape == (2, 3)
    st = _np(nn.BatchNorm2d(3).init_state())
    np.testing.assert_array_equal(st["running_var"], 1)
    assert st["num_batches_tracked"] == 0
    emb = _np(nn.Embedding(400, 50, padding_idx=-1).init(KEY))["weight"]
    assert abs(emb.std() - 1) < 0.03 and abs(emb.mean()) < 0.03
    np.testing.assert_array_equal(emb[399], 0)
    assert nn.BatchNorm1d(3, affine=False, track_running_stats=False).init(KEY) == {}


def test_init_functions():
    shape = (300, 200, 3)
    fan_in, fan_out = 200 * 3, 300 * 3
    cases = [
        (nn.init.xavier_uniform, math.sqrt(6 / (fan_in + fan_out)) / math.sqrt(3)),
        (nn.init.xavier_normal, math.sqrt(2 / (fan_in + fan_out))),
        (nn.init.kaiming_uniform, math.sqrt(2) / math.sqrt(fan_in)),
        (
            functools.partial(nn.init.kaiming_normal, nonlinearity="relu", mode="fan_out"),
            math.sqrt(2 / fan_out),
        ),
        (functools.partial(nn.init.normal, std=0.02), 0.02),
        (functools.partial(nn.init.uniform, a=-1, b=1), 1 / math.sqrt(3)),
    ]
    for fn, std in cases:
        w = np.asarray(fn(KEY, shape))
        assert w.shape == shape and w.dtype == np.float32
        assert abs(w.std() / std - 1) < 0.03, fn
    assert np.asarray(nn.init.kaiming_uniform(KEY, shape, a=math.sqrt(5))).max() <= 1 / math.sqrt(
        fan_in
    )
    assert np.asarray(nn.init.zeros(KEY, (2,), np.float64)).dtype == np.float64
    np.testing.assert_array_equal(np.asarray(nn.init.ones(KEY, (2, 2))), 1)
    np.testing.assert_array_equal(np.asarray(nn.init.constant(KEY, (2,), value=3.0)), 3)
    assert nn.init.calculate_gain("leaky_relu", math.sqrt(5)) == pytest.approx(math.sqrt(1 / 3))
    with pytest.raises(ValueError, match="2 dims"):
        nn.init.xavier_uniform(KEY, (3,))


@pytest.mark.parametrize("shape", [(5, 5), (3, 7), (8, 2, 2)])
def test_orthogonal(shape):
    w = np.asarray(nn.init.orthogonal(KEY, shape, np.float64, gain=2.0)).reshape(shape[0], -1)
    small = min(w.shape)
    gram = w @ w.T if w.shape[0] <= w.shape[1] else w.T @ w
    np.testing.assert_allclose(gram, 4 * np.eye(small), atol=1e-10)


def test_batchnorm_train_eval_against_reference():
    rng = np.random.default_rng(0)
    layer = nn.BatchNorm2d(3, momentum=0.3, eps=1e-3)
    params = layer.init(KEY, dtype=np.float64)
    params = {"weight": fnp.asarray(rng.normal(size=3)), "bias": fnp.asarray(rng.normal(size=3))}
    state = layer.init_state(dtype=np.float64)
    rm, rv = np.zeros(3), np.ones(3)
    w, b = np.asarray(params["weight"]), np.asarray(params["bias"])
    for step in range(3):
        x = rng.normal(size=(4, 3, 2, 3)) * (step + 1) + step
        y, state = layer.apply(params, fnp.asarray(x), state=state, train=True)
        ey, mean, var_unbiased = ref.batch_norm_train(x, w, b, 1e-3)
        rm, rv = 0.7 * rm + 0.3 * mean, 0.7 * rv + 0.3 * var_unbiased
        np.testing.assert_allclose(np.asarray(y), ey, rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(np.asarray(state["running_mean"]), rm, rtol=1e-12)
        np.testing.assert_allclose(np.asarray(state["running_var"]), rv, rtol=1e-12)
        assert int(state["num_batches_tracked"]) == step + 1
    x = rng.normal(size=(2, 3, 2, 2))
    y, after = layer.apply(params, fnp.asarray(x), state=state, train=False)
    np.testing.assert_allclose(np.asarray(y), ref.batch_norm_eval(x, rm, rv, w, b, 1e-3), rtol=1e-9)
    assert after is state


def test_batchnorm_variants():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(5, 2, 3))
    # cumulative average (momentum=None): the plain mean of the batch statistics
    layer = nn.BatchNorm1d(2, momentum=None)
    p, s = layer.init(KEY, dtype=np.float64), layer.init_state(dtype=np.float64)
    means = []
    for i in range(3):
        xi = x + i
        _, s = layer.apply(p, fnp.asarray(xi), state=s, train=True)
        means.append(xi.mean(axis=(0, 2)))
    np.testing.assert_allclose(np.asarray(s["running_mean"]), np.mean(means, axis=0), rtol=1e-12)
    assert s["running_mean"].dtype == np.float64
    # no running statistics: batch statistics in both modes, no state
    plain = nn.BatchNorm1d(2, affine=False, track_running_stats=False)
    y = plain.apply({}, fnp.asarray(x))
    np.testing.assert_allclose(
        np.asarray(y), ref.batch_norm_train(x, np.ones(2), np.zeros(2), 1e-5)[0], rtol=1e-9
    )
    assert plain.init_state() == {}
    with pytest.raises(ValueError, match="more than one value"):
        layer.apply(p, fnp.ones((1, 2)), state=s, train=True)
    check_grads(
        lambda v: nn.BatchNorm1d(2, affine=False).apply(
            {}, v, state=layer.init_state(np.float64), train=True
        )[0],
        (x,),
        order=1,
    )


def test_layernorm_embedding_layers():
    rng = np.random.default_rng(2)
    x = rng.normal(size=(2, 3, 4))
    np.testing.assert_allclose(
        _run(nn.LayerNorm(4), x), ref.layer_norm(x, 1, 1.0, 0.0, 1e-5), rtol=1e-9
    )
    ln = nn.LayerNorm((3, 4), elementwise_affine=False)
    assert ln.init(KEY) == {}
    np.testing.assert_allclose(_run(ln, x), ref.layer_norm(x, 2, 1.0, 0.0, 1e-5), rtol=1e-9)
    with pytest.raises(ValueError, match=r"\(\.\.\., 5\)"):
        _run(nn.LayerNorm(5), x)
    emb = nn.Embedding(5, 2, padding_idx=0)
    p = emb.init(KEY)
    idx = fnp.asarray([[0, 4], [1, 1]])
    np.testing.assert_array_equal(
        np.asarray(emb.apply(p, idx)), np.asarray(p["weight"])[np.asarray(idx)]
    )
    g = fg.grad(lambda q: fnp.sum(emb.apply(q, idx)))(p)
    np.testing.assert_array_equal(np.asarray(g["weight"])[:, 0], [0, 2, 0, 0, 1])
    with pytest.raises(TypeError, match="integer"):
        emb.apply(p, fnp.asarray([0.5]))


def test_conv_layers_match_functional():
    rng = np.random.default_rng(3)
    x = rng.normal(size=(2, 4, 7, 6))
    for layer, fn in [
        (
            nn.Conv2d(4, 6, (3, 2), stride=2, padding=1, dilation=(1, 2), groups=2),
            lambda p: F.conv2d(fnp.asarray(x), p["weight"], p["bias"], 2, 1, (1, 2), 2),
        ),
        (
            nn.Conv2d(4, 3, 3, padding="same", bias=False),
            lambda p: F.conv2d(fnp.asarray(x), p["weight"], None, 1, "same"),
        ),
        (
            nn.ConvTranspose2d(4, 6, 3, stride=2, padding=1, output_padding=1, groups=2),
            lambda p: F.conv_transpose2d(fnp.asarray(x), p["weight"], p["bias"], 2, 1, 1, 2),
        ),
    ]:
        p = layer.init(KEY, dtype=np.float64)
        np.testing.assert_allclose(
            np.asarray(layer.apply(p, fnp.asarray(x))), np.asarray(fn(p)), rtol=1e-12
        )
    assert nn.ConvTranspose2d(4, 6, 3, stride=2, padding=1, output_padding=1).apply(
        nn.ConvTranspose2d(4, 6, 3).init(KEY), fnp.asarray(x)
    ).shape == (2, 6, 14, 12)
    c1 = nn.Conv1d(4, 2, 3, padding=1)
    assert c1.apply(c1.init(KEY), fnp.asarray(x[:, :, 0])).shape == (2, 2, 6)
    with pytest.raises(ValueError, match="divisible by groups"):
        nn.Conv2d(4, 6, 3, groups=4)


def test_pool_flatten_activation_layers():
    rng = np.random.default_rng(4)
    x = rng.normal(size=(2, 3, 7, 6))
    np.testing.assert_array_equal(
        _run(nn.MaxPool2d(3, 2, 1, ceil_mode=True), x),
        ref.max_pool2d(x, (3, 3), (2, 2), (1, 1), (1, 1), True),
    )
    np.testing.assert_allclose(
        _run(nn.AvgPool2d(2, padding=1, count_include_pad=False), x),
        ref.avg_pool2d(x, (2, 2), (2, 2), (1, 1), False, False),
        rtol=1e-12,
    )
    np.testing.assert_allclose(
        _run(nn.AdaptiveAvgPool2d(1), x), x.mean(axis=(2, 3), keepdims=True), rtol=1e-12
    )
    assert _run(nn.Flatten(), x).shape == (2, 126)
    assert _run(nn.Flatten(0, 1), x).shape == (6, 7, 6)
    assert _run(nn.Flatten(-2), x).shape == (2, 3, 42)
    with pytest.raises(ValueError, match="MaxPool2d"):
        _run(nn.MaxPool2d(2), x[0, 0])
    for cls, fn in [
        (nn.ReLU(), F.relu),
        (nn.LeakyReLU(0.2), lambda v: F.leaky_relu(v, 0.2)),
        (nn.ELU(alpha=0.5), lambda v: F.elu(v, 0.5)),
        (nn.GELU("tanh"), lambda v: F.gelu(v, "tanh")),
        (nn.SiLU(), F.silu),
        (nn.Sigmoid(), F.sigmoid),
        (nn.Tanh(), F.tanh),
        (nn.Softplus(beta=2.0), lambda v: F.softplus(v, 2.0)),
        (nn.Softmax(dim=1), lambda v: F.softmax(v, 1)),
        (nn.LogSoftmax(1), lambda v: F.log_softmax(v, 1)),
        (nn.Identity(), lambda v: v),
    ]:
        np.testing.assert_array_equal(_run(cls, x), np.asarray(fn(fnp.asarray(x))))
    assert repr(nn.LeakyReLU(0.2)) == "LeakyReLU(negative_slope=0.2)"
    with pytest.raises(TypeError, match="unexpected"):
        nn.ELU(beta=1)


def test_layer_grads():
    rng = np.random.default_rng(5)
    for layer, shape in [
        (nn.Conv2d(2, 3, 3, padding=1), (1, 2, 4, 4)),
        (nn.Linear(3, 2), (4, 3)),
        (nn.LayerNorm(3), (2, 3)),
    ]:
        params = layer.init(KEY, dtype=np.float64)
        leaves, treedef = fg.tree_util.tree_flatten(params)
        x = rng.normal(size=shape)

        def f(x, *leaves, layer=layer, treedef=treedef):
            return layer.apply(fg.tree_util.tree_unflatten(treedef, list(leaves)), x)

        check_grads(f, (x, *leaves), order=1)


class _Net(nn.Module):
    """Conv2d, BatchNorm2d, MaxPool2d, Dropout and Linear: the layers a CNN step uses."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(2, 4, kernel_size=3, padding=1)
        self.bn = nn.BatchNorm2d(4)
        self.pool = nn.MaxPool2d(2)
        self.drop = nn.Dropout(0.25)
        self.fc = nn.Linear(4 * 2 * 2, 3)

    def forward(self, x):
        x = self.pool(nn.relu(self.bn(self.conv(x))))
        return self.fc(self.drop(x.reshape(x.shape[0], -1)))


def _net_step(x, labels):
    net = _Net()
    params, state = net.init(fg.random.key(1), dtype=np.float64), net.init_state(np.float64)

    def loss(p):
        logits, new_state = net.apply(p, x, state=state, rng=fg.random.key(2), train=True)
        return nn.cross_entropy(logits, labels), (logits, new_state)

    (value, (logits, new_state)), grads = fg.value_and_grad(loss, has_aux=True)(params)
    return {"loss": value, "logits": logits, "state": new_state, "grads": grads}


def test_layers_forward_and_backward_match_the_cpu_on_each_backend(backend):
    rng = np.random.default_rng(0)
    x, labels = rng.standard_normal((3, 2, 4, 4)), np.array([0, 2, 1])
    with platform("cpu"):
        expected = fg.device_get(_net_step(fnp.asarray(x), fnp.asarray(labels)))
    got = _net_step(fnp.asarray(x), fnp.asarray(labels))
    want = "cpu" if backend == "cpu" else "gpu"
    leaves = fg.tree_util.tree_leaves(got)
    assert len(leaves) == len(fg.tree_util.tree_leaves(expected)) > 8
    for g, e in zip(leaves, fg.tree_util.tree_leaves(expected)):
        assert g.device.platform == want
        np.testing.assert_allclose(np.asarray(g), e, rtol=1e-9, atol=1e-12)
