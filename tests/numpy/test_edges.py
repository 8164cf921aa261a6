"""NumPy's behaviour at the edges: sequences of traced values, keywords and out=, derivative
conventions, scalar types as dtypes and converters, array methods, and the errors of the newer
functions (statistics, polynomials, convolution, insert/delete)."""

from __future__ import annotations

import inspect

import numpy as np
import pytest

import funcgrad as fg
import funcgrad.numpy as fnp
from tests.helpers import check_grads


def check_close(actual, expected, atol=1e-5, rtol=1e-5):
    """Values (a pytree of arrays, or a tuple of them) against NumPy values or plain lists."""
    if isinstance(actual, tuple):
        assert len(actual) == len(expected)
        for a, e in zip(actual, expected):
            check_close(a, e, atol, rtol)
        return
    np.testing.assert_allclose(np.asarray(actual), np.asarray(expected), atol=atol, rtol=rtol)


# ------------------------------------------------------------------------------------------------
# sequences holding traced values


def test_mean_of_a_list_of_traced_scalars():
    g = fg.grad(lambda x, y: fnp.mean([x, y]), argnums=(0, 1))(2.0, 3.0)
    check_close(g, (0.5, 0.5))


def test_concatenate_and_stack_of_lists_mixing_traced_and_plain_values():
    f = lambda a: (fnp.concatenate([a, fnp.ones(2), [5.0]]) ** 2).sum()
    check_close(fg.grad(f)(fnp.asarray([1.0, 2.0])), [2.0, 4.0])
    g = fg.grad(lambda a: fnp.stack((a, np.zeros(2, np.float32))).sum())(fnp.ones(2))
    check_close(g, [1.0, 1.0])


def test_norm_of_a_list_of_traced_scalars():
    g = fg.grad(lambda x, y: fnp.linalg.norm([x, y]), argnums=(0, 1))(3.0, 4.0)
    check_close(g, (0.6, 0.8))


def test_array_of_traced_and_python_scalars_keeps_the_traced_dtype():
    def f(x):
        a = fnp.array([x, 1.0, 2])  # Python scalars are weak: the array stays float32
        assert a.dtype == np.float32 and a.shape == (3,)
        return (a * fnp.asarray([1.0, 2.0, 3.0])).sum()

    assert fg.grad(f)(fnp.asarray(2.0, np.float32)) == 1.0
    # NumPy values keep their dtype and promote
    assert fg.grad(lambda x: fnp.asarray([x, np.float64(1)]).sum())(2.0).dtype == np.float32
    out = fg.vmap(lambda x: fnp.array([x, 1.0]))(fnp.asarray([1.0, 2.0]))
    check_close(out, [[1.0, 1.0], [2.0, 1.0]])


def test_nested_lists_and_tuples_of_traced_values():
    g = fg.grad(lambda x, y: fnp.array([[x, 1.0], (2.0, y)]).prod(), argnums=(0, 1))(2.0, 3.0)
    check_close(g, (6.0, 4.0))
    check_grads(lambda x: fnp.sum([[x, 2.0 * x], [x * x, 1.0]]), [np.array(0.7)])


def test_indexing_with_a_python_list_accumulates_the_gradient():
    g = fg.grad(lambda x: x[[0, 0, 2]].sum())(fnp.ones(3))
    check_close(g, [2.0, 0.0, 1.0])
    g = fg.grad(lambda x: x[[[0, 1], [1, 1]]].sum())(fnp.ones((2, 2)))
    check_close(g, [[1.0, 1.0], [3.0, 3.0]])


@pytest.mark.parametrize(
    "call, who",
    [
        (lambda x: fnp.mean([x, fnp.ones(3)]), "fnp.mean"),
        (lambda x: fnp.asarray([x, fnp.ones(3)]), "fnp.asarray"),
        (lambda x: fnp.linalg.norm([x, fnp.ones(3)]), "fnp.linalg.norm"),
        (lambda x: fnp.maximum([x, [1.0, 2.0, 3.0]], 0.0), "fnp.maximum"),
        (lambda x: fnp.sum([[1.0], [1.0, 2.0]]), "fnp.sum"),
    ],
)
def test_lists_of_different_shapes_name_the_function_and_the_shapes(call, who):
    with pytest.raises(ValueError, match=rf"{who}: .*different shapes \[\(2,\), \(3,\)\]|{who}: "):
        fg.grad(lambda x: call(x).sum())(fnp.ones(2))
    with pytest.raises(ValueError, match=r"\(1,\), \(2,\)"):
        fnp.sum([[1.0], [1.0, 2.0]])


