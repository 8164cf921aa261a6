"""Linear-algebra primitives: cholesky, triangular_solve, solve, inv, det, slogdet, and the
decompositions eigh, svd, qr, eig.

Every op takes matrices in the last two axes and any number of leading batch axes (NumPy's
batching). Derivative rules are the standard matrix-calculus identities, written with lax
operations so that they differentiate again. Singular inputs raise ``numpy.linalg.LinAlgError``.
"""

from __future__ import annotations

import numpy as np

from funcgrad.core.array import Array
from funcgrad.core.primitive import Primitive, ShapedArray
from funcgrad.lax.complex import complex as _complex
from funcgrad.lax.complex import imag as _imag
from funcgrad.lax.complex import real as _real
from funcgrad.lax.dot import dot_general
from funcgrad.lax.elementwise import convert_element_type, select
from funcgrad.lax.reduce import reduce_sum
from funcgrad.lax.shape import broadcast_to, reshape, transpose
from funcgrad.transforms.grad import defjvp, defjvp_all, defvjp, defvjp_all
from funcgrad.transforms.vmap import batch_rules, batch_size, move_batch_axis, moveaxis

LinAlgError = np.linalg.LinAlgError

# --------------------------------------------------------------------------------------------
# Helpers: shape checks, and matrix operations on (..., m, n) arrays with equal batch shapes.


def _check_square(name, x, arg="a"):
    shape = tuple(x.shape)
    if len(shape) < 2 or shape[-1] != shape[-2]:
        raise ValueError(
            f"{name}: argument {arg} must be a square matrix or a batch of them (shape "
            f"(..., n, n)), got shape {shape}"
        )
    if np.dtype(x.dtype).kind not in "fc":
        raise TypeError(
            f"{name}: argument {arg} must have a float or complex dtype, got {x.dtype}; "
            "convert it first (e.g. a.astype('float64'))"
        )


def _check_rhs(name, a, b, rows_axis):
    """``b`` must have ``a``'s batch shape and ``a``'s size along ``rows_axis`` (-2 or -1)."""
    if len(b.shape) != len(a.shape) or tuple(b.shape[:-2]) != tuple(a.shape[:-2]):
        raise ValueError(
            f"{name}: argument b of shape {tuple(b.shape)} must be a matrix batch with the batch "
            f"shape of a {tuple(a.shape)}"
        )
    if b.shape[rows_axis] != a.shape[-1]:
        raise ValueError(
            f"{name}: a of shape {tuple(a.shape)} and b of shape {tuple(b.shape)} do not match "
            f"(axis {rows_axis} of b must have size {a.shape[-1]})"
        )
    if np.dtype(b.dtype).kind not in "fc":
        raise TypeError(f"{name}: argument b must have a float or complex dtype, got {b.dtype}")


def _raise_linalg(name, msg, e):
    raise LinAlgError(f"{name}: {msg}") from e


def _mT(x):
    nd = len(x.shape)
    return transpose(x, tuple(range(nd - 2)) + (nd - 1, nd - 2))


def _mm(a, b):
    nd = len(a.shape)
    batch = tuple(range(nd - 2))
    return dot_general(a, b, (((nd - 1,), (nd - 2,)), (batch, batch)))


def _eye(n, dtype):
    return Array(np.eye(n, dtype=dtype))


def _trace(x):
    nd = len(x.shape)
    return reduce_sum(x * _eye(x.shape[-1], x.dtype), (nd - 2, nd - 1))


def _tril(x, k=0):
    return select(Array(np.tri(x.shape[-2], x.shape[-1], k, dtype=bool)), x, 0.0)


def _triu(x, k=0):
    return select(Array(np.tri(x.shape[-2], x.shape[-1], k - 1, dtype=bool)), 0.0, x)


def _expand2(x):
    """A batch of scalars (...,) as (..., 1, 1), to scale a batch of matrices."""
    return reshape(x, tuple(x.shape) + (1, 1))


def _cast(ct, x):
    return ct if ct.dtype == x.dtype else convert_element_type(ct, x.dtype)


def _batch_broadcast(name, a, b, b_core):
    """Broadcasts the batch axes of ``a`` (core: 2 axes) and ``b`` (core: ``b_core`` axes)."""
    try:
        batch = np.broadcast_shapes(tuple(a.shape[:-2]), tuple(b.shape[: len(b.shape) - b_core]))
    except ValueError:
        raise ValueError(
            f"{name}: the batch axes of a {tuple(a.shape)} and b {tuple(b.shape)} do not broadcast"
        ) from None
    a = broadcast_to(a, batch + tuple(a.shape[-2:]))
    b = broadcast_to(b, batch + tuple(b.shape[len(b.shape) - b_core :]))
    return a, b


