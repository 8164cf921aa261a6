"""nn losses against NumPy implementations of PyTorch's formulas, reductions, gradients, errors."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import funcgrad as fg
import funcgrad.numpy as fnp
from funcgrad import nn
from tests.helpers import check_grads
from tests.nn import reference as ref

REDUCTIONS = ["mean", "sum", "none"]
vals = st.floats(-5, 5, allow_nan=False, width=64)
pairs = hnp.array_shapes(min_dims=1, max_dims=3, max_side=4).flatmap(
    lambda s: st.tuples(
        hnp.arrays(np.float64, s, elements=vals), hnp.arrays(np.float64, s, elements=vals)
    )
)


def _close(got, expected, rtol=1e-9, atol=1e-12):
    np.testing.assert_allclose(np.asarray(got), expected, rtol=rtol, atol=atol)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@given(xy=pairs, beta=st.sampled_from([0.0, 0.5, 1.0, 2.0]))
def test_regression_losses(reduction, xy, beta):
    x, y = xy
    d = x - y
    a = np.abs(d)
    X, Y = fnp.asarray(x), fnp.asarray(y)
    _close(nn.mse_loss(X, Y, reduction), ref.reduce(d * d, reduction))
    _close(nn.l1_loss(X, Y, reduction), ref.reduce(a, reduction))
    smooth = a if beta == 0 else np.where(a < beta, 0.5 * a * a / max(beta, 1e-300), a - 0.5 * beta)
    _close(nn.smooth_l1_loss(X, Y, reduction, beta), ref.reduce(smooth, reduction))
    if beta > 0:
        huber = np.where(a < beta, 0.5 * a * a, beta * (a - 0.5 * beta))
        _close(nn.huber_loss(X, Y, reduction, beta), ref.reduce(huber, reduction))


def test_regression_grads():
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(3, 4)), rng.normal(size=(3, 4)) * 2
    for f in (nn.mse_loss, nn.l1_loss, nn.smooth_l1_loss, nn.huber_loss):
        check_grads(lambda a, b, f=f: f(a, b), (x, y), order=1)


logit_cases = st.fixed_dictionaries(
    {
        "n": st.integers(1, 5),
        "c": st.integers(2, 5),
        "extra": st.sampled_from([(), (3,), (2, 2)]),
        "scale": st.sampled_from([1.0, 30.0, 1e4]),
        "weighted": st.booleans(),
        "ignore": st.booleans(),
        "ls": st.sampled_from([0.0, 0.1, 0.5]),
        "reduction": st.sampled_from(REDUCTIONS),
        "seed": st.integers(0, 2**16),
    }
)


@given(c=logit_cases)
def test_cross_entropy_labels(c):
    rng = np.random.default_rng(c["seed"])
    x = rng.normal(size=(c["n"], c["c"]) + c["extra"]) * c["scale"]
    t = rng.integers(0, c["c"], size=(c["n"],) + c["extra"])
    if c["ignore"]:
        t.flat[0] = -100
        if t.size > 1:
            t.flat[-1] = 1  # keep one valid label, so the mean is defined
    w = rng.uniform(0.5, 2, size=c["c"]) if c["weighted"] else None
    got = nn.cross_entropy(
        fnp.asarray(x),
        fnp.asarray(t),
        None if w is None else fnp.asarray(w),
        reduction=c["reduction"],
        label_smoothing=c["ls"],
    )
    if t.size == 1 and c["ignore"] and c["reduction"] == "mean":
        assert np.isnan(np.asarray(got))  # PyTorch's 0 / 0
        return
    expected = ref.cross_entropy(x, t, w, -100, c["reduction"], c["ls"])
    _close(got, expected, rtol=1e-9, atol=1e-9)
    assert np.all(np.isfinite(np.asarray(got)))


@given(c=logit_cases)
def test_cross_entropy_probabilities(c):
    rng = np.random.default_rng(c["seed"])
    x = rng.normal(size=(c["n"], c["c"]) + c["extra"]) * c["scale"]
    p = ref.softmax(rng.normal(size=x.shape), 1)
    w = rng.uniform(0.5, 2, size=c["c"]) if c["weighted"] else None
    got = nn.cross_entropy(
        fnp.asarray(x),
        fnp.asarray(p),
        None if w is None else fnp.asarray(w),
        reduction=c["reduction"],
        label_smoothing=c["ls"],
    )
    _close(got, ref.cross_entropy(x, p, w, -100, c["reduction"], c["ls"]), rtol=1e-9, atol=1e-9)


def test_cross_entropy_unbatched_float32_and_extremes():
    x = fnp.asarray(np.array([1e30, -1e30, 0.0], np.float32))
    loss = nn.cross_entropy(x, fnp.asarray(0))
    assert loss.dtype == np.float32 and float(loss) == 0.0
    assert float(nn.cross_entropy(x, fnp.asarray(1))) == pytest.approx(2e30, rel=1e-6)
    g = fg.grad(lambda v: nn.cross_entropy(v, fnp.asarray(np.array([2, 0]))))(
        fnp.asarray(np.array([[1e4, -1e4, 0.0], [3.0, 3.0, -1e30]], np.float32))
    )
    assert np.all(np.isfinite(np.asarray(g)))
    np.testing.assert_allclose(np.asarray(g), [[0.5, 0, -0.5], [-0.25, 0.25, 0]], atol=1e-7)


def test_nll_loss():
    rng = np.random.default_rng(1)
    logp = ref.log_softmax(rng.normal(size=(6, 4)))
    t = np.array([0, 3, -100, 1, 2, 3])
    w = rng.uniform(0.5, 2, size=4)
    for r in REDUCTIONS:
        _close(
            nn.nll_loss(fnp.asarray(logp), fnp.asarray(t), fnp.asarray(w), reduction=r),
            ref.nll_loss(logp, t, w, -100, r),
        )
    t0 = np.where(t == -100, 0, t)
    _close(
        nn.nll_loss(fnp.asarray(logp), fnp.asarray(t0), ignore_index=3),
        ref.nll_loss(logp, t0, None, 3),
    )


def test_cross_entropy_grads():
    rng = np.random.default_rng(2)
    x = rng.normal(size=(4, 3))
    t = fnp.asarray(np.array([0, 2, -100, 1]))
    w = fnp.asarray(np.array([0.5, 1.0, 2.0]))
    check_grads(lambda v: nn.cross_entropy(v, t, w, label_smoothing=0.1), (x,))
    p = ref.softmax(rng.normal(size=(4, 3)))
    check_grads(lambda v, q: nn.cross_entropy(v, q), (x, p), order=1)


def test_cross_entropy_label_paths_agree():
    # Labels known to hold no ignore_index take the unmasked path (one gather, no weights);
    # class weights of one take the masked, weighted path: the same values and gradients.
    rng = np.random.default_rng(4)
    x = fnp.asarray(rng.normal(size=(5, 4)).astype(np.float32))
    t = fnp.asarray(np.array([0, 3, 3, 1, 2]))
    ones = fnp.ones(4)
    for r in REDUCTIONS:
        for ls in (0.0, 0.2):

            def f(v, w, r=r, ls=ls):
                return nn.cross_entropy(v, t, w, reduction=r, label_smoothing=ls)

            def total(v, w, f=f):
                return fnp.sum(f(v, w))

            np.testing.assert_allclose(np.asarray(f(x, None)), np.asarray(f(x, ones)), rtol=1e-6)
            np.testing.assert_allclose(
                np.asarray(fg.grad(total)(x, None)), np.asarray(fg.grad(total)(x, ones)), rtol=1e-6
            )
    # an ignore_index inside the labels' range is looked for, and masks its row
    got = nn.cross_entropy(x, t, ignore_index=3, reduction="none")
    assert np.asarray(got)[1] == 0 and np.asarray(got)[2] == 0 and np.asarray(got)[0] > 0


def test_label_errors():
    x = fnp.zeros((3, 4))
    with pytest.raises(ValueError, match=r"range \[0, 3\]"):
        nn.cross_entropy(x, fnp.asarray([0, 4, 1]))
    with pytest.raises(ValueError, match=r"range \[0, 3\]"):
        nn.cross_entropy(x, fnp.asarray([0, -1, 1]))
    with pytest.raises(TypeError, match=r"integer dtype.*float32.*\[0, 3\]"):
        nn.cross_entropy(x, fnp.asarray(np.array([0.0, 1.0, 2.0], np.float32)))
    with pytest.raises(ValueError, match=r"shape \(3,\)"):
        nn.cross_entropy(x, fnp.asarray([[0, 1, 2]]))
    with pytest.raises(ValueError, match="range"):
        nn.nll_loss(x, fnp.asarray([0, 9, 1]))
    with pytest.raises(ValueError, match="weight"):
        nn.cross_entropy(x, fnp.asarray([0, 1, 2]), weight=fnp.ones(3))
    with pytest.raises(ValueError, match="reduction"):
        nn.cross_entropy(x, fnp.asarray([0, 1, 2]), reduction="avg")
    # traced labels skip the value check (their values are unknown) but keep the dtype check
    per_example = fg.vmap(lambda v, t: nn.cross_entropy(v, t))(x, fnp.asarray([0, 1, 2]))
    assert per_example.shape == (3,)


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_binary_cross_entropy(reduction):
    rng = np.random.default_rng(3)
    p = np.concatenate([rng.uniform(0, 1, size=6), [0.0, 1.0]])
    y = np.concatenate([rng.uniform(0, 1, size=6), [1.0, 0.0]])
    w = rng.uniform(0.5, 2, size=8)
    lp, l1p = (
        np.maximum(np.log(np.maximum(p, 1e-300)), -100),
        np.maximum(np.log(np.maximum(1 - p, 1e-300)), -100),
    )
    expected = ref.reduce(-w * (y * lp + (1 - y) * l1p), reduction)
    _close(
        nn.binary_cross_entropy(fnp.asarray(p), fnp.asarray(y), fnp.asarray(w), reduction), expected
    )
    g = fg.grad(lambda q: nn.binary_cross_entropy(q, fnp.asarray(y)))(fnp.asarray(p))
    assert np.all(np.isfinite(np.asarray(g)))
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        nn.binary_cross_entropy(fnp.asarray([1.5]), fnp.asarray([1.0]))


@pytest.mark.parametrize("reduction", REDUCTIONS)
@given(
    x=hnp.arrays(np.float64, (3, 4), elements=st.floats(-1e4, 1e4, allow_nan=False)),
    seed=st.integers(0, 99),
)
def test_bce_with_logits(reduction, x, seed):
    rng = np.random.default_rng(seed)
    y = rng.uniform(0, 1, size=(3, 4))
    pw = rng.uniform(0.5, 3, size=4)
    w = rng.uniform(0.5, 2, size=(3, 1))
    log_sig, log_one_minus = -ref.softplus(-x, 1, np.inf), -ref.softplus(x, 1, np.inf)
    expected = -w * (pw * y * log_sig + (1 - y) * log_one_minus)
    got = nn.binary_cross_entropy_with_logits(
        fnp.asarray(x), fnp.asarray(y), fnp.asarray(w), reduction, fnp.asarray(pw)
    )
    _close(got, ref.reduce(expected, reduction), rtol=1e-9, atol=1e-9)
    plain = -(y * log_sig + (1 - y) * log_one_minus)
    _close(
        nn.binary_cross_entropy_with_logits(fnp.asarray(x), fnp.asarray(y), reduction=reduction),
        ref.reduce(plain, reduction),
        rtol=1e-9,
        atol=1e-9,
    )


def test_bce_with_logits_grads_and_extremes():
    x = np.array([-3.0, -0.5, 0.7, 2.0])
    y = np.array([0.0, 1.0, 0.3, 1.0])
    check_grads(
        lambda v, t: nn.binary_cross_entropy_with_logits(v, t, pos_weight=fnp.asarray(2.0)), (x, y)
    )
    big = fnp.asarray(np.array([1e30, -1e30], np.float32))
    loss = nn.binary_cross_entropy_with_logits(big, fnp.asarray(np.array([1.0, 0.0], np.float32)))
    assert float(loss) == 0.0
    g = fg.grad(
        lambda v: nn.binary_cross_entropy_with_logits(
            v, fnp.asarray(np.array([0.0, 1.0], np.float32))
        )
    )(big)
    np.testing.assert_allclose(np.asarray(g), [0.5, -0.5])


@pytest.mark.parametrize("reduction", ["mean", "batchmean", "sum", "none"])
def test_kl_div(reduction):
    rng = np.random.default_rng(4)
    x = ref.log_softmax(rng.normal(size=(3, 5)))
    t = ref.softmax(rng.normal(size=(3, 5)))
    t[0, 0] = 0.0
    with np.errstate(divide="ignore", invalid="ignore"):
        pointwise = np.where(t > 0, t * (np.log(t) - x), 0.0)
    expected = pointwise.sum() / 3 if reduction == "batchmean" else ref.reduce(pointwise, reduction)
    _close(nn.kl_div(fnp.asarray(x), fnp.asarray(t), reduction), expected)
    lt = np.log(t + 1e-3)
    expected = np.exp(lt) * (lt - x)
    expected = expected.sum() / 3 if reduction == "batchmean" else ref.reduce(expected, reduction)
    _close(nn.kl_div(fnp.asarray(x), fnp.asarray(lt), reduction, log_target=True), expected)
    check_grads(lambda v: nn.kl_div(v, fnp.asarray(t), "batchmean"), (x,), order=1)