def test_stack_of_different_shapes_is_a_value_error():
    with pytest.raises(ValueError, match=r"fnp.stack: .*\[\(2,\), \(3,\)\]"):
        fnp.stack([fnp.ones(2), fnp.ones(3)])


# ------------------------------------------------------------------------------------------------
# keywords and out=


def test_clip_accepts_numpy_1_and_numpy_2_keywords():
    x = fnp.asarray([-2.0, 0.5, 3.0])
    for out in (
        fnp.clip(x, 0.0, 1.0),
        fnp.clip(x, a_min=0.0, a_max=1.0),
        fnp.clip(x, min=0.0, max=1.0),
        x.clip(0.0, 1.0),
        x.clip(min=0.0, max=1.0),
    ):
        check_close(out, [0.0, 0.5, 1.0])
    check_close(fnp.clip(x, max=1.0), [-2.0, 0.5, 1.0])
    check_close(fnp.clip(x, a_min=0.0), [0.0, 0.5, 3.0])
    with pytest.raises(TypeError, match="fnp.clip: give the lower bound once"):
        fnp.clip(x, a_min=0.0, min=0.0)
    with pytest.raises(ValueError, match="fnp.clip: give a lower bound"):
        fnp.clip(x)


def test_ddof_keepdims_and_correction():
    x = np.random.default_rng(0).standard_normal((3, 4))
    check_close(fnp.var(x, axis=1, ddof=1, keepdims=True), np.var(x, axis=1, ddof=1, keepdims=True))
    check_close(fnp.std(x, ddof=1), np.std(x, ddof=1))
    check_close(fnp.std(x, correction=1), np.std(x, correction=1))
    check_close(fnp.nanvar(x, ddof=2, axis=0), np.nanvar(x, ddof=2, axis=0))


_OTHER_AREAS: set[str] = set()  # names exempt from the out= check


def _numpy_has_out(name):
    ref = getattr(np, name, None)
    if isinstance(ref, np.ufunc):
        return True
    try:
        return callable(ref) and "out" in inspect.signature(ref).parameters
    except (TypeError, ValueError):
        return False


_OUT_NAMES = sorted(
    n
    for n in dir(fnp)
    if not n.startswith("_")
    and callable(getattr(fnp, n))
    and not isinstance(getattr(fnp, n), type)
    and _numpy_has_out(n)
    and n not in _OTHER_AREAS
)
_SPECIAL_ARGS = {
    "clip": lambda x: (x, 0.0, 1.0),
    "take": lambda x: (x, [0]),
    "concatenate": lambda x: ([x, x],),
    "stack": lambda x: ([x, x],),
    "quantile": lambda x: (x, 0.5),
    "nanquantile": lambda x: (x, 0.5),
    "percentile": lambda x: (x, 50),
    "nanpercentile": lambda x: (x, 50),
    "trace": lambda x: (fnp.ones((2, 2)),),
    "cross": lambda x: (fnp.ones(3), fnp.ones(3)),
    "dot": lambda x: (x, x),
    "outer": lambda x: (x, x),
    "einsum": lambda x: ("i,i", x, x),
}


def test_every_function_that_numpy_gives_out_is_covered():
    assert {"sin", "sum", "clip", "concatenate", "nansum", "median", "cumsum"} <= set(_OUT_NAMES)


@pytest.mark.parametrize("name", _OUT_NAMES)
def test_out_raises_a_type_error_saying_arrays_are_immutable(name):
    x = fnp.asarray([0.25, 0.5, 0.75])
    ref = getattr(np, name)
    if name in _SPECIAL_ARGS:
        args = _SPECIAL_ARGS[name](x)
    elif isinstance(ref, np.ufunc):
        args = (x,) * ref.nin
    else:
        args = (x,)
    with pytest.raises(TypeError, match="immutable"):
        getattr(fnp, name)(*args, out=fnp.zeros(3))