def _inexact(x):
    return x if np.dtype(x.dtype).kind in "fc" else convert_element_type(x, np.float64)


# Batch rules. The primitives take any number of leading batch axes, so the vmapped axis moves
# to the front. When only the right-hand side ``b`` of a solve is batched, the batch folds into
# b's columns (left side) or rows (right side): one factorisation of ``a`` serves the batch.


def _unary_batch(prim):
    def rule(args, dims, **params):
        (x,), (d,) = args, dims
        out = prim.bind(moveaxis(x, d, 0), **params)
        return (out, [0] * len(out)) if prim.multiple_results else (out, 0)

    return rule


def _fold_rhs(b, d, columns):
    """``b`` (batch axis ``d``) as one unbatched right-hand side, and how to undo it.

    ``columns``: the batch joins b's last axis (``a x = b``); otherwise it joins the
    second-to-last axis (``x a = b``). Returns (folded b, unfolded shape, output batch axis).
    """
    nd = len(b.shape)
    if columns:  # (..., n, k, B) -> (..., n, k * B)
        b = moveaxis(b, d, nd - 1)
        shape = tuple(b.shape)
        return reshape(b, shape[:-2] + (shape[-2] * shape[-1],)), shape, nd - 1
    # (..., B, n, m) -> (..., B * n, m)
    b = moveaxis(b, d, nd - 3)
    shape = tuple(b.shape)
    return reshape(b, shape[:-3] + (shape[-3] * shape[-2], shape[-1])), shape, nd - 3


def _solve_like_batch(prim, columns_of):
    """The rule of a primitive ``(a, b, **params) -> x`` with x of b's shape."""

    def rule(args, dims, **params):
        (a, b), (da, db) = args, dims
        if da is None:  # only b is batched: fold the batch into b
            folded, shape, out_dim = _fold_rhs(b, db, columns_of(params))
            return reshape(prim.bind(a, folded, **params), shape), out_dim
        size = batch_size(args, dims)
        a = move_batch_axis(a, da, size)
        b = move_batch_axis(b, db, size)
        return prim.bind(a, b, **params), 0

    return rule


# --------------------------------------------------------------------------------------------
# cholesky: A = L L^T, L lower triangular. The impl reads only A's lower triangle (as LAPACK and
# NumPy do), so the rules see the symmetric matrix that triangle defines.


def _cholesky_impl(xp, x):
    try:
        return xp.linalg.cholesky(x)
    except LinAlgError as e:
        _raise_linalg("cholesky", f"matrix of shape {x.shape} is not positive definite", e)


def _cholesky_abstract_eval(x):
    _check_square("cholesky", x)
    return ShapedArray(x.shape, x.dtype)


def _phi(x):
    # The lower triangle with the diagonal halved: dL = L phi(L^-1 dA L^-T) (Murray 2016).
    n = x.shape[-1]
    return x * Array((np.tri(n, k=-1) + 0.5 * np.eye(n)).astype(x.dtype))


def _no_complex(name, x):
    if x.dtype.kind == "c":
        raise NotImplementedError(f"{name}: derivatives of complex (Hermitian) inputs")


def _cholesky_jvp(t, L, x):
    _no_complex("cholesky", x)
    s = _tril(t) + _mT(_tril(t, -1))
    tmp = triangular_solve(L, s, left_side=True, lower=True)  # L^-1 S
    tmp = triangular_solve(L, tmp, left_side=False, lower=True, transpose_a=True)  # .. L^-T
    return _mm(L, _phi(tmp))


def _cholesky_vjp(g, L, x):
    _no_complex("cholesky", x)
    p = _phi(_mm(_mT(L), g))
    tmp = triangular_solve(L, p, left_side=True, lower=True, transpose_a=True)  # L^-T P
    m = triangular_solve(L, tmp, left_side=False, lower=True)  # .. L^-1
    # The transpose of t -> tril(t) + tril(t, -1)^T: off the diagonal M and M^T both count.
    return _tril(m + _mT(m), -1) + m * _eye(m.shape[-1], m.dtype)


