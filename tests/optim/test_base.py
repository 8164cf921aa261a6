"""Optimizer and OptState: pure functions over a pytree state (tree_map, vmap), and bad input."""

import numpy as np
import pytest

import funcgrad as fg
import funcgrad.numpy as fnp
from funcgrad import optim
from funcgrad.tree_util import tree_leaves, tree_map, tree_structure

OPTIMIZERS = {
    "sgd": optim.sgd(0.1, momentum=0.9, dampening=0.1),
    "adam": optim.adam(0.01, amsgrad=True),
    "adamw": optim.adamw(optim.cosine_annealing(0.01, 10)),
    "rmsprop": optim.rmsprop(0.01, momentum=0.5, centered=True),
    "adagrad": optim.adagrad(0.1, lr_decay=0.1),
    "chain": optim.chain(optim.clip_by_global_norm(1.0), optim.adam(optim.one_cycle(0.1, 10))),
}


def _params(seed, batch=()):
    rng = np.random.default_rng(seed)
    return {
        "layer": {"weight": fnp.asarray(rng.standard_normal((*batch, 3, 2)))},
        "bias": fnp.asarray(rng.standard_normal((*batch, 2))),
    }


def _loss(params, x):
    return fnp.sum(fnp.tanh(x @ params["layer"]["weight"] + params["bias"]) ** 2)


X = fnp.asarray(np.random.default_rng(9).standard_normal((5, 3)))


def _train(opt, params, steps=3):
    state = opt.init(params)
    for _ in range(steps):
        state = opt.update(state, fg.grad(_loss)(state.params, X))
    return state


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_state_is_a_pytree(name):
    opt = OPTIMIZERS[name]
    state = _train(opt, _params(0))
    assert isinstance(state, optim.OptState)
    assert tree_structure(state) == tree_structure(opt.init(_params(0)))
    doubled = tree_map(lambda x: x * 2, state)
    assert type(doubled) is type(state)
    for a, b in zip(tree_leaves(state), tree_leaves(doubled)):
        np.testing.assert_array_equal(np.asarray(a) * 2, np.asarray(b))
    # a state rebuilt from NumPy copies of its leaves (a saved checkpoint) resumes identically
    restored = tree_map(lambda x: fnp.asarray(np.array(x)), state)
    g = fg.grad(_loss)(state.params, X)
    for a, b in zip(tree_leaves(opt.update(state, g)), tree_leaves(opt.update(restored, g))):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_update_is_pure(name):
    opt = OPTIMIZERS[name]
    state = _train(opt, _params(0), steps=1)
    before = [np.array(x) for x in tree_leaves(state)]
    g = fg.grad(_loss)(state.params, X)
    s1, s2 = opt.update(state, g), opt.update(state, g)
    for a, b in zip(tree_leaves(s1), tree_leaves(s2)):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    for a, b in zip(before, tree_leaves(state)):
        np.testing.assert_array_equal(a, np.asarray(b))


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_vmap_over_stacked_params_equals_loop(name):
    # An ensemble: a batch of 4 models, each with its own optimizer state, trained in lockstep.
    opt = OPTIMIZERS[name]
    stacked = _params(1, batch=(4,))

    def train_step(state):
        return opt.update(state, fg.grad(_loss)(state.params, X))

    state = fg.vmap(opt.init)(stacked)
    for _ in range(3):
        state = fg.vmap(train_step)(state)
    for i in range(4):
        single = _train(opt, tree_map(lambda x, i=i: x[i], stacked))
        for a, b in zip(tree_leaves(state), tree_leaves(single)):
            np.testing.assert_allclose(np.asarray(a)[i], np.asarray(b), rtol=1e-12, atol=1e-14)


def test_grad_through_an_update():
    # update is built from funcgrad ops, so it can be differentiated (e.g. w.r.t. the params).
    opt = optim.adam(0.1)

    def after_one_step(w):
        state = opt.update(opt.init({"w": w}), {"w": w * w})
        return fnp.sum(state.params["w"])

    w = fnp.asarray(np.array([0.5, -2.0]))
    g = np.asarray(fg.grad(after_one_step)(w))
    eps = 1e-6
    num = [
        (float(after_one_step(w + eps * e)) - float(after_one_step(w - eps * e))) / (2 * eps)
        for e in np.eye(2)
    ]
    np.testing.assert_allclose(g, num, rtol=1e-5)


def test_apply_updates_keeps_dtypes():
    p = {"a": fnp.ones(2, dtype=fnp.float32), "b": fnp.ones(2, dtype=fnp.float64)}
    u = {"a": fnp.ones(2, dtype=fnp.float64), "b": fnp.ones(2, dtype=fnp.float64)}
    out = optim.apply_updates(p, u)
    assert out["a"].dtype == np.float32 and out["b"].dtype == np.float64
    np.testing.assert_array_equal(np.asarray(out["a"]), [2.0, 2.0])


def test_grads_of_the_wrong_structure_or_shape_raise():
    opt = optim.sgd(0.1)
    state = opt.init(_params(0))
    with pytest.raises(ValueError, match="structure"):
        opt.update(state, {"bias": fnp.zeros(2)})
    bad = {"layer": {"weight": fnp.zeros((2, 3))}, "bias": fnp.zeros(2)}
    with pytest.raises(ValueError, match=r"shape \(2, 3\).*\(3, 2\)"):
        opt.update(state, bad)