def test_out_error_says_to_use_the_returned_value():
    for call in (
        lambda o: fnp.sin(fnp.ones(3), out=o),
        lambda o: fnp.sum(fnp.ones(3), out=o),
        lambda o: fnp.concatenate([fnp.ones(3)], out=o),
        lambda o: fnp.median(fnp.ones(3), out=o),
        lambda o: fnp.nanmax(fnp.ones(3), out=o),
    ):
        with pytest.raises(
            TypeError,
            match=r"out= is not supported because funcgrad arrays are "
            r"immutable; use the returned value",
        ):
            call(fnp.zeros(3))


def test_out_on_methods():
    x = fnp.ones(3)
    for call in (lambda: x.sum(out=x), lambda: x.clip(0, 1, out=x), lambda: x.dot(x, out=x)):
        with pytest.raises(TypeError, match="immutable"):
            call()


# ------------------------------------------------------------------------------------------------
# derivative conventions


def test_std_of_a_single_element_has_zero_gradient():
    for f in (
        lambda x: fnp.std(x),
        lambda x: fnp.std(x, axis=0).sum(),
        lambda x: x.std(),
        lambda x: fnp.nanstd(x),
    ):
        g = fg.grad(f)(fnp.asarray([1.5]))
        assert np.array_equal(np.asarray(g), [0.0])
    g = fg.grad(lambda x: fnp.std(x, axis=1).sum())(fnp.asarray([[1.0], [2.0]]))
    assert np.array_equal(np.asarray(g), [[0.0], [0.0]])
    g = fg.grad(lambda x: fnp.std(x))(fnp.asarray([2.0, 2.0, 2.0]))  # constant data too
    assert np.all(np.isfinite(np.asarray(g)))


@pytest.mark.parametrize("name", ["max", "min", "amax", "amin", "nanmax", "nanmin"])
def test_max_min_with_ties_split_the_gradient_evenly(name):
    f = getattr(fnp, name)
    sign = 1.0 if "max" in name else -1.0  # ties at the maximum, or at the minimum
    g = fg.grad(lambda x: f(x))(fnp.asarray([1.0, 3.0, 3.0, 3.0, -1.0]) * sign)
    check_close(g, [0.0, 1 / 3, 1 / 3, 1 / 3, 0.0])
    g = fg.grad(lambda x: f(x, axis=1).sum())(fnp.asarray([[2.0, 2.0], [1.0, 0.0]]) * sign)
    check_close(g, [[0.5, 0.5], [1.0, 0.0]])
    _, t = fg.jvp(lambda x: f(x), (fnp.asarray([3.0, 3.0]),), (fnp.asarray([1.0, 0.0]),))
    check_close(t, 0.5)


def test_elementwise_maximum_ties_split_evenly():
    g = fg.grad(lambda x, y: fnp.maximum(x, y), argnums=(0, 1))(2.0, 2.0)
    check_close(g, (0.5, 0.5))


def test_median_of_an_even_count_splits_between_the_middle_values():
    g = fg.grad(fnp.median)(fnp.asarray([3.0, 1.0, 2.0, 5.0]))
    check_close(g, [0.5, 0.0, 0.5, 0.0])


def test_quantile_is_differentiable_in_a_traced_q():
    x = np.array([3.0, 1.0, 2.0, 5.0, -1.0])
    check_grads(lambda q: fnp.quantile(x, q), [np.array(0.3)])
    check_grads(lambda q: fnp.percentile(x, q, method="midpoint"), [np.array([20.0, 70.0])])
    check_grads(lambda x, q: fnp.nanquantile(x, q), [x, np.array(0.55)])
    check_close(fnp.quantile(x, fnp.asarray([0.3, 0.9])), np.quantile(x, [0.3, 0.9]))


def test_nan_functions_give_nan_gradient_zero_and_all_nan_slices():
    x = fnp.asarray([[1.0, np.nan, 3.0], [np.nan, np.nan, np.nan]])
    g = fg.grad(lambda x: fnp.nansum(x) + fnp.nanmean(x[0]))(x)
    check_close(g, [[1.5, 0.0, 1.5], [0.0, 0.0, 0.0]])
    with np.errstate(all="ignore"), pytest.warns(RuntimeWarning):
        for name in ("nanmean", "nanmax", "nanmedian", "nanvar"):
            check_close(getattr(fnp, name)(x, axis=1), getattr(np, name)(np.asarray(x), axis=1))
        check_close(
            fnp.nanpercentile(x, [10, 90], axis=1), np.nanpercentile(np.asarray(x), [10, 90], 1)
        )