cholesky_p = Primitive("cholesky")
cholesky_p.def_impl(_cholesky_impl)
cholesky_p.def_abstract_eval(_cholesky_abstract_eval)
defjvp(cholesky_p, _cholesky_jvp)
defvjp(cholesky_p, _cholesky_vjp)
batch_rules[cholesky_p] = _unary_batch(cholesky_p)


def cholesky(x, *, symmetrize_input: bool = True):
    """The lower Cholesky factor ``L`` of a symmetric positive-definite ``x`` (``x = L @ L.T``).

    Args:
      x: array of shape (..., n, n).
      symmetrize_input: factor ``(x + x.T) / 2`` (JAX's default), so that the derivative is
        symmetric; otherwise only the lower triangle of ``x`` is read (NumPy's behaviour).

    Raises ``numpy.linalg.LinAlgError`` when ``x`` is not positive definite (JAX returns NaNs).

    Example:
      >>> L = lax.linalg.cholesky(a)   # a @ a.T + n * I, say
    """
    x = _inexact(x)
    _check_square("cholesky", x)
    if symmetrize_input:
        x = (x + _mT(x)) * 0.5
    return cholesky_p.bind(x)


# --------------------------------------------------------------------------------------------
# triangular_solve: op(a) x = b (left_side) or x op(a) = b, op(a) = a or a^T, a triangular.


def _tri_part(xp, a, lower, unit_diagonal):
    a = xp.tril(a) if lower else xp.triu(a)
    if unit_diagonal:
        n = a.shape[-1]
        a = a * (1 - xp.eye(n, dtype=a.dtype)) + xp.eye(n, dtype=a.dtype)
    return a


def _triangular_solve_impl(xp, a, b, *, left_side, lower, transpose_a, unit_diagonal):
    a = _tri_part(xp, a, lower, unit_diagonal)
    # op(a) x = b; x op(a) = b is op(a)^T x^T = b^T.
    if transpose_a != (not left_side):
        a = xp.swapaxes(a, -1, -2)
    try:
        if left_side:
            return xp.linalg.solve(a, b)
        return xp.swapaxes(xp.linalg.solve(a, xp.swapaxes(b, -1, -2)), -1, -2)
    except LinAlgError as e:
        _raise_linalg("triangular_solve", f"matrix a of shape {a.shape} is singular", e)


def _triangular_solve_abstract_eval(a, b, *, left_side, lower, transpose_a, unit_diagonal):
    _check_square("triangular_solve", a)
    _check_rhs("triangular_solve", a, b, -2 if left_side else -1)
    return ShapedArray(b.shape, np.result_type(a.dtype, b.dtype))


def _tri_mask(t, lower, unit_diagonal):
    k = -1 if unit_diagonal else 0
    return _tril(t, k) if lower else _triu(t, -k)


def _triangular_solve_jvp_a(t, ans, a, b, *, left_side, lower, transpose_a, unit_diagonal):
    # d op(a)^-1 b = -op(a)^-1 op(da) x (left) and d b op(a)^-1 = -x op(da) op(a)^-1 (right).
    dt = _tri_mask(t, lower, unit_diagonal)
    dt = _mT(dt) if transpose_a else dt
    rhs = _mm(dt, ans) if left_side else _mm(ans, dt)
    p = dict(left_side=left_side, lower=lower, transpose_a=transpose_a, unit_diagonal=unit_diagonal)
    return -triangular_solve_p.bind(a, rhs, **p)


def _triangular_solve_vjp(g, ans, a, b, *, left_side, lower, transpose_a, unit_diagonal):
    p = dict(
        left_side=left_side, lower=lower, transpose_a=not transpose_a, unit_diagonal=unit_diagonal
    )
    g_b = triangular_solve_p.bind(a, g, **p)
    if left_side:  # <g_b, op(da) x>: op(da)-bar = -g_b x^T
        g_op = -_mm(g_b, _mT(ans))
    else:  # <g_b, x op(da)>: op(da)-bar = -x^T g_b
        g_op = -_mm(_mT(ans), g_b)
    g_a = _tri_mask(_mT(g_op) if transpose_a else g_op, lower, unit_diagonal)
    return _cast(g_a, a), _cast(g_b, b)


