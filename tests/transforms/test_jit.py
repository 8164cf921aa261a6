"""jit: caching and retracing, static and donated arguments, errors, printing, composition."""

from __future__ import annotations

import logging

import numpy as np
import pytest

import funcgrad as fg
import funcgrad.lax as lax
import funcgrad.numpy as fnp
from funcgrad import nn, optim
from tests.helpers import check_close


def _x(*shape, seed=0):
    return fnp.asarray(np.random.default_rng(seed).standard_normal(shape).astype(np.float32))


def f(w, x):
    return fnp.tanh(x @ w).sum() * 2.0


# ---------------------------------------------------------------------------------------------
# Caching


def test_jit_equals_eager_and_caches():
    w, x = _x(3, 2), _x(4, 3, seed=1)
    jf = fg.jit(f)
    check_close(jf(w, x), f(w, x), atol=1e-6)
    jf(w, x)
    info = jf.cache_info()
    assert (info.hits, info.misses, info.size) == (1, 1, 1)


def test_retraces_exactly_when_the_signature_changes(caplog):
    jf = fg.jit(lambda x, y: x * y)
    x = fnp.ones(3)
    jf(x, x)
    jf(fnp.zeros(3), fnp.full(3, 2.0))  # new values, same signature
    assert jf.cache_info().misses == 1
    with caplog.at_level(logging.INFO, logger="funcgrad.jit"):
        jf(fnp.ones(4), x[:1])
    assert jf.cache_info().misses == 2
    assert "argument x changed from float32[3] to float32[4]" in jf.cache_info().last_retrace
    assert "float32[4]" in caplog.text
    jf(fnp.ones(3, dtype=np.float64), x)
    assert "float64[3]" in jf.cache_info().last_retrace
    jf(x, x)  # cached
    assert jf.cache_info().misses == 3 and jf.cache_info().size == 3


def test_a_different_pytree_structure_retraces():
    jf = fg.jit(lambda tree: sum(v.sum() for v in fg.tree_util.tree_leaves(tree)))
    assert float(jf({"a": fnp.ones(2)})) == 2.0
    assert float(jf({"a": fnp.ones(2), "b": fnp.ones(3)})) == 5.0
    assert jf.cache_info().misses == 2
    assert "structure" in jf.cache_info().last_retrace


def test_wrong_number_of_arguments_is_a_python_type_error():
    jf = fg.jit(lambda x, y: x + y)
    with pytest.raises(TypeError, match="argument"):
        jf(fnp.ones(2))


def test_python_scalars_are_weakly_typed_and_not_static():
    jf = fg.jit(lambda x, lr: x - lr * x)
    x = fnp.ones(3)
    assert jf(x, 0.5).dtype == np.float32
    np.testing.assert_allclose(np.asarray(jf(x, 0.25)), 0.75)
    assert jf.cache_info().misses == 1  # a new float value does not retrace
    jf(x, 1)  # an int is another signature
    assert jf.cache_info().misses == 2
    # Arithmetic on weak scalars stays weak: no promotion of the float32 array to float64.
    assert fg.jit(lambda x, a, b: x * (a * b + 1.0))(x, 2.0, 3.0).dtype == np.float32


def test_weakly_typed_outputs_become_arrays_of_the_default_dtype():
    out = fg.jit(lambda x, s: (x * s, s, s * 2.0))(fnp.ones(2), 2.0)
    assert [o.dtype for o in out] == [np.float32] * 3
    assert float(out[2]) == 4.0 and out[1].shape == ()


def test_numpy_arguments_are_not_aliased_by_outputs():
    a = np.ones(3, np.float32)
    out = fg.jit(lambda x: x)(a)
    a[0] = 5.0
    assert float(out[0]) == 1.0


# ---------------------------------------------------------------------------------------------
# Static arguments