def test_unique_has_no_derivative():
    g = fg.grad(lambda x: fnp.unique(x).sum() * x.sum())(fnp.asarray([1.0, 1.0, 2.0]))
    check_close(g, [3.0, 3.0, 3.0])  # unique(x) enters as a constant


# ------------------------------------------------------------------------------------------------
# scalar types


@pytest.mark.parametrize("name", ["float16", "float32", "float64", "int32", "int64", "bool_"])
def test_scalar_types_work_as_dtypes_everywhere(name):
    t, ref = getattr(fnp, name), getattr(np, name)
    assert np.dtype(t) == np.dtype(ref)
    assert fnp.zeros(3, t).dtype == ref and fnp.zeros(3, dtype=t).dtype == ref
    assert fnp.ones(2).astype(t).dtype == ref and np.zeros(2, t).dtype == ref
    assert fnp.arange(2, dtype=t).dtype == ref and fnp.asarray([1, 0], t).dtype == ref
    assert t == ref and ref == t and t == np.dtype(ref) and hash(t) == hash(ref)
    assert {ref: 1}[t] == 1
    assert isinstance(ref(1), t) and not isinstance(1.0, t)
    assert fnp.issubdtype(t, ref) and np.issubdtype(np.dtype(ref), t)
    assert np.result_type(t, np.int8) == np.result_type(ref, np.int8)


def test_float_types_work_with_finfo_and_abstract_types():
    assert np.finfo(fnp.float32).eps == np.finfo(np.float32).eps
    assert np.iinfo(fnp.int32).max == 2**31 - 1
    assert fnp.issubdtype(fnp.float32, fnp.floating)
    assert not fnp.issubdtype(fnp.int32, fnp.inexact)
    assert fnp.bool is fnp.bool_ and fnp.dtype(fnp.bool) == np.bool_


def test_scalar_types_convert_plain_values_like_numpy():
    v = fnp.float32(1.5)
    assert type(v) is np.float32 and v == 1.5
    assert fnp.int32(3.7) == 3 and type(fnp.int32(3.7)) is np.int32
    assert fnp.float64([1, 2]).dtype == np.float64
    assert fnp.float32() == 0.0


def test_scalar_types_convert_traced_values_like_astype():
    x = fnp.asarray([1.0, 2.0], np.float64)
    assert isinstance(fnp.float32(x), fg.Array) and fnp.float32(x).dtype == np.float32
    g = fg.grad(lambda x: (fnp.float32(x) * 3.0).sum())(x)
    assert g.dtype == np.float64
    check_close(g, [3.0, 3.0])
    check_close(fg.vmap(fnp.int32)(fnp.asarray([1.7, -2.2])), [1, -2])
    check_close(fg.grad(lambda x: fnp.float64([x, 2 * x]).sum())(1.0), 3.0)
    assert fg.vmap(lambda x: fnp.bool_(x))(fnp.asarray([0.0, 2.0])).dtype == np.bool_


def test_isinstance_ndarray_for_arrays_and_tracers():
    seen = []

    def f(x):
        seen.append(isinstance(x, fnp.ndarray))
        return x.sum()

    fg.grad(f)(fnp.ones(2))
    fg.vmap(f)(fnp.ones((2, 2)))
    fg.jvp(f, (fnp.ones(2),), (fnp.ones(2),))
    assert seen == [True, True, True]
    assert isinstance(fnp.ones(2), fnp.ndarray) and not isinstance(np.ones(2), fnp.ndarray)


# ------------------------------------------------------------------------------------------------
# array methods


_X = np.arange(1.0, 7.0).reshape(2, 3)