triangular_solve_p = Primitive("triangular_solve")
triangular_solve_p.def_impl(_triangular_solve_impl)
triangular_solve_p.def_abstract_eval(_triangular_solve_abstract_eval)
defjvp(
    triangular_solve_p,
    _triangular_solve_jvp_a,
    lambda t, ans, a, b, **p: triangular_solve_p.bind(a, t, **p),
)
defvjp_all(triangular_solve_p, _triangular_solve_vjp)
batch_rules[triangular_solve_p] = _solve_like_batch(triangular_solve_p, lambda p: p["left_side"])


def triangular_solve(
    a,
    b,
    *,
    left_side: bool = False,
    lower: bool = False,
    transpose_a: bool = False,
    conjugate_a: bool = False,
    unit_diagonal: bool = False,
):
    """Solves ``op(a) @ x = b`` (``left_side``) or ``x @ op(a) = b`` for triangular ``a``.

    Args:
      a: (..., m, m); only its lower (``lower=True``) or upper triangle is read, and with
        ``unit_diagonal`` its diagonal is taken to be ones.
      b: (..., m, n) when ``left_side``, else (..., n, m); batch axes broadcast with ``a``'s.
      transpose_a, conjugate_a: ``op(a)`` is ``a``, ``a.T``, ``conj(a)`` or ``a.T.conj()``.

    Same defaults as JAX's ``lax.linalg.triangular_solve`` (right side, upper triangle).

    Example:
      >>> x = lax.linalg.triangular_solve(L, b, left_side=True, lower=True)   # L @ x == b
    """
    a, b = _inexact(a), _inexact(b)
    _check_square("triangular_solve", a)
    if len(b.shape) < 2:
        raise ValueError(
            f"triangular_solve: argument b must be a matrix or a batch of them, got shape "
            f"{tuple(b.shape)}"
        )
    if conjugate_a and a.dtype.kind == "c":
        from funcgrad.lax.complex import conj

        a = conj(a)
    a, b = _batch_broadcast("triangular_solve", a, b, 2)
    _check_rhs("triangular_solve", a, b, -2 if left_side else -1)
    return triangular_solve_p.bind(
        a,
        b,
        left_side=bool(left_side),
        lower=bool(lower),
        transpose_a=bool(transpose_a),
        unit_diagonal=bool(unit_diagonal),
    )


# --------------------------------------------------------------------------------------------
# solve: a x = b for a general square a; b is a matrix batch (..., n, k) of a's batch shape.


def _solve_impl(xp, a, b):
    try:
        return xp.linalg.solve(a, b)
    except LinAlgError as e:
        _raise_linalg("solve", f"matrix a of shape {a.shape} is singular", e)


def _solve_abstract_eval(a, b):
    _check_square("solve", a)
    _check_rhs("solve", a, b, -2)
    return ShapedArray(b.shape, np.result_type(a.dtype, b.dtype))


def _solve_vjp(g, ans, a, b):
    # x = a^-1 b: b-bar = a^-T g, a-bar = -b-bar x^T.
    g_b = solve_p.bind(_mT(a), g)
    return _cast(-_mm(g_b, _mT(ans)), a), _cast(g_b, b)


solve_p = Primitive("solve")
solve_p.def_impl(_solve_impl)
solve_p.def_abstract_eval(_solve_abstract_eval)
defjvp(
    solve_p,
    lambda t, ans, a, b: -solve_p.bind(a, _mm(t, ans)),
    lambda t, ans, a, b: solve_p.bind(a, t),
)
defvjp_all(solve_p, _solve_vjp)
batch_rules[solve_p] = _solve_like_batch(solve_p, lambda p: True)


def solve(a, b):
    """The solution ``x`` of ``a @ x = b`` with NumPy's semantics.

    ``a`` is (..., n, n); ``b`` is a vector (n,) or a matrix batch (..., n, k), its batch axes
    broadcast with ``a``'s (NumPy 2 rules). Raises ``numpy.linalg.LinAlgError`` when ``a`` is
    singular.

    Example:
      >>> x = lax.linalg.solve(a, b)
    """
    a, b = _inexact(a), _inexact(b)
    _check_square("solve", a)
    n, b_shape = a.shape[-1], tuple(b.shape)
    vector = len(b_shape) == 1
    if vector:
        b = reshape(b, (b_shape[0], 1))
    if len(b.shape) < 2 or b.shape[-2] != n:
        raise ValueError(
            f"solve: a of shape {tuple(a.shape)} and b of shape {b_shape} do not match (b must "
            f"be (n,) or (..., n, k) with n = {n})"
        )
    a, b = _batch_broadcast("solve", a, b, 2)
    x = solve_p.bind(a, b)
    return reshape(x, tuple(x.shape[:-1])) if vector else x


