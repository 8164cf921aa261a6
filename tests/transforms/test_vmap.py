"""vmap: in_axes/out_axes forms, nesting, composition with the grad family, errors."""

from __future__ import annotations

import numpy as np
import pytest

import funcgrad as fg
import funcgrad.numpy as fnp
from tests.helpers import check_close, check_vmap

rng = np.random.default_rng(0)


def test_in_axes_forms_and_keyword_arguments():
    x, y = rng.standard_normal((4, 3)), rng.standard_normal((3, 4))
    f = lambda a, b: fnp.sin(a) * b
    check_vmap(f, (x, y), (0, 1))
    check_vmap(f, (x, y[:, 0]), (0, None))
    check_vmap(f, (x, y), (-2, -1))
    out = fg.vmap(lambda a, *, b: a * b)(x, b=x)  # keyword arguments map over axis 0
    check_close(out, x * x)
    tree = {"w": x, "b": np.ones(3)}
    out = fg.vmap(lambda p: p["w"] + p["b"], in_axes=({"w": 0, "b": None},))(tree)
    check_close(out, x + 1)


def test_out_axes_and_unbatched_outputs_are_broadcast():
    x = rng.standard_normal((4, 3))
    out = fg.vmap(lambda a: (a * 2, fnp.ones(2)), out_axes=(1, 0))(x)
    check_close(out[0], (x * 2).T)
    assert out[1].shape == (4, 2)
    assert fg.vmap(lambda a: 3.0, axis_size=5, in_axes=None)(x).shape == (5,)


def test_nested_vmap_any_axes():
    x = rng.standard_normal((2, 3, 4))
    out = fg.vmap(fg.vmap(lambda v: fnp.sum(v**2), in_axes=1), in_axes=2)(x)
    check_close(out, np.sum(x**2, axis=0).T)
    m = rng.standard_normal((5, 3, 3))
    v = rng.standard_normal((3, 5))
    out = fg.vmap(lambda a, b: fg.vmap(fnp.dot, in_axes=(0, None))(a, b), in_axes=(0, 1))(m, v)
    check_close(out, np.einsum("bij,jb->bi", m, v))


def loss(w, x, y):
    return fnp.mean((fnp.tanh(x @ w) - y) ** 2)


def test_per_example_gradients_equal_a_loop_of_grad():
    w, xs, ys = (
        rng.standard_normal((3, 2)),
        rng.standard_normal((6, 4, 3)),
        rng.standard_normal((6, 4, 2)),
    )
    per_example = fg.vmap(fg.grad(loss), in_axes=(None, 0, 0))(w, xs, ys)
    loop = np.stack([np.asarray(fg.grad(loss)(w, x, y)) for x, y in zip(xs, ys)])
    check_close(per_example, loop, 1e-12, 1e-12)
    # grad of a vmapped function (with a scalar reduction) equals the sum of the per-example grads
    total = fg.grad(lambda w: fnp.sum(fg.vmap(loss, in_axes=(None, 0, 0))(w, xs, ys)))(w)
    check_close(total, loop.sum(0), 1e-12, 1e-12)


def test_jvp_and_vmap_commute():
    xs, ts = rng.standard_normal((5, 3)), rng.standard_normal((5, 3))
    f = lambda x: fnp.sin(x) * fnp.sum(x**2)
    out1 = fg.jvp(fg.vmap(f), (xs,), (ts,))[1]
    out2 = fg.vmap(lambda x, t: fg.jvp(f, (x,), (t,))[1])(xs, ts)
    check_close(out1, out2, 1e-12, 1e-12)
    hvp = fg.vmap(lambda t: fg.jvp(fg.grad(lambda x: fnp.sum(x**3)), (xs[0],), (t,))[1])(ts)
    check_close(hvp, 6 * xs[0] * ts, 1e-12, 1e-12)