@pytest.mark.parametrize(
    "call",
    [
        lambda x: x.dot(np.ones(3)),
        lambda x: x.reshape(3, 2),
        lambda x: x.reshape((-1,)),
        lambda x: x.transpose(),
        lambda x: x.transpose(1, 0),
        lambda x: x.sum(axis=0),
        lambda x: x.mean(keepdims=True),
        lambda x: x.max(axis=1),
        lambda x: x.min(),
        lambda x: x.prod(axis=0),
        lambda x: x.var(ddof=1),
        lambda x: x.std(axis=0),
        lambda x: x.cumsum(axis=1),
        lambda x: x.ravel(),
        lambda x: x.flatten(),
        lambda x: x[None].squeeze(),
        lambda x: x.astype(np.int32),
        lambda x: x.clip(2, 5),
        lambda x: (x / 3).round(2),
        lambda x: x.conj(),
        lambda x: x.real,
        lambda x: x.imag,
        lambda x: x.T,
        lambda x: x.mT,
        lambda x: x.all(axis=0),
        lambda x: x.any(where=x > 5),
        lambda x: x.copy(),
    ],
)
def test_array_methods_match_numpy(call):
    out, expected = call(fnp.asarray(_X)), call(_X.copy())
    check_close(out, expected)
    assert out.dtype == expected.dtype and out.shape == expected.shape


def test_item_tolist_nbytes_and_fill():
    x = fnp.asarray(_X)
    assert x.item(1) == 2.0 and x.tolist() == _X.tolist()
    assert x.nbytes == _X.nbytes and x.itemsize == 8
    with pytest.raises(TypeError, match="immutable.*full_like"):
        x.fill(0.0)


def test_item_and_tolist_under_grad_give_the_concrete_value():
    seen = []

    def f(x):
        seen.extend([x[0].item(), x.tolist(), float(x[1])])
        return x.sum()

    fg.grad(f)(fnp.asarray([1.0, 2.0]))
    assert seen == [1.0, [1.0, 2.0], 2.0]
    with pytest.raises(TypeError, match="vmap"):
        fg.vmap(lambda x: x.item())(fnp.ones(2))


# ------------------------------------------------------------------------------------------------
# newer functions: behaviour and errors


def test_statistics_match_numpy():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((3, 5))
    w = rng.uniform(0.1, 1.0, 5)
    check_close(fnp.average(x, axis=1, weights=w), np.average(x, axis=1, weights=w))
    avg, scl = fnp.average(x, axis=1, weights=w, returned=True)
    check_close(scl, np.average(x, axis=1, weights=w, returned=True)[1])
    check_close(fnp.average(x, keepdims=True), np.average(x, keepdims=True))
    check_close(fnp.cov(x, aweights=w, ddof=0), np.cov(x, aweights=w, ddof=0))
    check_close(fnp.corrcoef(x[0], x[1]), np.corrcoef(x[0], x[1]))
    check_close(fnp.quantile(x, [[0.2], [0.7]], axis=0), np.quantile(x, [[0.2], [0.7]], axis=0))
    check_close(fnp.median(x, axis=(0, 1)), np.median(x, axis=(0, 1)))
    assert fnp.median(fnp.asarray([1, 2, 3, 4])).dtype == np.float64  # integers give float64


def test_statistics_errors():
    x = fnp.ones((2, 3))
    with pytest.raises(ValueError, match=r"fnp.percentile: q must lie in \[0, 100\]"):
        fnp.percentile(x, 120)
    with pytest.raises(ValueError, match="fnp.quantile: method must be one of"):
        fnp.quantile(x, 0.5, method="weibull")
    with pytest.raises(TypeError, match=r"fnp.average: a of shape \(2, 3\) and weights"):
        fnp.average(x, weights=fnp.ones(3))
    with pytest.raises(ValueError, match="fnp.average: weights of length 2 do not match axis 1"):
        fnp.average(x, axis=1, weights=fnp.ones(2))
    with pytest.raises(ZeroDivisionError, match="fnp.average: the weights sum to zero"):
        fnp.average(x, axis=1, weights=fnp.zeros(3))
    with pytest.raises(ValueError, match=r"fnp.cov: fweights must be 1-d of length 3"):
        fnp.cov(x, fweights=[1, 2])
    with pytest.raises(TypeError, match="fnp.cov: fweights must be integers"):
        fnp.cov(x, fweights=[1, 2.5, 1])
    with pytest.raises(ValueError, match="fnp.cov: m and y hold different numbers"):
        fnp.cov(x, fnp.ones((1, 4)))
    with pytest.raises(ValueError, match=r"fnp.cov: m has more than 2 dimensions"):
        fnp.cov(fnp.ones((2, 2, 2)))
    with pytest.raises(TypeError, match="fnp.median: complex input"):
        fnp.median(fnp.ones(2, fnp.complex64))