# --------------------------------------------------------------------------------------------
# inv: d inv = -inv da inv.


def _inv_impl(xp, x):
    try:
        return xp.linalg.inv(x)
    except LinAlgError as e:
        _raise_linalg("inv", f"matrix of shape {x.shape} is singular and has no inverse", e)


def _inv_abstract_eval(x):
    _check_square("inv", x)
    return ShapedArray(x.shape, x.dtype)


inv_p = Primitive("inv")
inv_p.def_impl(_inv_impl)
inv_p.def_abstract_eval(_inv_abstract_eval)
defjvp(inv_p, lambda t, ans, x: -_mm(_mm(ans, t), ans))
defvjp(inv_p, lambda g, ans, x: -_mm(_mm(_mT(ans), g), _mT(ans)))
batch_rules[inv_p] = _unary_batch(inv_p)


def inv(x):
    """The inverse of a square matrix (or batch); ``LinAlgError`` when it is singular."""
    x = _inexact(x)
    _check_square("inv", x)
    return inv_p.bind(x)


# --------------------------------------------------------------------------------------------
# det and slogdet: d log det a = tr(a^-1 da). (The derivative of det at a singular matrix is
# not supported: the rules solve with a.)


def _det_impl(xp, x):
    return xp.linalg.det(x)


def _det_abstract_eval(x):
    _check_square("det", x)
    return ShapedArray(x.shape[:-2], x.dtype)


det_p = Primitive("det")
det_p.def_impl(_det_impl)
det_p.def_abstract_eval(_det_abstract_eval)
defjvp(det_p, lambda t, ans, x: ans * _trace(solve_p.bind(x, t)))
defvjp(det_p, lambda g, ans, x: _expand2(g * ans) * _mT(inv_p.bind(x)))
batch_rules[det_p] = _unary_batch(det_p)


def det(x):
    """The determinant of a square matrix (or batch)."""
    x = _inexact(x)
    _check_square("det", x)
    return det_p.bind(x)


def _slogdet_impl(xp, x):
    sign, logabsdet = xp.linalg.slogdet(x)
    return [sign, logabsdet]


def _slogdet_abstract_eval(x):
    _check_square("slogdet", x)
    real = np.empty((), x.dtype).real.dtype
    return [ShapedArray(x.shape[:-2], x.dtype), ShapedArray(x.shape[:-2], real)]


def _slogdet_jvp(primals, tangents):
    (x,), (t,) = primals, tangents
    sign, logabsdet = slogdet_p.bind(x)
    tr = _trace(solve_p.bind(x, t))
    if x.dtype.kind != "c":
        return [sign, logabsdet], [None, tr]
    # For complex a: d log|det| = Re tr, d sign = i Im(tr) sign.
    return [sign, logabsdet], [_complex(0.0 * _imag(tr), _imag(tr)) * sign, _real(tr)]


def _slogdet_vjp(g, ans, x):
    g_sign, g_log = g
    sign = ans[0]
    c = g_log
    if x.dtype.kind == "c":  # the transpose of the complex jvp above
        c = _complex(g_log, _imag(g_sign * sign))
    return _expand2(c) * _mT(inv_p.bind(x))


slogdet_p = Primitive("slogdet", multiple_results=True)
slogdet_p.def_impl(_slogdet_impl)
slogdet_p.def_abstract_eval(_slogdet_abstract_eval)
defjvp_all(slogdet_p, _slogdet_jvp)
defvjp(slogdet_p, _slogdet_vjp)
batch_rules[slogdet_p] = _unary_batch(slogdet_p)


def slogdet(x):
    """``(sign, log|det x|)`` of a square matrix (or batch); stable where ``det`` over/underflows.

    For a singular matrix, ``sign`` is 0 and ``logabsdet`` is ``-inf`` (as in NumPy).
    """
    x = _inexact(x)
    _check_square("slogdet", x)
    sign, logabsdet = slogdet_p.bind(x)
    return sign, logabsdet


# The decompositions (eigh, svd, qr, eig) build on the helpers above; re-exported here.
from funcgrad.lax.decompositions import (  # noqa: E402, F401
    eig,
    eig_p,
    eigh,
    eigh_p,
    qr,
    qr_p,
    svd,
    svd_p,
)
