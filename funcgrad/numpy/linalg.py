"""funcgrad.numpy.linalg: NumPy's linear algebra (norms, solves, determinants, factorizations).

Every function takes matrices in the last two axes with any leading batch axes, and is
differentiable to any order (the primitives live in ``funcgrad.lax.linalg``).
"""

from __future__ import annotations

import functools
from typing import Any, NamedTuple

import numpy as np

from funcgrad import lax
from funcgrad.core.array import Array
from funcgrad.numpy._core import unary_operand
from funcgrad.numpy._linalg import cross, diagonal, matmul, outer, tensordot, trace
from funcgrad.numpy._shape import matrix_transpose

LinAlgError = np.linalg.LinAlgError

__all__ = [
    "LinAlgError",
    "SlogdetResult",
    "cholesky",
    "cross",
    "det",
    "diagonal",
    "inv",
    "matmul",
    "matrix_norm",
    "matrix_power",
    "matrix_transpose",
    "multi_dot",
    "norm",
    "outer",
    "slogdet",
    "solve",
    "tensordot",
    "trace",
    "vector_norm",
]


class SlogdetResult(NamedTuple):
    """The result of ``slogdet``: ``sign`` and ``logabsdet`` (NumPy's names)."""

    sign: Any
    logabsdet: Any


def _float(x):
    x = unary_operand(x)
    if x.dtype.kind in "biu":
        x = lax.convert_element_type(x, np.float64)
    return x


def inv(a):
    """The inverse of a square matrix (or batch of them).

    Raises ``numpy.linalg.LinAlgError`` when the matrix is singular, as NumPy does.

    Example:
      >>> fnp.linalg.inv(fnp.array([[2.0, 0.0], [0.0, 4.0]]))   # [[0.5, 0], [0, 0.25]]
    """
    return lax.linalg.inv(_float(a))


def solve(a, b):
    """The solution ``x`` of ``a @ x = b``.

    Args:
      a: (..., n, n).
      b: a vector (n,) or a matrix batch (..., n, k) whose batch axes broadcast with ``a``'s
        (NumPy 2 semantics: ``b`` is a vector only when it is 1-d).

    Raises ``numpy.linalg.LinAlgError`` when ``a`` is singular.

    Example:
      >>> x = fnp.linalg.solve(a, b)   # a @ x == b
    """
    return lax.linalg.solve(_float(a), _float(b))


def det(a):
    """The determinant of a square matrix (or batch). Its derivative needs an invertible ``a``."""
    return lax.linalg.det(_float(a))


def slogdet(a) -> SlogdetResult:
    """``SlogdetResult(sign, logabsdet)``: the sign and log absolute value of the determinant.

    Stable where ``det`` under- or overflows; a singular ``a`` gives sign 0 and -inf.

    Example:
      >>> sign, logdet = fnp.linalg.slogdet(a)
    """
    return SlogdetResult(*lax.linalg.slogdet(_float(a)))


def cholesky(a, /, *, upper: bool = False):
    """The Cholesky factor of a symmetric (Hermitian) positive-definite matrix (or batch).

    Returns lower-triangular ``L`` with ``a = L @ L.T`` (upper ``U = L.T`` with ``upper=True``).
    As in JAX, ``a`` is symmetrized, ``(a + a.T) / 2``, so that its gradient is symmetric;
    NumPy reads only the lower triangle (the same result for symmetric input). Raises
    ``numpy.linalg.LinAlgError`` when ``a`` is not positive definite.

    Example:
      >>> L = fnp.linalg.cholesky(a)
    """
    L = lax.linalg.cholesky(_float(a))
    return lax.conj(matrix_transpose(L)) if upper else L


