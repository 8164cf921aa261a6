"""The gradient transformations one by one, and composed with chain."""

import numpy as np
import pytest

import funcgrad.numpy as fnp
from funcgrad import optim
from funcgrad.tree_util import tree_map


def _tree(seed=0, dtype=np.float64):
    rng = np.random.default_rng(seed)
    return {
        "w": fnp.asarray(rng.standard_normal((3, 2)).astype(dtype)),
        "b": fnp.asarray(rng.standard_normal(4).astype(dtype)),
    }


def _np(tree):
    return tree_map(np.asarray, tree)


def _apply(t, updates, params=None):
    params = updates if params is None else params
    out, _ = t.update(updates, t.init(params), params)
    return _np(out)


def test_scale_by_learning_rate_is_the_only_sign_flip():
    g = _tree()
    out = _apply(optim.scale_by_learning_rate(0.5), g)
    for k in g:
        np.testing.assert_allclose(out[k], -0.5 * np.asarray(g[k]))
    out = _apply(optim.chain(optim.identity(), optim.scale(2.0)).transformation, g)
    for k in g:
        np.testing.assert_allclose(out[k], 2.0 * np.asarray(g[k]))


def test_scale_by_learning_rate_steps_its_schedule():
    t = optim.scale_by_learning_rate(optim.exponential(1.0, 0.5))
    g = {"x": fnp.ones(2, dtype=fnp.float32)}
    state = t.init(g)
    seen = []
    for _ in range(3):
        out, state = t.update(g, state, g)
        assert out["x"].dtype == np.float32
        seen.append(float(np.asarray(out["x"])[0]))
    assert seen == [-1.0, -0.5, -0.25]
    assert int(state.count) == 3


def test_add_decayed_weights():
    g, p = _tree(0), _tree(1)
    out = _apply(optim.add_decayed_weights(0.1), g, p)
    for k in g:
        np.testing.assert_allclose(out[k], np.asarray(g[k]) + 0.1 * np.asarray(p[k]))


def test_clip_by_value():
    g = _tree()
    out = _apply(optim.clip_by_value(-0.5, 0.25), g)
    for k in g:
        np.testing.assert_array_equal(out[k], np.clip(np.asarray(g[k]), -0.5, 0.25))
    with pytest.raises(ValueError, match="min"):
        optim.clip_by_value(1.0, -1.0)


@pytest.mark.parametrize("max_norm", [0.5, 100.0])
def test_clip_by_global_norm_matches_torch_clip_grad_norm(max_norm):
    g = _tree()
    leaves = [np.asarray(g[k]) for k in g]
    norm = np.sqrt(sum(np.sum(x**2) for x in leaves))
    np.testing.assert_allclose(float(optim.global_norm(g)), norm, rtol=1e-14)
    coef = min(max_norm / (norm + 1e-6), 1.0)  # torch.nn.utils.clip_grad_norm_
    out = _apply(optim.clip_by_global_norm(max_norm), g)
    for k in g:
        np.testing.assert_allclose(out[k], np.asarray(g[k]) * coef, rtol=1e-14)
    new_norm = np.sqrt(sum(np.sum(out[k] ** 2) for k in out))
    assert new_norm <= max_norm + 1e-9


def test_clip_by_global_norm_keeps_float32_and_empty_trees():
    g = _tree(dtype=np.float32)
    out = _apply(optim.clip_by_global_norm(0.1), g)
    assert all(v.dtype == np.float32 for v in out.values())
    assert _apply(optim.clip_by_global_norm(1.0), {}) == {}


def test_chain_clipping_then_sgd_equals_manual_update():
    g, p = _tree(0), _tree(1)
    opt = optim.chain(optim.clip_by_global_norm(1.0), optim.sgd(0.1, momentum=0.9))
    state = opt.update(opt.init(p), g)
    norm = np.sqrt(sum(np.sum(np.asarray(x) ** 2) for x in g.values()))
    for k in g:
        want = np.asarray(p[k]) - 0.1 * np.asarray(g[k]) * min(1.0, 1.0 / (norm + 1e-6))
        np.testing.assert_allclose(np.asarray(state.params[k]), want, rtol=1e-13)
    # state: one entry per link, the optimizer's own state nested inside
    clip_state, sgd_state = state.inner
    assert clip_state == optim.EmptyState()
    assert isinstance(sgd_state[0], optim.TraceState)
    assert isinstance(sgd_state[1], optim.ScaleByLearningRateState)


def test_chain_of_blocks_equals_alias():
    # adamw spelled out from its blocks gives the same steps as optim.adamw
    blocks = optim.chain(
        optim.scale_by_adam(0.9, 0.999, 1e-8),
        optim.add_decayed_weights(0.1),
        optim.scale_by_learning_rate(1e-2),
    )
    alias = optim.adamw(1e-2, weight_decay=0.1)
    s1, s2 = blocks.init(_tree(1)), alias.init(_tree(1))
    for seed in range(3):
        s1, s2 = blocks.update(s1, _tree(seed + 5)), alias.update(s2, _tree(seed + 5))
    for k in s1.params:
        np.testing.assert_array_equal(np.asarray(s1.params[k]), np.asarray(s2.params[k]))


def test_trace_first_step_is_the_gradient():
    # PyTorch starts the momentum buffer at the first gradient, undampened.
    g = _tree()
    t = optim.trace(0.9, dampening=0.5)
    out, state = t.update(g, t.init(g), g)
    for k in g:
        np.testing.assert_array_equal(np.asarray(out[k]), np.asarray(g[k]))
    out, state = t.update(g, state, g)
    for k in g:
        np.testing.assert_allclose(np.asarray(out[k]), (0.9 + 0.5) * np.asarray(g[k]))


def test_chain_rejects_non_transformations():
    with pytest.raises(TypeError, match="chain"):
        optim.chain(optim.sgd(0.1), lambda g: g)
