"""nn.functional against NumPy implementations of PyTorch's formulas; gradients; extremes."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import funcgrad as fg
import funcgrad.numpy as fnp
from funcgrad import nn
from funcgrad.nn import functional as F
from tests.helpers import check_grads, check_vmap
from tests.nn import reference as ref

ACTS = sorted(ref.ACTIVATIONS)
finite = st.floats(-50, 50, allow_nan=False, width=64)


def _act(name):
    return getattr(F, name)


@pytest.mark.parametrize("name", ACTS)
@given(
    x=hnp.arrays(np.float64, hnp.array_shapes(min_dims=1, max_dims=3, max_side=4), elements=finite)
)
def test_activation_matches_reference(name, x):
    np.testing.assert_allclose(
        np.asarray(_act(name)(fnp.asarray(x))), ref.ACTIVATIONS[name](x), rtol=1e-7, atol=1e-12
    )


@pytest.mark.parametrize("name", ACTS)
def test_activation_extremes_float32(name):
    x = np.array(
        [-1e30, -1e4, -100.0, -20.5, -1e-30, 0.0, 1e-30, 20.5, 100.0, 1e4, 1e30], np.float32
    )
    with np.errstate(over="ignore", under="ignore"):  # intermediates may saturate; results not
        y = np.asarray(_act(name)(fnp.asarray(x)))
        g = np.asarray(fg.grad(lambda v: fnp.sum(_act(name)(v)))(fnp.asarray(x)))
    assert y.dtype == np.float32
    assert np.all(np.isfinite(y)), (name, y)
    assert np.all(np.isfinite(g)), (name, g)
    expected = ref.ACTIVATIONS[name](x.astype(np.float64))
    np.testing.assert_allclose(y, expected.astype(np.float32), rtol=1e-5, atol=1e-30)


def test_extreme_logits_softmax():
    x = fnp.asarray(np.array([[1e4, -1e4, 0.0], [-np.inf, 0.0, 1.0], [-np.inf] * 3]))
    with np.errstate(divide="ignore", invalid="ignore"):
        ls = np.asarray(F.log_softmax(x))
    np.testing.assert_allclose(ls[0], [0.0, -2e4, -1e4])
    assert ls[1, 0] == -np.inf and np.isfinite(ls[1, 1:]).all()
    assert np.isnan(ls[2]).all()  # as PyTorch: an all -inf row has no distribution
    np.testing.assert_allclose(np.asarray(F.softmax(x))[0], [1.0, 0.0, 0.0])


@pytest.mark.parametrize("name", ACTS)
def test_activation_grads(name):
    x = np.array([[-2.3, -0.7, 0.4], [1.1, 2.9, -1.6]])
    check_grads(_act(name), (x,), order=2)


def test_relu_kink_and_nan():
    x = fnp.asarray(np.array([-1.0, 0.0, 2.0, np.nan]))
    g = np.asarray(fg.grad(lambda v: fnp.sum(F.relu(v)[:3]))(x))
    np.testing.assert_array_equal(g, [0.0, 0.0, 1.0, 0.0])  # relu'(0) = 0 as PyTorch
    assert np.isnan(np.asarray(F.relu(x))[3])


def test_leaky_relu_and_elu_options():
    x = np.linspace(-3, 3, 13)
    np.testing.assert_allclose(
        np.asarray(F.leaky_relu(fnp.asarray(x), 0.2)), np.where(x > 0, x, 0.2 * x)
    )
    np.testing.assert_allclose(
        np.asarray(F.elu(fnp.asarray(x), 0.5)), np.where(x > 0, x, 0.5 * np.expm1(x))
    )
    g = fg.grad(lambda v: fnp.sum(F.elu(v, 0.5)))(fnp.asarray(np.array([0.0, 1e4])))
    np.testing.assert_allclose(np.asarray(g), [0.5, 1.0])  # elu'(0) = alpha, no nan at large x


@given(x=hnp.arrays(np.float64, (5,), elements=finite), beta=st.sampled_from([0.5, 1.0, 3.0]))
def test_softplus_beta_threshold(x, beta):
    np.testing.assert_allclose(
        np.asarray(F.softplus(fnp.asarray(x), beta, 10.0)), ref.softplus(x, beta, 10.0), rtol=1e-7
    )


def test_gelu_tanh():
    x = np.linspace(-6, 6, 25)
    np.testing.assert_allclose(
        np.asarray(F.gelu(fnp.asarray(x), "tanh")), ref.gelu_tanh(x), rtol=1e-7, atol=1e-15
    )
    check_grads(lambda v: F.gelu(v, approximate="tanh"), (x[:5],))
    with pytest.raises(ValueError, match="approximate"):
        F.gelu(fnp.asarray(x), "fast")


def test_softmax_dim():
    x = np.random.default_rng(0).normal(size=(2, 3, 4))
    for d in (0, 1, -1):
        np.testing.assert_allclose(
            np.asarray(F.softmax(fnp.asarray(x), d)), ref.softmax(x, d), rtol=1e-7
        )
        np.testing.assert_allclose(
            np.asarray(F.log_softmax(fnp.asarray(x), d)), ref.log_softmax(x, d), rtol=1e-7
        )


# ----------------------------------------------------------------------------- linear and conv


def test_linear():
    rng = np.random.default_rng(0)
    x, w, b = rng.normal(size=(2, 3, 4)), rng.normal(size=(5, 4)), rng.normal(size=5)
    np.testing.assert_allclose(
        np.asarray(F.linear(fnp.asarray(x), fnp.asarray(w), fnp.asarray(b))), x @ w.T + b
    )
    check_grads(F.linear, (x[0], w, b))


conv_cases = st.fixed_dictionaries(
    {
        "n": st.integers(1, 2),
        "groups": st.sampled_from([1, 2]),
        "cg": st.integers(1, 2),
        "og": st.integers(1, 2),
        "k": st.tuples(st.integers(1, 3), st.integers(1, 3)),
        "stride": st.tuples(st.integers(1, 2), st.integers(1, 2)),
        "pad": st.tuples(st.integers(0, 2), st.integers(0, 2)),
        "dil": st.tuples(st.integers(1, 2), st.integers(1, 2)),
        "hw": st.tuples(st.integers(5, 7), st.integers(5, 7)),
        "bias": st.booleans(),
    }
)


@given(c=conv_cases, seed=st.integers(0, 2**16))
def test_conv2d_matches_reference(c, seed):
    rng = np.random.default_rng(seed)
    C, O = c["cg"] * c["groups"], c["og"] * c["groups"]
    x = rng.normal(size=(c["n"], C) + c["hw"])
    w = rng.normal(size=(O, c["cg"]) + c["k"])
    b = rng.normal(size=O) if c["bias"] else None
    y = F.conv2d(
        fnp.asarray(x),
        fnp.asarray(w),
        None if b is None else fnp.asarray(b),
        c["stride"],
        c["pad"],
        c["dil"],
        c["groups"],
    )
    pads = tuple((p, p) for p in c["pad"])
    np.testing.assert_allclose(
        np.asarray(y),
        ref.conv2d(x, w, b, c["stride"], pads, c["dil"], c["groups"]),
        rtol=1e-9,
        atol=1e-9,
    )


@pytest.mark.parametrize("k,dil", [((3, 3), (1, 1)), ((2, 4), (1, 1)), ((3, 2), (2, 3))])
def test_conv2d_same_padding(k, dil):
    rng = np.random.default_rng(1)
    x, w = rng.normal(size=(2, 3, 6, 7)), rng.normal(size=(4, 3) + k)
    y = np.asarray(F.conv2d(fnp.asarray(x), fnp.asarray(w), padding="same", dilation=dil))
    assert y.shape == (2, 4, 6, 7)
    tot = [d * (kk - 1) for kk, d in zip(k, dil)]
    pads = tuple((t // 2, t - t // 2) for t in tot)  # PyTorch puts the odd extra on the right
    np.testing.assert_allclose(y, ref.conv2d(x, w, None, (1, 1), pads, dil), rtol=1e-9, atol=1e-9)
    y = F.conv2d(fnp.asarray(x), fnp.asarray(w), padding="valid")
    assert y.shape == (2, 4, 7 - k[0], 8 - k[1])
    with pytest.raises(ValueError, match="stride 1"):
        F.conv2d(fnp.asarray(x), fnp.asarray(w), stride=2, padding="same")


def test_conv2d_unbatched_and_grads():
    rng = np.random.default_rng(2)
    x, w, b = rng.normal(size=(2, 5, 5)), rng.normal(size=(3, 2, 3, 3)), rng.normal(size=3)
    y = F.conv2d(fnp.asarray(x), fnp.asarray(w), fnp.asarray(b), padding=1)
    np.testing.assert_allclose(
        np.asarray(y), ref.conv2d(x[None], w, b, padding=((1, 1), (1, 1)))[0], rtol=1e-9
    )
    check_grads(lambda x, w, b: F.conv2d(x, w, b, stride=2, padding=1), (x, w, b))


def test_conv1d():
    rng = np.random.default_rng(3)
    x, w, b = rng.normal(size=(2, 4, 9)), rng.normal(size=(6, 2, 3)), rng.normal(size=6)
    y = F.conv1d(
        fnp.asarray(x), fnp.asarray(w), fnp.asarray(b), stride=2, padding=1, dilation=2, groups=2
    )
    expected = ref.conv2d(x[:, :, None], w[:, :, None], b, (1, 2), ((0, 0), (1, 1)), (1, 2), 2)[
        :, :, 0
    ]
    np.testing.assert_allclose(np.asarray(y), expected, rtol=1e-9, atol=1e-12)
    y = F.conv1d(fnp.asarray(x[0]), fnp.asarray(w[:, :1].repeat(4, 1)), padding="same")
    assert y.shape == (6, 9)
    check_grads(lambda x, w: F.conv1d(x, w, padding=1), (x[:1], w[:, :1].repeat(4, 1)), order=1)


@given(
    stride=st.tuples(st.integers(1, 3), st.integers(1, 2)),
    pad=st.tuples(st.integers(0, 1), st.integers(0, 1)),
    opad=st.tuples(st.integers(0, 1), st.integers(0, 1)),
    dil=st.tuples(st.integers(1, 2), st.integers(1, 2)),
    groups=st.sampled_from([1, 2]),
    seed=st.integers(0, 2**16),
)
def test_conv_transpose2d_matches_reference(stride, pad, opad, dil, groups, seed):
    opad = tuple(min(o, max(s, d) - 1) for o, s, d in zip(opad, stride, dil))  # PyTorch's bound
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(2, 2 * groups, 4, 3))
    w = rng.normal(size=(2 * groups, 3, 3, 2))
    b = rng.normal(size=3 * groups)
    y = F.conv_transpose2d(
        fnp.asarray(x), fnp.asarray(w), fnp.asarray(b), stride, pad, opad, groups, dil
    )
    np.testing.assert_allclose(
        np.asarray(y),
        ref.conv_transpose2d(x, w, b, stride, pad, opad, groups, dil),
        rtol=1e-9,
        atol=1e-9,
    )


def test_conv_transpose2d_is_conv_gradient():
    rng = np.random.default_rng(4)
    x, w = rng.normal(size=(1, 3, 7, 7)), rng.normal(size=(4, 3, 3, 3))
    g = rng.normal(size=(1, 4, 4, 4))
    _, vjp = fg.vjp(lambda x: F.conv2d(x, fnp.asarray(w), stride=2, padding=1), fnp.asarray(x))
    expected = vjp(fnp.asarray(g))[0]
    got = F.conv_transpose2d(fnp.asarray(g), fnp.asarray(w), stride=2, padding=1, output_padding=0)
    np.testing.assert_allclose(np.asarray(got), np.asarray(expected), rtol=1e-9, atol=1e-12)
    check_grads(lambda g, w: F.conv_transpose2d(g, w, stride=2, padding=1), (g, w), order=1)


# ----------------------------------------------------------------------------- pooling


pool_cases = st.fixed_dictionaries(
    {
        "k": st.tuples(st.integers(1, 3), st.integers(1, 3)),
        "s": st.tuples(st.integers(1, 3), st.integers(1, 3)),
        "p": st.tuples(st.integers(0, 1), st.integers(0, 1)),
        "d": st.tuples(st.integers(1, 2), st.integers(1, 2)),
        "ceil": st.booleans(),
        "hw": st.tuples(st.integers(5, 8), st.integers(5, 8)),
    }
).filter(lambda c: all(2 * p <= k for p, k in zip(c["p"], c["k"])))


@given(c=pool_cases, seed=st.integers(0, 2**16))
def test_max_pool2d_matches_reference(c, seed):
    x = np.random.default_rng(seed).normal(size=(2, 3) + c["hw"])
    y = F.max_pool2d(fnp.asarray(x), c["k"], c["s"], c["p"], c["d"], c["ceil"])
    np.testing.assert_array_equal(
        np.asarray(y), ref.max_pool2d(x, c["k"], c["s"], c["p"], c["d"], c["ceil"])
    )


@given(
    c=pool_cases,
    include=st.booleans(),
    override=st.sampled_from([None, 3]),
    seed=st.integers(0, 2**16),
)
def test_avg_pool2d_matches_reference(c, include, override, seed):
    x = np.random.default_rng(seed).normal(size=(3,) + c["hw"])
    y = F.avg_pool2d(fnp.asarray(x), c["k"], c["s"], c["p"], c["ceil"], include, override)
    expected = ref.avg_pool2d(x, c["k"], c["s"], c["p"], c["ceil"], include, override)
    np.testing.assert_allclose(np.asarray(y), expected, rtol=1e-9, atol=1e-12)


def test_pool_defaults_and_grads():
    rng = np.random.default_rng(5)
    x = rng.normal(size=(1, 2, 6, 6))
    assert F.max_pool2d(fnp.asarray(x), 2).shape == (1, 2, 3, 3)
    check_grads(lambda v: F.max_pool2d(v, 3, 2, 1), (x,), order=1)
    check_grads(lambda v: F.avg_pool2d(v, 3, 2, 1, count_include_pad=False), (x,))
    x = np.array([[[[1.0, 1.0], [0.0, 1.0]]]])  # ties: the first max of the window gets it
    g = fg.grad(lambda v: fnp.sum(F.max_pool2d(v, 2)))(fnp.asarray(x))
    np.testing.assert_array_equal(np.asarray(g), [[[[1.0, 0.0], [0.0, 0.0]]]])


@pytest.mark.parametrize(
    "hw,out",
    [((6, 6), (3, 2)), ((7, 5), (3, 4)), ((5, 5), (1, 1)), ((4, 6), (None, 4)), ((3, 3), (5, 5))],
)
def test_adaptive_avg_pool2d(hw, out):
    x = np.random.default_rng(6).normal(size=(2, 3) + hw)
    y = np.asarray(F.adaptive_avg_pool2d(fnp.asarray(x), out))
    size = tuple(h if o is None else o for h, o in zip(hw, out))
    np.testing.assert_allclose(y, ref.adaptive_avg_pool2d(x, size), rtol=1e-9, atol=1e-12)
    check_grads(lambda v: F.adaptive_avg_pool2d(v, out), (x[:1, :1],), order=1)


# ----------------------------------------------------------------------------- normalisation etc.


def test_dropout():
    x = fnp.ones((200, 50))
    y = np.asarray(F.dropout(x, 0.3, key=fg.random.key(0)))
    assert set(np.unique(y)) <= {0.0, np.float32(1 / 0.7)}
    assert abs((y == 0).mean() - 0.3) < 0.02
    np.testing.assert_array_equal(np.asarray(F.dropout(x, 0.3, key=fg.random.key(0))), y)
    assert np.asarray(F.dropout(x, 0.3, training=False)).min() == 1
    assert np.asarray(F.dropout(x, 1.0)).max() == 0
    with pytest.raises(ValueError, match="key"):
        F.dropout(x, 0.5)
    with pytest.raises(ValueError, match="p must be"):
        F.dropout(x, 1.5, key=fg.random.key(0))
    g = fg.grad(lambda v: fnp.sum(F.dropout(v, 0.3, key=fg.random.key(0))))(x)
    np.testing.assert_allclose(np.asarray(g), y)


@pytest.mark.parametrize("shape", [(5, 3), (4, 3, 6), (3, 3, 2, 4)])
def test_batch_norm(shape):
    rng = np.random.default_rng(7)
    x, w, b = rng.normal(size=shape) * 3 + 1, rng.normal(size=3), rng.normal(size=3)
    rm, rv = rng.normal(size=3), rng.uniform(0.5, 2, size=3)
    y, m, v = F.batch_norm(
        *map(fnp.asarray, (x, rm, rv, w, b)), training=True, momentum=0.2, return_stats=True
    )
    ey, em, ev = ref.batch_norm_train(x, w, b, 1e-5)
    np.testing.assert_allclose(np.asarray(y), ey, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(np.asarray(m), 0.8 * rm + 0.2 * em, rtol=1e-12)
    np.testing.assert_allclose(np.asarray(v), 0.8 * rv + 0.2 * ev, rtol=1e-12)
    y = F.batch_norm(*map(fnp.asarray, (x, rm, rv, w, b)))
    np.testing.assert_allclose(np.asarray(y), ref.batch_norm_eval(x, rm, rv, w, b, 1e-5), rtol=1e-9)
    check_grads(
        lambda x, w, b: F.batch_norm(x, None, None, w, b, training=True), (x, w, b), order=1
    )


def test_layer_norm():
    rng = np.random.default_rng(8)
    x, w, b = rng.normal(size=(2, 3, 4)), rng.normal(size=(3, 4)), rng.normal(size=(3, 4))
    y = F.layer_norm(fnp.asarray(x), (3, 4), fnp.asarray(w), fnp.asarray(b))
    np.testing.assert_allclose(np.asarray(y), ref.layer_norm(x, 2, w, b, 1e-5), rtol=1e-9)
    check_grads(lambda x, w, b: F.layer_norm(x, 4, w, b), (x, w[0], b[0]), order=1)
    with pytest.raises(ValueError, match="normalized_shape"):
        F.layer_norm(fnp.asarray(x), 5)


def test_embedding_and_one_hot():
    w = np.arange(12.0).reshape(4, 3)
    idx = np.array([[0, 3], [2, 2]])
    np.testing.assert_array_equal(np.asarray(F.embedding(fnp.asarray(idx), fnp.asarray(w))), w[idx])
    g = fg.grad(lambda w: fnp.sum(F.embedding(fnp.asarray(idx), w, padding_idx=2)))(fnp.asarray(w))
    np.testing.assert_array_equal(np.asarray(g), [[1, 1, 1], [0, 0, 0], [0, 0, 0], [1, 1, 1]])
    with pytest.raises(ValueError, match=r"\[0, 3\]"):
        F.embedding(fnp.asarray([4]), fnp.asarray(w))
    with pytest.raises(TypeError, match="integer"):
        F.embedding(fnp.asarray([1.0]), fnp.asarray(w))
    oh = F.one_hot(fnp.asarray([0, 2, 1]))
    assert oh.dtype == np.int64
    np.testing.assert_array_equal(np.asarray(oh), np.eye(3)[[0, 2, 1]])
    assert F.one_hot(fnp.asarray([[1]]), 4).shape == (1, 1, 4)
    with pytest.raises(ValueError, match="label"):
        F.one_hot(fnp.asarray([5]), 3)


def test_functional_under_vmap():
    rng = np.random.default_rng(9)
    x, w = rng.normal(size=(3, 2, 6, 6)), rng.normal(size=(4, 2, 3, 3))
    check_vmap(lambda x, w: F.max_pool2d(F.relu(F.conv2d(x, w, padding=1)), 2), (x, w), (0, None))
    check_vmap(lambda x, w: F.conv2d(x, w, stride=2), (x, np.stack([w] * 3)), (0, 0))
    check_vmap(lambda x: F.log_softmax(x.reshape(-1)), (x,), (0,))
    check_vmap(lambda x: F.adaptive_avg_pool2d(x, (4, 4)), (x,), (0,))


def test_reexports():
    for name in ("relu", "gelu", "conv2d", "max_pool2d", "dropout", "one_hot", "log_softmax"):
        assert getattr(nn, name) is getattr(F, name)
