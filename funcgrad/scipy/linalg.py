"""``scipy.linalg``'s triangular solves, Cholesky solves and ``expm`` over funcgrad arrays,
differentiable and batched over leading axes (as ``jax.scipy.linalg``)."""

from __future__ import annotations

from typing import Any

import numpy as np

from funcgrad import lax
from funcgrad import numpy as fnp
from funcgrad.core.array import Array
from funcgrad.numpy._core import unary_operand

__all__ = ["cho_factor", "cho_solve", "cholesky", "expm", "solve_triangular"]


def _inexact(x):
    x = unary_operand(x)
    if x.dtype.kind not in "fc":
        x = lax.convert_element_type(x, np.float64 if x.dtype.itemsize > 2 else np.float32)
    return x


def _square(name, a, arg="a"):
    a = _inexact(a)
    if len(a.shape) < 2 or a.shape[-1] != a.shape[-2]:
        raise ValueError(
            f"{name}: argument {arg} must be a square matrix or a batch of them (shape "
            f"(..., n, n)), got shape {tuple(a.shape)}"
        )
    return a


def _mH(x):
    return lax.conj(fnp.swapaxes(x, -1, -2))


def _rhs(name, a, b):
    """``b`` as a matrix batch (..., n, k) and whether it was a vector (..., n)."""
    b = _inexact(b)
    n = a.shape[-1]
    vector = len(b.shape) == len(a.shape) - 1
    if vector:
        b = fnp.expand_dims(b, -1)
    if len(b.shape) < 2 or b.shape[-2] != n:
        raise ValueError(
            f"{name}: a of shape {tuple(a.shape)} and b of shape {tuple(b.shape)} do not match: "
            f"b must be (..., {n}) or (..., {n}, k)"
        )
    return b, vector


def solve_triangular(
    a: Any,
    b: Any,
    trans: int | str = 0,
    lower: bool = False,
    unit_diagonal: bool = False,
    overwrite_b: bool = False,
    debug: Any = None,
    check_finite: bool = True,
) -> Any:
    """Solves ``op(a) @ x = b`` for ``x``, reading only one triangle of ``a``.

    Args:
      a: (..., n, n); only its lower (``lower=True``) or upper triangle is read, and with
        ``unit_diagonal`` its diagonal is taken to be ones.
      b: (..., n) or (..., n, k); batch axes broadcast with ``a``'s.
      trans: ``op(a)`` is ``a`` (0 or "N"), ``a.T`` (1 or "T") or ``a.conj().T`` (2 or "C").
      overwrite_b, debug, check_finite: accepted for SciPy compatibility; ignored.

    Returns:
      ``x`` with ``b``'s shape (batch axes broadcast).

    Example:
      >>> fsl.solve_triangular(fnp.asarray([[2.0, 0.0], [1.0, 1.0]]), fnp.asarray([2.0, 3.0]),
      ...                      lower=True)
      Array([1., 2.], dtype=float32)
    """
    name = "solve_triangular"
    codes = {0: 0, 1: 1, 2: 2, "N": 0, "T": 1, "C": 2}
    if trans not in codes:
        raise ValueError(f"{name}: trans must be 0, 1, 2, 'N', 'T' or 'C', got {trans!r}")
    t = codes[trans]
    a = _square(name, a)
    b, vector = _rhs(name, a, b)
    x = lax.linalg.triangular_solve(
        a,
        b,
        left_side=True,
        lower=bool(lower),
        transpose_a=t > 0,
        conjugate_a=t == 2,
        unit_diagonal=bool(unit_diagonal),
    )
    return x[..., 0] if vector else x


def cholesky(
    a: Any, lower: bool = False, overwrite_a: bool = False, check_finite: bool = True
) -> Any:
    """The Cholesky factor of a Hermitian positive-definite ``a``: upper ``U`` with
    ``a = U^H U`` (SciPy's default), or lower ``L`` with ``a = L L^H``.

    As JAX, ``(a + a^H) / 2`` is factored (SciPy reads one triangle) and the other triangle of
    the result is zero. Raises ``numpy.linalg.LinAlgError`` when ``a`` is not positive definite.

    Example:
      >>> fsl.cholesky(fnp.asarray([[4.0, 2.0], [2.0, 5.0]]))
      Array([[2., 1.],
             [0., 2.]], dtype=float32)
    """
    a = _square("cholesky", a)
    L = lax.linalg.cholesky(a)
    return L if lower else _mH(L)


def cho_factor(
    a: Any, lower: bool = False, overwrite_a: bool = False, check_finite: bool = True
) -> tuple[Any, bool]:
    """The Cholesky factorisation of ``a`` for ``cho_solve``: ``(c, lower)``.

    ``c`` is ``cholesky(a, lower)``. SciPy leaves arbitrary values in the unused triangle of
    ``c``; here (as JAX) they are zeros. Either way ``cho_solve`` reads only the factor.

    Example:
      >>> c_and_lower = fsl.cho_factor(a)
      >>> x = fsl.cho_solve(c_and_lower, b)   # a @ x == b
    """
    return cholesky(a, lower=lower), bool(lower)