def test_static_argnums_and_argnames():
    def power(x, n, *, scale=1.0):
        for _ in range(n):  # Python control flow on a static value
            x = x * scale
        return x

    jp = fg.jit(power, static_argnums=1, static_argnames="scale")
    x = fnp.full(2, 2.0)
    np.testing.assert_allclose(np.asarray(jp(x, 3, scale=2.0)), 16.0)
    np.testing.assert_allclose(np.asarray(jp(x, 2, scale=2.0)), 8.0)
    assert "static argument 1 ('n') changed from 3 to 2" in jp.cache_info().last_retrace
    np.testing.assert_allclose(np.asarray(jp(x, n=2, scale=2.0)), 8.0)  # by name too
    jp(x, 2, scale=3.0)
    assert "'scale'" in jp.cache_info().last_retrace


def test_unhashable_static_argument_is_a_clear_type_error():
    jf = fg.jit(lambda x, shape: x.reshape(shape), static_argnums=1)
    with pytest.raises(TypeError, match=r"static argument 1 \('shape'\).*unhashable.*list"):
        jf(fnp.ones(4), [2, 2])
    assert jf(fnp.ones(4), (2, 2)).shape == (2, 2)


def test_non_array_argument_must_be_static():
    with pytest.raises(TypeError, match=r"jit\(<lambda>\).*str.*static_argnums"):
        fg.jit(lambda x, s: x)(fnp.ones(2), "relu")


def test_jit_as_decorator_with_options_and_as_method():
    @fg.jit(static_argnums=1)
    def g(x, k):
        return x * k

    assert float(g(fnp.ones(()), 3)) == 3.0

    class Scaler:
        def __init__(self, k):
            self.k = k

        # As in JAX, ``self`` is an argument: static (hashed by identity) or a pytree.
        @fg.jit(static_argnums=0)
        def __call__(self, x):
            return x * self.k

    assert float(Scaler(2.0)(fnp.ones(()))) == 2.0
    with pytest.raises(TypeError, match="Scaler is not an array"):
        fg.jit(Scaler.__call__)(Scaler(2.0), fnp.ones(()))


# ---------------------------------------------------------------------------------------------
# Errors


def test_branching_on_a_traced_value_names_argument_line_and_fixes():
    def relu_sum(params, x):
        s = (x * params["scale"]).sum()
        if s > 0:  # the offending line
            return s
        return -s

    with pytest.raises(TypeError) as e:
        fg.jit(relu_sum)({"scale": fnp.ones(())}, fnp.ones(3))
    msg = str(e.value)
    assert "jit(relu_sum)" in msg
    assert "params['scale']" in msg and "x" in msg
    assert "test_jit.py" in msg and "if s > 0:" in msg
    for fix in ("lax.cond", "fnp.where", "static_argnums"):
        assert fix in msg


def test_converting_a_traced_value_to_numpy_or_int_is_an_error():
    with pytest.raises(TypeError, match=r"argument x.*NumPy array"):
        fg.jit(lambda x: np.asarray(x) * 2)(fnp.ones(2))
    with pytest.raises(TypeError, match=r"argument n"):
        fg.jit(lambda x, n: fnp.ones(int(n)) * x)(fnp.ones(()), 3)


def test_a_leaked_tracer_names_the_function_it_escaped_from():
    saved = []

    def leaky(x):
        saved.append(x * 2)
        return x

    fg.jit(leaky)(fnp.ones(2))
    with pytest.raises(RuntimeError, match=r"leaked tracer.*jit\(leaky\)"):
        saved[0] + 1
    with pytest.raises(RuntimeError, match=r"leaked tracer.*jit\(leaky\)"):
        np.asarray(saved[0])


# ---------------------------------------------------------------------------------------------
# Programs


def test_make_ir_prints_one_equation_per_line():
    text = str(fg.make_ir(lambda x: fnp.sin(x) * 2.0)(fnp.ones(3)))
    assert text == (
        "{ lambda ; a:f32[3] . let\n    b:f32[3] = sin a\n    c:f32[3] = mul b 2.0\n  in (c) }"
    )