def matrix_power(a, n: int):
    """``a`` raised to the integer power ``n`` by repeated squaring (``n < 0`` inverts ``a``)."""
    a = unary_operand(a)
    if len(a.shape) < 2 or a.shape[-1] != a.shape[-2]:
        raise ValueError(
            f"fnp.linalg.matrix_power: a must be a square matrix or a batch of them, got shape "
            f"{tuple(a.shape)}"
        )
    if not isinstance(n, (int, np.integer)):
        raise TypeError(f"fnp.linalg.matrix_power: the exponent must be an int, got {n!r}")
    n = int(n)
    if n == 0:
        eye = Array(np.eye(a.shape[-1], dtype=a.dtype))
        return lax.broadcast_to(eye, tuple(a.shape))
    if n < 0:
        a, n = inv(a), -n
    result = None
    while n:
        if n & 1:
            result = a if result is None else matmul(result, a)
        n >>= 1
        if n:
            a = matmul(a, a)
    return result


def multi_dot(arrays, *, out=None):
    """The product of a chain of matrices (``a @ b @ c ...``), multiplied left to right.

    A 1-d first (last) array is treated as a row (column) vector, as in NumPy. Unlike NumPy,
    the multiplication order is not optimized.
    """
    if out is not None:
        raise TypeError(
            "fnp.linalg.multi_dot: out= is not supported; funcgrad arrays are immutable"
        )
    from funcgrad.numpy._linalg import dot

    arrays = [unary_operand(a) for a in arrays]
    if len(arrays) < 2:
        raise ValueError("fnp.linalg.multi_dot: expecting at least two arrays")
    for i, a in enumerate(arrays):
        ok = len(a.shape) == 2 or (len(a.shape) == 1 and i in (0, len(arrays) - 1))
        if not ok:
            raise ValueError(
                f"fnp.linalg.multi_dot: array {i} has shape {tuple(a.shape)}; the first and last "
                "may be 1-d, the others must be 2-d"
            )
    return functools.reduce(dot, arrays)


# --------------------------------------------------------------------------------------------
# Norms


def _abs_sq(x):
    if x.dtype.kind == "c":
        return lax.real(x * lax.conj(x))
    return x * x


def _safe_two_norm(x, axes):
    # sqrt(sum |x|^2) with the gradient at x = 0 defined as 0 (not NaN): the "double where"
    # keeps the untaken branch finite so that 0 * inf never appears.
    s = lax.reduce_sum(_abs_sq(x), axes)
    zero = s == 0
    return lax.select(zero, 0.0, lax.sqrt(lax.select(zero, 1.0, s)))


def _abs(x):
    return lax.sqrt(_abs_sq(x)) if x.dtype.kind == "c" else lax.abs(x)


def _vector_norm(x, axis, ord):
    axes = (axis,)
    if ord is None or ord == 2:
        return _safe_two_norm(x, axes)
    if isinstance(ord, str):
        raise ValueError(f"fnp.linalg.norm: invalid norm order {ord!r} for vectors")
    if ord == np.inf:
        return lax.reduce_max(_abs(x), axes)
    if ord == -np.inf:
        return lax.reduce_min(_abs(x), axes)
    if ord == 0:
        nonzero = lax.convert_element_type(x != 0, _abs(x).dtype)
        return lax.reduce_sum(nonzero, axes)
    if ord == 1:
        return lax.reduce_sum(_abs(x), axes)
    p = float(ord)
    return lax.reduce_sum(_abs(x) ** p, axes) ** (1.0 / p)


def _matrix_norm(x, axes, ord):
    r, c = axes
    if ord is None or ord == "fro":
        return _safe_two_norm(x, axes)
    if ord in (1, -1, np.inf, -np.inf) and not isinstance(ord, str):
        # ord 1: the largest column sum of |x|; inf: the largest row sum.
        summed, other = (r, c) if ord in (1, -1) else (c, r)
        s = lax.reduce_sum(_abs(x), (summed,))
        other = other - (other > summed)
        return (lax.reduce_max if ord > 0 else lax.reduce_min)(s, (other,))
    if ord in ("nuc", 2, -2):
        raise NotImplementedError(
            f"fnp.linalg.norm: ord={ord!r} for matrices needs singular values (svd), which "
            "funcgrad does not have yet; use ord='fro', 1 or inf"
        )
    raise ValueError(f"fnp.linalg.norm: invalid norm order {ord!r} for matrices")