def test_vmap_of_custom_rules_and_checkpoint_keeps_the_rules():
    @fg.custom_vjp
    def clip_gradient(x):
        return x

    clip_gradient.defvjp(lambda x: (x, None), lambda _, g: (fnp.clip(g, -1.0, 1.0),))
    f = lambda x: fnp.sum(clip_gradient(x) * 5.0)
    x = rng.standard_normal((3, 2))
    check_close(fg.grad(lambda x: fnp.sum(fg.vmap(f)(x)))(x), np.ones((3, 2)))
    check_close(fg.vmap(fg.grad(f))(x), np.ones((3, 2)))

    @fg.custom_jvp
    def log1pexp(x):
        return fnp.log1p(fnp.exp(x))

    log1pexp.defjvp(lambda p, t: (log1pexp(p[0]), t[0] * fg.scipy.special.expit(p[0])))
    z = np.array([100.0, 0.0, -3.0])
    expected = 1 / (1 + np.exp(-z))
    check_close(fg.grad(lambda z: fnp.sum(fg.vmap(log1pexp)(z)))(z), expected, 1e-12, 1e-12)
    check_close(fg.vmap(fg.grad(log1pexp))(z), expected, 1e-12, 1e-12)

    w, xs, ys = (
        rng.standard_normal((3, 2)),
        rng.standard_normal((4, 5, 3)),
        rng.standard_normal((4, 5, 2)),
    )
    g1 = fg.vmap(fg.grad(fg.checkpoint(loss)), in_axes=(None, 0, 0))(w, xs, ys)
    g2 = fg.vmap(fg.grad(loss), in_axes=(None, 0, 0))(w, xs, ys)
    check_close(g1, g2, 1e-12, 1e-12)


def test_mapped_sizes_must_agree():
    with pytest.raises(ValueError, match=r"argument 0: 3, argument 1\['b'\]: 4"):
        fg.vmap(lambda a, p: a + p["b"])(np.ones(3), {"b": np.ones(4)})


def test_axes_structure_and_range_errors():
    x = np.ones((2, 3))
    with pytest.raises(ValueError, match="in_axes has 1 entries but .* 2 positional"):
        fg.vmap(lambda a, b: a, in_axes=(0,))(x, x)
    with pytest.raises(ValueError, match=r"in_axes.*argument 0.*dict keys"):
        fg.vmap(lambda p: p["a"], in_axes=({"b": 0},))({"a": x})
    with pytest.raises(
        ValueError, match=r"in_axes 2 is out of range for argument 0 of shape \(2, 3\)"
    ):
        fg.vmap(lambda a: a, in_axes=2)(x)
    with pytest.raises(ValueError, match="out_axes 3 is out of range"):
        fg.vmap(lambda a: a, out_axes=3)(x)
    with pytest.raises(ValueError, match="axis_size"):
        fg.vmap(lambda a: a, in_axes=None)(x)


def test_python_control_flow_on_batched_values_is_refused():
    x = np.array([1.0, -1.0])
    for convert in (bool, int, float):
        with pytest.raises(TypeError, match=r"differs across the batch.*fnp.where.*lax.cond"):
            fg.vmap(convert)(x)
    with pytest.raises(TypeError, match="differs across the batch"):
        fg.vmap(lambda a: a if a > 0 else -a)(x)
    check_close(fg.vmap(lambda a: fnp.where(a > 0, a, -a))(x), np.abs(x))


def test_every_primitive_has_a_batch_rule():
    from funcgrad.core.primitive import all_primitives
    from funcgrad.transforms.vmap import batch_rules, collective_rules

    # custom_vjp/custom_jvp calls are batched by BatchTrace's process_custom_*_call methods.
    exempt = {"custom_vjp_call", "custom_jvp_call"}
    missing = [
        p.name
        for p in all_primitives
        if p not in batch_rules and p not in collective_rules and p.name not in exempt
    ]
    assert not missing, f"primitives without a batch rule: {missing}"