def cho_solve(
    c_and_lower: tuple[Any, bool], b: Any, overwrite_b: bool = False, check_finite: bool = True
) -> Any:
    """Solves ``a @ x = b`` given ``cho_factor(a)`` as ``(c, lower)``.

    Args:
      c_and_lower: the factor ``c`` (only its ``lower`` or upper triangle is read) and ``lower``.
      b: (..., n) or (..., n, k).

    Example:
      >>> x = fsl.cho_solve(fsl.cho_factor(a), b)
    """
    try:
        c, lower = c_and_lower
    except (TypeError, ValueError):
        raise TypeError(
            "cho_solve: the first argument must be the pair (c, lower) that cho_factor returns, "
            f"got {type(c_and_lower).__name__}"
        ) from None
    c = _square("cho_solve", c, "c")
    b, vector = _rhs("cho_solve", c, b)
    tri = lax.linalg.triangular_solve
    if lower:  # a = L L^H: L y = b, then L^H x = y
        y = tri(c, b, left_side=True, lower=True)
        x = tri(c, y, left_side=True, lower=True, transpose_a=True, conjugate_a=True)
    else:  # a = U^H U: U^H y = b, then U x = y
        y = tri(c, b, left_side=True, lower=False, transpose_a=True, conjugate_a=True)
        x = tri(c, y, left_side=True, lower=False)
    return x[..., 0] if vector else x


# Padé approximant of degree 13 (Higham 2005, "The scaling and squaring method for the matrix
# exponential revisited"): exp(A) ~ (V - U)^-1 (V + U) for ||A||_1 <= theta_13.
_PADE13 = (64764752532480000.0, 32382376266240000.0, 7771770303897600.0, 1187353796428800.0,
           129060195264000.0, 10559470521600.0, 670442572800.0, 33522128640.0, 1323241920.0,
           40840800.0, 960960.0, 16380.0, 182.0, 1.0)  # fmt: skip
_THETA13 = 5.371920351148152
_MAX_SQUARINGS = 16


def _pade13(A):
    b = _PADE13
    n = A.shape[-1]
    ident = Array(np.eye(n, dtype=A.dtype))
    A2 = A @ A
    A4 = A2 @ A2
    A6 = A4 @ A2
    U = A @ (A6 @ (b[13] * A6 + b[11] * A4 + b[9] * A2) + b[7] * A6 + b[5] * A4 + b[3] * A2
             + b[1] * ident)  # fmt: skip
    V = A6 @ (b[12] * A6 + b[10] * A4 + b[8] * A2) + b[6] * A6 + b[4] * A4 + b[2] * A2
    V = V + b[0] * ident
    return lax.linalg.solve(V - U, V + U)


def expm(A: Any, *, upper_triangular: bool = False, max_squarings: int = _MAX_SQUARINGS) -> Any:
    """The matrix exponential of ``A`` (..., n, n), by scaling and squaring with a degree-13
    Padé approximant (Higham 2005), differentiable to any order.

    ``A`` is scaled by ``2**-s`` so that its 1-norm is at most theta_13, then squared ``s``
    times. ``s`` comes from ``A``'s concrete value where it is known (eagerly and under grad);
    under vmap, where each matrix has its own ``s``, every matrix gets up to ``max_squarings``
    squarings (JAX's fixed bound), each applied where it is needed. ``upper_triangular`` is
    accepted for JAX compatibility and ignored.

    Example:
      >>> fsl.expm(fnp.zeros((2, 2)))
      Array([[1., 0.],
             [0., 1.]], dtype=float32)
    """
    A = _square("expm", A, "A")
    if A.shape[-1] == 0:
        return A
    norm = fnp.max(fnp.sum(fnp.abs(lax.stop_gradient(A)), axis=-2), axis=-1)
    s = fnp.ceil(fnp.log2(fnp.maximum(norm, _THETA13) / _THETA13))
    s = fnp.where(fnp.isfinite(s), s, 0.0)  # inf/NaN entries give inf/NaN results anyway
    try:  # the concrete numbers of squarings: loop to the largest in the batch
        s_value = np.asarray(s)
        steps = int(np.max(s_value, initial=0))
        uniform = bool(np.all(s_value == steps))
    except TypeError:  # a batched (vmap) or abstract (jit, scan) value: the fixed bound
        steps, uniform = int(max_squarings), False
    s = fnp.minimum(s, float(steps))[..., None, None]
    R = _pade13(A * lax.convert_element_type(fnp.exp2(-s), A.dtype))
    for i in range(steps):
        R = R @ R if uniform else fnp.where(i < s, R @ R, R)
    return R