def test_convolution_polynomial_and_interp_errors():
    with pytest.raises(ValueError, match="fnp.convolve: v cannot be empty"):
        fnp.convolve(fnp.ones(3), fnp.ones(0))
    with pytest.raises(ValueError, match=r"fnp.correlate: a must be 1-d, got shape \(2, 2\)"):
        fnp.correlate(fnp.ones((2, 2)), fnp.ones(2))
    with pytest.raises(ValueError, match="fnp.convolve: mode must be"):
        fnp.convolve(fnp.ones(3), fnp.ones(2), mode="circular")
    with pytest.raises(ValueError, match=r"fnp.polyval: coefficients must be 1-d"):
        fnp.polyval(fnp.ones((2, 2)), 1.0)
    with pytest.raises(ValueError, match=r"fnp.vander: x must be 1-d"):
        fnp.vander(fnp.ones((2, 2)))
    with pytest.raises(ValueError, match="fnp.interp: xp and fp must have the same length"):
        fnp.interp(0.5, fnp.ones(3), fnp.ones(2))
    with pytest.raises(ValueError, match="fnp.diff: order n must be non-negative"):
        fnp.diff(fnp.ones(3), -1)
    with pytest.raises(ValueError, match="fnp.trapezoid: x of length 2 does not match"):
        fnp.trapezoid(fnp.ones(3), fnp.ones(2))
    with pytest.raises(ValueError, match="fnp.gradient: axis 0 of shape"):
        fnp.gradient(fnp.ones(1))


def test_interp_periodic_and_complex_match_numpy():
    xp = np.array([0.1, 0.5, 1.2, 2.0])
    fp = np.array([1.0, -1.0, 0.5, 2.0])
    x = np.linspace(-3, 3, 12)  # away from the sample points (kinks)
    check_close(fnp.interp(x, xp, fp, period=1.5), np.interp(x, xp, fp, period=1.5))
    check_close(fnp.interp(x, xp, fp + 1j * fp), np.interp(x, xp, fp + 1j * fp))
    check_grads(lambda xp: fnp.interp(x, xp, fp), [xp])


def test_insert_delete_append_meshgrid():
    x = np.arange(12.0).reshape(3, 4)
    check_close(fnp.insert(x, 1, [10.0, 20.0, 30.0], axis=1), np.insert(x, 1, [10, 20, 30], 1))
    check_close(
        fnp.insert(x, [1], [[7.0], [8.0], [9.0]], axis=1), np.insert(x, [1], [[7], [8], [9]], 1)
    )
    check_close(fnp.insert(x, slice(0, 4, 2), 5.0, axis=1), np.insert(x, slice(0, 4, 2), 5.0, 1))
    check_close(fnp.delete(x, slice(None, None, 2), 0), np.delete(x, slice(None, None, 2), 0))
    check_close(
        fnp.delete(x, [True, False, True, False], 1), np.delete(x, [True, False, True, False], 1)
    )
    check_close(fnp.append(x, x, axis=0), np.append(x, x, axis=0))
    g = fg.grad(lambda v: fnp.insert(fnp.zeros(3), [0, 0, 3], v).sum())(1.0)
    check_close(g, 3.0)  # one value broadcast to three positions
    out = fnp.meshgrid(fnp.ones(3), fnp.ones(2))
    assert isinstance(out, tuple) and out[0].shape == (2, 3)
    with pytest.raises(IndexError, match=r"fnp.delete: index 5 is out of bounds for axis 0"):
        fnp.delete(fnp.ones(3), 5)
    with pytest.raises(IndexError, match=r"fnp.insert: position 4 is out of bounds"):
        fnp.insert(fnp.ones(3), 4, 1.0)
    with pytest.raises(ValueError, match=r"fnp.insert: values of shape \(2,\) do not broadcast"):
        fnp.insert(fnp.ones((3, 4)), [0, 1, 2], [1.0, 2.0], axis=0)
    with pytest.raises(ValueError, match="fnp.meshgrid: indexing must be"):
        fnp.meshgrid(fnp.ones(2), indexing="ji")