def norm(x, ord=None, axis=None, keepdims: bool = False):
    """Vector or matrix norm (NumPy's ``norm``).

    Args:
      ord: vectors: None/2, 1, inf, -inf, 0, or any p (``sum(|x|**p)**(1/p)``); matrices:
        None/'fro', 1, -1, inf, -inf ('nuc', 2 and -2 need an svd and are not supported yet).
      axis: None (the whole array: 2-norm of the flattened array when ``ord`` is None, else
        ``x`` must be 1-d or 2-d), an int (vector norms) or a pair (matrix norms).
      keepdims: keep the reduced axes with size 1.

    The 2-norm and the Frobenius norm have gradient 0 (not NaN) at 0, like a subgradient.

    Example:
      >>> fnp.linalg.norm(fnp.array([3.0, 4.0]))   # 5.0
    """
    x = _float(x)
    nd = len(x.shape)
    if axis is None:
        if ord is None:
            axes = tuple(range(nd))
            out = _safe_two_norm(x, axes)
            return _keep(out, nd, axes) if keepdims else out
        if nd not in (1, 2):
            raise ValueError(
                f"fnp.linalg.norm: ord={ord!r} needs a 1-d or 2-d array or an explicit axis, "
                f"got shape {tuple(x.shape)}"
            )
        axis = tuple(range(nd))
    axes = (axis,) if isinstance(axis, (int, np.integer)) else tuple(axis)
    for a in axes:
        if not -nd <= int(a) < nd:
            raise ValueError(
                f"fnp.linalg.norm: axis {a} is out of bounds for shape {tuple(x.shape)}"
            )
    axes = tuple(int(a) % nd for a in axes)
    if len(set(axes)) != len(axes):
        raise ValueError(f"fnp.linalg.norm: repeated axis in {axis}")
    if len(axes) == 1:
        out = _vector_norm(x, axes[0], ord)
    elif len(axes) == 2:
        out = _matrix_norm(x, axes, ord)
    else:
        raise ValueError(f"fnp.linalg.norm: axis must name 1 or 2 axes, got {axis}")
    return _keep(out, nd, axes) if keepdims else out


def _keep(out, nd, axes):
    shape, it = [], iter(out.shape)
    for i in range(nd):
        shape.append(1 if i in axes else next(it))
    return lax.reshape(out, tuple(shape))


def vector_norm(x, /, *, axis=None, keepdims: bool = False, ord=2):
    """The vector norm over ``axis`` (all axes, flattened, by default): the Array API's."""
    x = _float(x)
    nd = len(x.shape)
    if axis is None:
        flat = lax.reshape(x, (x.size,))
        out = _vector_norm(flat, 0, ord)
        return _keep(out, nd, tuple(range(nd))) if keepdims else out
    if isinstance(axis, (int, np.integer)):
        return norm(x, ord, axis, keepdims)
    axes = tuple(int(a) % nd for a in axis)
    rest = [i for i in range(nd) if i not in axes]
    moved = lax.transpose(x, rest + list(axes))
    flat = lax.reshape(moved, tuple(x.shape[i] for i in rest) + (_prod(x, axes),))
    out = _vector_norm(flat, len(rest), ord)
    return _keep(out, nd, axes) if keepdims else out


def _prod(x, axes):
    return int(np.prod([x.shape[a] for a in axes], dtype=np.int64))


def matrix_norm(x, /, *, keepdims: bool = False, ord="fro"):
    """The matrix norm over the last two axes (the Array API's)."""
    x = _float(x)
    nd = len(x.shape)
    return norm(x, ord, (nd - 2, nd - 1), keepdims)