def test_nested_programs_print_indented():
    def g(x):
        return lax.cond(x.sum() > 0, lambda v: v * 2.0, lambda v: v - 1.0, x)

    text = str(fg.make_ir(g)(fnp.ones(2)))
    assert "cond" in text and "branches[0]=" in text
    assert "\n            " in text  # the branch's equations, indented under it


def test_make_ir_with_static_argnums():
    text = str(fg.make_ir(lambda x, n: x**n, static_argnums=1)(fnp.ones(2), 3))
    assert "integer_pow[y=3]" in text


def test_lower_returns_the_optimised_program():
    def g(x):
        y = x * 1.0  # forwarded
        unused = fnp.exp(x)  # noqa: F841 - dead code
        return fnp.sin(y) + fnp.sin(y)  # one sin after CSE

    lowered = fg.jit(g).lower(fnp.ones(3))
    names = [e.prim.name for e in lowered.eqns]
    assert names == ["sin", "add"]


# ---------------------------------------------------------------------------------------------
# Composition: one quantity computed many ways


def _loss(w, x):
    h = fnp.tanh(x @ w["a"] + w["b"])
    return fnp.mean(h**2) + 0.1 * fnp.sum(w["a"] ** 2)


def _ws():
    return {"a": _x(3, 4), "b": _x(4, seed=2)}


def test_grad_of_jit_jit_of_grad_and_nested_jit_agree():
    w, x = _ws(), _x(5, 3, seed=3)
    expected = fg.grad(_loss)(w, x)
    for g in (
        fg.jit(fg.grad(_loss)),
        fg.grad(fg.jit(_loss)),
        fg.jit(fg.grad(fg.jit(_loss))),
        fg.grad(lambda w, x: fg.jit(_loss)(w, x) * 1.0),
    ):
        check_close(g(w, x), expected, atol=1e-5, rtol=1e-5)


def test_vmap_of_jit_of_grad_and_jit_of_vmap_of_grad_agree():
    w, xs = _ws(), _x(6, 2, 3, seed=4)
    loop = [fg.grad(_loss)(w, xs[i]) for i in range(6)]
    expected = fg.tree_util.tree_map(lambda *g: fnp.stack(g), *loop)
    for g in (
        fg.vmap(fg.jit(fg.grad(_loss)), in_axes=(None, 0)),
        fg.jit(fg.vmap(fg.grad(_loss), in_axes=(None, 0))),
        fg.jit(fg.vmap(fg.grad(fg.jit(_loss)), in_axes=(None, 0))),
    ):
        check_close(g(w, xs), expected, atol=1e-5, rtol=1e-5)


def test_jvp_of_jit_and_second_derivatives():
    x, t = _x(4), _x(4, seed=5)
    out, tan = fg.jvp(fg.jit(fnp.sin), (x,), (t,))
    check_close(out, fnp.sin(x), atol=1e-6)
    check_close(tan, fnp.cos(x) * t, atol=1e-6)
    h = fg.grad(fg.grad(lambda a: fg.jit(fnp.sin)(a)))
    np.testing.assert_allclose(float(h(0.7)), -np.sin(0.7), rtol=1e-5)
    hess = fg.jit(fg.hessian(lambda v: (v**3).sum()))(x)
    check_close(hess, fnp.diag(6 * x), atol=1e-5)


def test_jit_of_control_flow():
    def g(x):
        c, ys = lax.scan(lambda c, v: (c + v, c * v), 0.0, x)
        y = lax.fori_loop(0, 3, lambda i, v: v * 2.0, c)
        z = lax.while_loop(lambda v: v < 100.0, lambda v: v * 3.0, fnp.abs(y) + 1.0)
        return lax.cond(z > 50.0, lambda v: v + ys.sum(), lambda v: v - 1.0, z)

    x = _x(5)
    check_close(fg.jit(g)(x), g(x), atol=1e-5)
    gx = fg.grad(lambda v: lax.scan(lambda c, a: (c * a + a, None), 1.0, v)[0])
    check_close(fg.jit(gx)(x), gx(x), atol=1e-5)