def test_real_if_close():
    z = fnp.asarray(np.array([2.0 + 1e-14j, 1.0]))
    assert fnp.real_if_close(z).dtype == np.float64
    assert fnp.real_if_close(fnp.asarray(np.array([2.0 + 1e-3j]))).dtype == np.complex128
    assert fnp.real_if_close(fnp.asarray(np.array([2 + 1e-3j])), tol=0.01).dtype == np.float64
    assert fnp.real_if_close(fnp.asarray([2.0 + 1e-9j])).dtype == np.float32  # complex64
    with pytest.raises(TypeError, match="fnp.real_if_close: the result's dtype depends"):
        fg.vmap(fnp.real_if_close)(fnp.asarray([1.0 + 0j, 2.0 + 0j]))


def test_logaddexp2_sinc_degrees_radians():
    x = np.linspace(-2, 2, 6)  # (sinc's second derivative at 0 is not exact yet: reported)
    check_close(fnp.logaddexp2(x, 0.5 * x), np.logaddexp2(x, 0.5 * x))
    check_close(fnp.sinc(x), np.sinc(x))
    check_close(fnp.rad2deg(fnp.deg2rad(x)), x)
    check_grads(lambda x: fnp.sinc(x) + fnp.logaddexp2(x, 1.0), [x])


def test_sinc_derivatives_at_zero():
    # sinc(x) = 1 - (pi x)^2 / 6 + ...: sinc'(0) = 0 and sinc''(0) = -pi^2 / 3.
    assert float(fg.grad(fnp.sinc)(np.float64(0.0))) == 0.0
    np.testing.assert_allclose(
        float(fg.grad(fg.grad(fnp.sinc))(np.float64(0.0))), -(np.pi**2) / 3, rtol=1e-12
    )


def test_linalg_products_refuse_out():
    a = fnp.ones((2, 2))
    for name, args in (("matmul", (a, a)), ("dot", (a, a)), ("outer", (a, a))):
        with pytest.raises(TypeError, match=f"fnp.{name}: out= is not supported"):
            getattr(fnp, name)(*args, out=np.empty((2, 2)))
    with pytest.raises(TypeError, match="fnp.einsum: out= is not supported"):
        fnp.einsum("ij,jk->ik", a, a, out=np.empty((2, 2)))


def test_maximum_splits_ties_eagerly_and_under_jit():
    x = fnp.asarray([-1.0, 0.0, 2.0])
    g = fg.grad(lambda v: fnp.maximum(v, 0).sum())(x)
    np.testing.assert_array_equal(np.asarray(g), [0.0, 0.5, 1.0])  # torch.maximum's convention
    np.testing.assert_array_equal(
        np.asarray(fg.jit(fg.grad(lambda v: fnp.maximum(v, 0).sum()))(x)), [0.0, 0.5, 1.0]
    )
    np.testing.assert_array_equal(
        np.asarray(fg.grad(lambda v: fnp.minimum(1.0, v).sum())(fnp.asarray([0.0, 1.0, 3.0]))),
        [1.0, 0.5, 0.0],
    )
    g = fg.grad(lambda v: fnp.heaviside(fnp.asarray([-1.0, 0.0, 1.0]), v).sum())(fnp.ones(3))
    np.testing.assert_array_equal(np.asarray(g), [0.0, 1.0, 0.0])


def test_polyfit_matches_numpy_and_differentiates():
    x = np.linspace(-1, 1, 7)
    y = 3 * x**2 - x + 0.5 + 0.01 * np.sin(7 * x)
    w = np.linspace(0.5, 2.0, 7)
    check_close(fnp.polyfit(x, y, 2), np.polyfit(x, y, 2), atol=1e-10)
    check_close(
        fnp.polyfit(x, np.stack([y, 2 * y], 1), 3),
        np.polyfit(x, np.stack([y, 2 * y], 1), 3),
        atol=1e-10,
    )
    check_close(fnp.polyfit(x, y, 2, w=w), np.polyfit(x, y, 2, w=w), atol=1e-10)
    full, expected = fnp.polyfit(x, y, 2, full=True), np.polyfit(x, y, 2, full=True)
    check_close(full[1], expected[1], atol=1e-10)
    assert int(full[2]) == expected[2]
    check_grads(lambda x, y: fnp.polyfit(x, y, 2), (x, y), order=2, atol=1e-5, rtol=1e-5)
    with pytest.raises(ValueError, match=r"fnp.polyfit: y must have shape \(7,\)"):
        fnp.polyfit(x, y[:3], 1)
