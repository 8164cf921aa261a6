"""Bad input gets a clear error naming the operation, the argument and the shapes/dtypes."""

from __future__ import annotations

import numpy as np
import pytest

import funcgrad as fg
import funcgrad.numpy as fnp


def test_grad_of_non_scalar_output():
    with pytest.raises(TypeError, match=r"scalar.*shape \(3,\).*jacrev.*vjp"):
        fg.grad(lambda x: x * 2.0)(np.ones(3))


def test_grad_wrt_integer_or_bool_argument():
    with pytest.raises(TypeError, match="argument 0 has dtype int"):
        fg.grad(lambda x: x * 2.0)(3)
    with pytest.raises(TypeError, match="argument 1 has dtype bool"):
        fg.grad(lambda x, m: fnp.sum(x * m), argnums=1)(np.ones(2), np.array([True, False]))


def test_argnums_out_of_range():
    with pytest.raises(TypeError, match="argnums=2 is out of range for 2 positional"):
        fg.grad(lambda a, b: a * b, argnums=2)(1.0, 2.0)


@pytest.mark.parametrize("op", [fnp.add, fnp.multiply, lambda a, b: a - b, lambda a, b: a * b])
def test_binary_op_incompatible_shapes(op):
    a, b = fnp.ones((2, 3)), fnp.ones((4,))
    with pytest.raises(ValueError, match=r"(add|mul|sub).*\[2, 3\].*\[4\]"):
        op(a, b)
    # Under grad the same error is raised (the primal is computed eagerly).
    with pytest.raises(ValueError, match=r"\[2, 3\].*\[4\]"):
        fg.grad(lambda a: fnp.sum(op(a, b)))(a)


def test_writing_into_an_array_is_refused():
    x = fnp.arange(3.0)
    with pytest.raises(TypeError, match=r"\.at\["):
        x[0] = 1.0
    view = np.asarray(x)
    with pytest.raises(ValueError, match="read-only"):
        view[0] = 5.0
    with pytest.raises(ValueError):
        view.flags.writeable = True
    assert float(x[0]) == 0.0 if hasattr(x, "__getitem__") else True


def test_custom_vjp_bwd_wrong_structure_or_shape():
    @fg.custom_vjp
    def f(x, y):
        return x * y

    f.defvjp(lambda x, y: (x * y, (x, y)), lambda res, g: (g * res[1],))
    with pytest.raises(TypeError, match=r"custom_vjp f: bwd returned 1 cotangent.*2 primal"):
        fg.grad(f)(1.0, 2.0)

    @fg.custom_vjp
    def h(x):
        return fnp.sum(x)

    h.defvjp(lambda x: (fnp.sum(x), x), lambda x, g: (fnp.ones(2),))
    with pytest.raises(ValueError, match=r"custom_vjp h: .*shape \(2,\), expected \(3,\)"):
        fg.grad(h)(np.ones(3))


def test_debug_nans_names_the_primitive():
    def f(x):
        return fnp.sum(fnp.sqrt(x - 2.0) * 3.0)

    with fg.config(debug_nans=True):
        with pytest.raises(FloatingPointError, match="'sqrt'"):
            with np.errstate(invalid="ignore"):
                f(np.ones(2))
        with pytest.raises(FloatingPointError, match="'log'"):
            with np.errstate(invalid="ignore"):
                fg.grad(lambda x: fnp.log(x) * 1.0)(-1.0)
    assert not fg.config.debug_nans
    with np.errstate(invalid="ignore"):
        assert np.isnan(np.asarray(f(np.ones(2))))  # off again: NaN flows through silently


def test_leaked_tracer_is_reported():
    leaked = []

    def f(x):
        leaked.append(x)
        return x * 2.0

    fg.grad(f)(1.0)
    with pytest.raises(RuntimeError, match="tracer of a finished transform"):
        leaked[0] * 3.0