def test_custom_vjp_keeps_its_rule_under_jit():
    @fg.custom_vjp
    def clip_gradient(x):
        return x

    clip_gradient.defvjp(lambda x: (x, None), lambda _, g: (fnp.clip(g, -0.1, 0.1),))

    def g(x):
        return (clip_gradient(x) * 10.0).sum()

    x = fnp.ones(3)
    for h in (fg.grad(g), fg.jit(fg.grad(g)), fg.grad(fg.jit(g))):
        np.testing.assert_allclose(np.asarray(h(x)), 0.1)


def test_checkpoint_under_jit():
    g = fg.checkpoint(lambda x: fnp.sin(fnp.sin(x)))
    x = _x(3)
    check_close(fg.jit(fg.grad(lambda v: g(v).sum()))(x), fg.grad(lambda v: g(v).sum())(x))


def test_jit_of_a_training_step_with_nn_and_optim():
    model = nn.Sequential(nn.Linear(3, 8), nn.ReLU(), nn.Linear(8, 2))
    opt = optim.adam(0.01)
    state = opt.init(model.init(fg.random.key(0)))
    x, labels = _x(16, 3), fnp.asarray(np.arange(16) % 2)

    def step(state, x, labels):
        loss, grads = fg.value_and_grad(lambda p: nn.cross_entropy(model.apply(p, x), labels))(
            state.params
        )
        return loss, opt.update(state, grads)

    jstep = fg.jit(step)
    s1 = s2 = state
    for _ in range(3):
        l1, s1 = step(s1, x, labels)
        l2, s2 = jstep(s2, x, labels)
    check_close((l1, s1), (l2, s2), atol=1e-5, rtol=1e-5)
    assert jstep.cache_info().misses == 1


# ---------------------------------------------------------------------------------------------
# Buffers


def test_inputs_are_never_written_and_donation_reuses_buffers():
    def g(x):
        return fnp.exp(fnp.sin(x) * 2.0) + 1.0

    x = _x(1000)
    before = np.array(x)
    jg = fg.jit(g)
    out = jg(x)
    np.testing.assert_array_equal(np.asarray(x), before)  # the caller's buffer is intact
    check_close(out, g(x), atol=1e-6)
    exe = jg._cache[next(iter(jg._cache))].executable
    assert exe.num_inplace >= 2  # exp, add write into the dying temporaries

    donating = fg.jit(g, donate_argnums=0)
    y = fnp.asarray(before)
    check_close(donating(y), g(x), atol=1e-6)
    with pytest.raises(RuntimeError, match="donated"):
        y + 1.0


def test_buffer_reuse_keeps_values_that_are_still_needed():
    def g(x):
        a = fnp.sin(x)
        b = a * 2.0  # a is still needed below: not overwritten
        c = fnp.exp(b)  # b dies here: may be overwritten
        return c + a, a

    x = _x(50)
    check_close(fg.jit(g)(x), g(x), atol=1e-6)


def test_debug_callback_runs_on_every_call_and_survives_the_passes():
    seen = []

    @fg.jit
    def g(x):
        fg.debug.callback(lambda v: seen.append(float(v.sum())), x)
        return x * 2.0

    g(fnp.ones(2))
    g(fnp.ones(2) * 3)
    assert seen == [2.0, 6.0]
    assert any(e.prim.name == "debug_callback" for e in g.lower(fnp.ones(2)).eqns)


def test_devices_are_part_of_the_signature_and_must_agree():
    with fg.config(num_cpu_devices=2):
        d0, d1 = fg.devices()
        x0, x1 = fg.device_put(fnp.ones(3), d0), fg.device_put(fnp.ones(3), d1)
        jf = fg.jit(lambda a, b: a + b)
        assert jf(x0, x0).device == d0
        assert jf(x1, x1).device == d1
        assert jf.cache_info().misses == 2 and "cpu:1" in jf.cache_info().last_retrace
        with pytest.raises(ValueError, match=r"jit\(<lambda>\).*cpu:0 and cpu:1.*fg.device_put"):
            jf(x0, x1)
