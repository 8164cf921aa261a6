"""funcgrad.numpy.linalg: NumPy's linear algebra (norms, solves, determinants, factorizations).

Every function takes matrices in the last two axes with any leading batch axes, and is
differentiable to any order (the primitives live in ``funcgrad.lax.linalg``).
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from funcgrad import lax
from funcgrad.core.array import Array
from funcgrad.numpy._core import unary_operand
from funcgrad.numpy._linalg import cross, diagonal, matmul, outer, tensordot, trace
from funcgrad.numpy._shape import matrix_transpose

LinAlgError = np.linalg.LinAlgError

__all__ = [
    "EigResult",
    "EighResult",
    "LinAlgError",
    "QRResult",
    "SVDResult",
    "SlogdetResult",
    "cholesky",
    "cond",
    "cross",
    "det",
    "diagonal",
    "eig",
    "eigh",
    "eigvals",
    "eigvalsh",
    "inv",
    "lstsq",
    "matmul",
    "matrix_norm",
    "matrix_power",
    "matrix_rank",
    "matrix_transpose",
    "multi_dot",
    "norm",
    "outer",
    "pinv",
    "qr",
    "slogdet",
    "solve",
    "svd",
    "svdvals",
    "tensordot",
    "tensorinv",
    "tensorsolve",
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
    """The product of a chain of matrices (``a @ b @ c ...``) in the cheapest order.

    As in NumPy, a 1-d first (last) array is a row (column) vector, and the multiplication
    order is chosen by the matrix-chain dynamic program on the shapes (fewest multiplications).

    Example:
      >>> fnp.linalg.multi_dot([a, b, c])   # (a @ b) @ c or a @ (b @ c), whichever is cheaper
    """
    if out is not None:
        raise TypeError(
            "fnp.linalg.multi_dot: out= is not supported; funcgrad arrays are immutable"
        )
    arrays = [unary_operand(a) for a in arrays]
    n = len(arrays)
    if n < 2:
        raise ValueError("fnp.linalg.multi_dot: expecting at least two arrays")
    for i, a in enumerate(arrays):
        ok = len(a.shape) == 2 or (len(a.shape) == 1 and i in (0, n - 1))
        if not ok:
            raise ValueError(
                f"fnp.linalg.multi_dot: array {i} has shape {tuple(a.shape)}; the first and last "
                "may be 1-d, the others must be 2-d"
            )
    first_vec, last_vec = len(arrays[0].shape) == 1, len(arrays[-1].shape) == 1
    if first_vec:
        arrays[0] = lax.reshape(arrays[0], (1, arrays[0].shape[0]))
    if last_vec:
        arrays[-1] = lax.reshape(arrays[-1], (arrays[-1].shape[0], 1))
    for i in range(n - 1):
        if arrays[i].shape[1] != arrays[i + 1].shape[0]:
            raise ValueError(
                f"fnp.linalg.multi_dot: arrays {i} and {i + 1} do not align: shapes "
                f"{tuple(arrays[i].shape)} and {tuple(arrays[i + 1].shape)}"
            )
    split = _chain_order([a.shape[0] for a in arrays] + [arrays[-1].shape[1]])

    def product(i, j):
        if i == j:
            return arrays[i]
        return matmul(product(i, split[i][j]), product(split[i][j] + 1, j))

    result = product(0, n - 1)
    if first_vec or last_vec:
        result = lax.reshape(
            result, tuple(d for d, v in zip(result.shape, (first_vec, last_vec)) if not v)
        )
    return result


def _chain_order(p):
    """split[i][j]: where the cheapest product of matrices i..j splits (Cormen et al. 15.2)."""
    n = len(p) - 1
    cost = [[0] * n for _ in range(n)]
    split = [[0] * n for _ in range(n)]
    for length in range(1, n):
        for i in range(n - length):
            j = i + length
            cost[i][j] = None
            for k in range(i, j):
                c = cost[i][k] + cost[k + 1][j] + p[i] * p[k + 1] * p[j + 1]
                if cost[i][j] is None or c < cost[i][j]:
                    cost[i][j], split[i][j] = c, k
    return split


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
    if ord == "nuc" or (not isinstance(ord, str) and ord in (2, -2)):
        # The largest (2), smallest (-2) or sum ('nuc') of the singular values.
        nd = len(x.shape)
        rest = [i for i in range(nd) if i not in (r, c)]
        s = lax.linalg.svd(lax.transpose(x, rest + [r, c]), compute_uv=False)
        reduce = lax.reduce_sum if ord == "nuc" else lax.reduce_max if ord == 2 else lax.reduce_min
        return reduce(s, (nd - 2,))
    raise ValueError(f"fnp.linalg.norm: invalid norm order {ord!r} for matrices")


def norm(x, ord=None, axis=None, keepdims: bool = False):
    """Vector or matrix norm (NumPy's ``norm``).

    Args:
      ord: vectors: None/2, 1, inf, -inf, 0, or any p (``sum(|x|**p)**(1/p)``); matrices:
        None/'fro', 1, -1, inf, -inf, 'nuc' (the sum of the singular values), 2 and -2 (the
        largest and smallest singular value).
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


# --------------------------------------------------------------------------------------------
# Decompositions (NumPy's named-tuple results, which are pytrees) and what builds on them.


class EighResult(NamedTuple):
    """The result of ``eigh``: ascending ``eigenvalues`` and the ``eigenvectors`` as columns."""

    eigenvalues: Any
    eigenvectors: Any


class EigResult(NamedTuple):
    """The result of ``eig``: ``eigenvalues`` and unit-norm ``eigenvectors`` as columns."""

    eigenvalues: Any
    eigenvectors: Any


class SVDResult(NamedTuple):
    """The result of ``svd``: ``a = U @ diag(S) @ Vh`` (NumPy's names)."""

    U: Any
    S: Any
    Vh: Any


class QRResult(NamedTuple):
    """The result of ``qr``: ``a = Q @ R``."""

    Q: Any
    R: Any


def _matrix(who, a, square=False):
    a = _float(a)
    if len(a.shape) < 2 or (square and a.shape[-1] != a.shape[-2]):
        kind = "a square matrix (shape (..., n, n))" if square else "a matrix (shape (..., m, n))"
        raise ValueError(
            f"fnp.linalg.{who}: argument a must be {kind} or a batch of them, got shape "
            f"{tuple(a.shape)}"
        )
    return a


def _lower(who, UPLO):
    if UPLO is None:
        return True
    if UPLO not in ("L", "U"):
        raise ValueError(f"fnp.linalg.{who}: UPLO must be 'L' or 'U', got {UPLO!r}")
    return UPLO == "L"


def eigh(a, UPLO: str | None = None, symmetrize_input: bool = True) -> EighResult:
    """Eigenvalues (ascending) and eigenvectors of a symmetric (Hermitian) matrix batch.

    Args:
      a: (..., n, n).
      UPLO: the triangle to read, 'L' (default) or 'U', when ``symmetrize_input`` is False.
      symmetrize_input: decompose ``(a + a^H) / 2`` (JAX's default, a symmetric gradient);
        False reads one triangle only, as NumPy does. Both agree for symmetric ``a``.

    Returns ``EighResult(eigenvalues, eigenvectors)``. Eigenvectors are defined up to sign; their
    derivatives need distinct eigenvalues.

    Example:
      >>> w, v = fnp.linalg.eigh(fnp.array([[2.0, 1.0], [1.0, 2.0]]))   # w = [1, 3]
    """
    a = _matrix("eigh", a, square=True)
    lower = _lower("eigh", UPLO)
    v, w = lax.linalg.eigh(a, lower=lower, symmetrize_input=symmetrize_input)
    return EighResult(w, v)


def eigvalsh(a, UPLO: str | None = "L", *, symmetrize_input: bool = True):
    """The eigenvalues (ascending) of a symmetric (Hermitian) matrix batch; see ``eigh``.

    Example:
      >>> fnp.linalg.eigvalsh(fnp.array([[2.0, 1.0], [1.0, 2.0]]))   # [1, 3]
    """
    return eigh(a, UPLO, symmetrize_input).eigenvalues


def eig(a) -> EigResult:
    """Eigenvalues and right eigenvectors of a general square matrix batch.

    Returns ``EigResult(eigenvalues, eigenvectors)``, always complex (as in JAX; NumPy returns
    real arrays when every eigenvalue is real). Eigenvectors have unit norm and an arbitrary
    phase. Derivatives need distinct eigenvalues; those of the eigenvectors keep their norm and
    are meaningful for phase-invariant functions (``abs(v)``, ``v v^H``). Runs on the host.

    Example:
      >>> w, v = fnp.linalg.eig(fnp.array([[0.0, 1.0], [-1.0, 0.0]]))   # w = [1j, -1j]
    """
    a = _matrix("eig", a, square=True)
    w, v = lax.linalg.eig(a, compute_left_eigenvectors=False)
    return EigResult(w, v)


def eigvals(a):
    """The eigenvalues of a general square matrix batch (complex, as in JAX); see ``eig``."""
    a = _matrix("eigvals", a, square=True)
    (w,) = lax.linalg.eig(a, compute_left_eigenvectors=False, compute_right_eigenvectors=False)
    return w


def _hermitian_svd(a, compute_uv):
    # NumPy's hermitian=True: |eigenvalues| sorted descending, with the signs moved into Vh.
    from funcgrad.numpy._indexing import take_along_axis
    from funcgrad.numpy._sorting import argsort

    w, v = eigh(a)
    s = lax.abs(w)
    order = argsort(s, axis=-1, descending=True)
    s_sorted = take_along_axis(s, order, axis=-1)
    if not compute_uv:
        return s_sorted
    cols = lax.expand_dims(order, (len(order.shape) - 1,))
    u = take_along_axis(v, cols, axis=-1)
    signed = take_along_axis(v * lax.expand_dims(lax.sign(w), (len(w.shape) - 1,)), cols, -1)
    return SVDResult(u, s_sorted, lax.conj(matrix_transpose(signed)))


def svd(a, full_matrices: bool = True, compute_uv: bool = True, hermitian: bool = False):
    """The singular value decomposition ``a = U @ diag(S) @ Vh`` of a matrix batch.

    Args:
      a: (..., m, n).
      full_matrices: U (..., m, m) and Vh (..., n, n); else (..., m, k), (..., k, n) with
        k = min(m, n).
      compute_uv: return ``SVDResult(U, S, Vh)``; else only ``S`` (descending).
      hermitian: ``a`` is Hermitian: computed from ``eigh`` (as NumPy does).

    Singular vectors are defined up to sign (phase). Derivatives need distinct singular values
    (``S`` alone: distinct nonzero ones), and for ``U``/``Vh`` of a non-square ``a``,
    ``full_matrices=False``.

    Example:
      >>> U, S, Vh = fnp.linalg.svd(a, full_matrices=False)   # a == (U * S) @ Vh
    """
    a = _matrix("svd", a)
    if hermitian:
        if a.shape[-1] != a.shape[-2]:
            raise ValueError(
                f"fnp.linalg.svd: hermitian=True needs a square matrix, got shape {tuple(a.shape)}"
            )
        return _hermitian_svd(a, compute_uv)
    out = lax.linalg.svd(a, full_matrices=full_matrices, compute_uv=compute_uv)
    return SVDResult(*out) if compute_uv else out


def svdvals(x, /):
    """The singular values (descending) of a matrix batch: ``svd(x, compute_uv=False)``."""
    return svd(x, compute_uv=False)


def qr(a, mode: str = "reduced"):
    """The QR decomposition ``a = Q @ R`` of a matrix batch (..., m, n).

    Args:
      mode: 'reduced' (Q (..., m, k), R (..., k, n), k = min(m, n)), 'complete' (Q (..., m, m),
        R (..., m, n)), or 'r' (R only, as in 'reduced'). NumPy's 'raw' is not supported.

    Returns ``QRResult(Q, R)`` (``R`` alone for mode 'r'). Signs follow LAPACK (NumPy's).
    Derivatives need ``a``'s leading k columns independent, and mode 'reduced' when m > n.

    Example:
      >>> Q, R = fnp.linalg.qr(a)
    """
    if mode not in ("reduced", "complete", "r"):
        if mode == "raw":
            raise NotImplementedError(
                "fnp.linalg.qr: mode='raw' (Householder reflectors) is not supported; use "
                "'reduced', 'complete' or 'r'"
            )
        raise ValueError(f"fnp.linalg.qr: mode must be 'reduced', 'complete' or 'r', got {mode!r}")
    a = _matrix("qr", a)
    q, r = lax.linalg.qr(a, full_matrices=mode == "complete")
    return r if mode == "r" else QRResult(q, r)


_NoValue = object()


def pinv(a, rcond=None, hermitian: bool = False, *, rtol=_NoValue):
    """The Moore-Penrose pseudo-inverse of a matrix batch (..., m, n), from its SVD.

    Args:
      rcond: singular values at most ``rcond * max(S)`` count as zero (default 1e-15, NumPy's).
      hermitian: ``a`` is Hermitian (uses ``eigh``).
      rtol: the Array API name of ``rcond``; ``rtol=None`` means ``max(m, n) * eps``.

    Differentiable where the rank is constant (Golub & Pereyra 1973, as JAX's ``pinv``).

    Example:
      >>> fnp.linalg.pinv(fnp.array([[1.0, 2.0]]))   # [[0.2], [0.4]]
    """
    a = _matrix("pinv", a)
    if rcond is None:
        if rtol is _NoValue:
            rcond = 1e-15
        elif rtol is None:
            rcond = max(a.shape[-2:]) * float(np.finfo(a.dtype).eps)
        else:
            rcond = rtol
    elif rtol is not _NoValue:
        raise ValueError("fnp.linalg.pinv: rtol and rcond can't both be set")
    return _pinv(a, rcond, hermitian)


def _pinv_forward(a, rcond, hermitian):
    m, n = a.shape[-2:]
    if m == 0 or n == 0:
        return lax.broadcast_to(Array(np.zeros((), a.dtype)), tuple(a.shape[:-2]) + (n, m))
    u, s, vh = svd(lax.conj(a), full_matrices=False, hermitian=hermitian)
    # NumPy's cutoff: rcond[..., None] * max(s, axis=-1, keepdims=True).
    smax = lax.reduce_max(s, (len(s.shape) - 1,))
    large = s > _trailing1(unary_operand(rcond)) * _trailing1(smax)
    s_inv = lax.select(large, 1.0 / lax.select(large, s, 1.0), 0.0)
    s_inv = lax.convert_element_type(s_inv, a.dtype)
    return matmul(matrix_transpose(vh), _trailing1(s_inv) * matrix_transpose(u))


def _trailing1(x):
    """``x[..., None]``."""
    return lax.reshape(x, tuple(x.shape) + (1,))


def _pinv(a, rcond, hermitian):
    from funcgrad.transforms.custom import custom_jvp

    def _h(x):
        return lax.conj(matrix_transpose(x))

    @custom_jvp
    def pinv_(a):
        return _pinv_forward(a, rcond, hermitian)

    @pinv_.defjvp
    def _(primals, tangents):
        # d pinv (Golub & Pereyra 1973; JAX's rule), valid while the rank is constant.
        (a,), (da,) = primals, tangents
        p = pinv_(a)
        if hermitian:
            a, da = (a + _h(a)) * 0.5, (da + _h(da)) * 0.5
        s = matmul(matmul(p, _h(p)), _h(da))
        t = matmul(matmul(_h(da), _h(p)), p)
        dp = -matmul(matmul(p, da), p) + s - matmul(matmul(s, a), p) + t
        return p, dp - matmul(matmul(p, a), t)

    return pinv_(a)


def matrix_rank(A, tol=None, hermitian: bool = False, *, rtol=None):
    """The number of singular values above ``tol`` (per matrix of a batch); no derivative.

    Args:
      tol: an absolute threshold; by default ``S.max() * rtol`` with ``rtol`` defaulting to
        ``max(m, n) * eps`` (NumPy's rule).
      hermitian: ``A`` is Hermitian (uses ``eigh``).

    Returns an integer array (NumPy returns a Python int for a single matrix).

    Example:
      >>> fnp.linalg.matrix_rank(fnp.array([[1.0, 2.0], [2.0, 4.0]]))   # 1
    """
    from funcgrad.numpy._reductions import count_nonzero

    if tol is not None and rtol is not None:
        raise ValueError("fnp.linalg.matrix_rank: tol and rtol can't both be set")
    A = _float(A)
    if len(A.shape) < 2:
        return lax.convert_element_type(count_nonzero(A) > 0, np.intp)
    s = lax.stop_gradient(svd(A, compute_uv=False, hermitian=hermitian))
    nd = len(s.shape)
    if tol is None:
        if rtol is None:
            rtol = max(A.shape[-2:]) * float(np.finfo(s.dtype).eps)
        smax = lax.reduce_max(s, (nd - 1,)) if s.shape[-1] else lax.reduce_sum(s, (nd - 1,))
        tol = smax * unary_operand(rtol)
    tol = _trailing1(lax.convert_element_type(unary_operand(tol), s.dtype))
    return count_nonzero(s > tol, axis=-1)


def lstsq(a, b, rcond=None, *, numpy_resid: bool = False):
    """The least-squares solution ``x`` of ``a @ x = b``, from the SVD of ``a`` (m, n).

    Args:
      b: (m,) or (m, k).
      rcond: singular values below ``rcond * S[0]`` count as zero; default ``max(m, n) * eps``.
      numpy_resid: give NumPy's residuals (empty when rank < n or m <= n; needs concrete
        values). By default, as in JAX, the residuals are always computed.

    Returns ``(x, residuals, rank, s)``: residuals are the squared 2-norms of the columns of
    ``b - a @ x`` (shape (k,), or (1,) for 1-d ``b``), rank an integer array.

    Example:
      >>> x, res, rank, s = fnp.linalg.lstsq(a, b)
    """
    a, b = _float(a), _float(b)
    if len(a.shape) != 2 or len(b.shape) not in (1, 2) or b.shape[0] != a.shape[0]:
        raise ValueError(
            f"fnp.linalg.lstsq: a must be 2-d (m, n) and b (m,) or (m, k); got shapes "
            f"{tuple(a.shape)} and {tuple(b.shape)}"
        )
    dtype = np.result_type(a.dtype, b.dtype)
    a, b = lax.convert_element_type(a, dtype), lax.convert_element_type(b, dtype)
    vector = len(b.shape) == 1
    if vector:
        b = lax.reshape(b, (b.shape[0], 1))
    m, n = a.shape
    if rcond is None:
        rcond = max(m, n) * float(np.finfo(dtype).eps)
    u, s, vh = svd(a, full_matrices=False)
    if s.shape[0]:
        mask = s >= lax.convert_element_type(unary_operand(rcond), s.dtype) * s[0]
    else:
        mask = s > 0
    rank = lax.reduce_sum(lax.convert_element_type(mask, np.intp), (0,))
    s_inv = lax.convert_element_type(lax.select(mask, 1.0 / lax.select(mask, s, 1.0), 0.0), dtype)
    x = matmul(lax.conj(matrix_transpose(vh)), s_inv[:, None] * matmul(lax.conj(u.T), b))
    if numpy_resid and (m <= n or int(rank) < n):
        resid = Array(np.zeros((0,), s.dtype))
    else:
        r = b - matmul(a, x)
        resid = lax.reduce_sum(_abs_sq(r), (0,))
    if vector:
        x = lax.reshape(x, (n,))
    return x, resid, rank, s


def tensorsolve(a, b, axes=None):
    """The ``x`` with ``tensordot(a, x, x.ndim) == b`` (NumPy's ``tensorsolve``).

    ``a`` (after moving ``axes`` to the end) has ``b.ndim`` leading axes matching ``b`` and
    then ``x``'s axes, with ``prod(x.shape) == prod(b.shape)``.

    Example:
      >>> x = fnp.linalg.tensorsolve(a, b)   # a: (2, 3, 6), b: (2, 3) -> x: (6,)
    """
    a, b = _float(a), _float(b)
    an = len(a.shape)
    if axes is not None:
        from funcgrad.numpy._shape import moveaxis

        axes = [int(k) % an for k in ([axes] if isinstance(axes, int) else axes)]
        a = moveaxis(a, axes, list(range(an - len(axes), an)))
    old = tuple(a.shape[len(b.shape) :])
    prod = int(np.prod(old, dtype=np.int64))
    if len(b.shape) > an or a.size != prod**2:
        raise ValueError(
            f"fnp.linalg.tensorsolve: a of shape {tuple(a.shape)} (after moving axes) and b of "
            f"shape {tuple(b.shape)}: prod(a.shape[b.ndim:]) must equal prod(a.shape[:b.ndim])"
        )
    x = solve(lax.reshape(a, (prod, prod)), lax.reshape(b, (prod,)))
    return lax.reshape(x, old)


def tensorinv(a, ind: int = 2):
    """The inverse of ``a`` seen as a matrix of its first ``ind`` axes by the rest.

    ``tensordot(tensorinv(a, ind), a, ind)`` is the identity; the result has shape
    ``a.shape[ind:] + a.shape[:ind]``.

    Example:
      >>> fnp.linalg.tensorinv(fnp.eye(24).reshape(4, 6, 8, 3)).shape   # (8, 3, 4, 6)
    """
    a = _float(a)
    ind = int(ind)
    if ind <= 0:
        raise ValueError(f"fnp.linalg.tensorinv: ind must be a positive int, got {ind}")
    shape = tuple(a.shape)
    rows = int(np.prod(shape[:ind], dtype=np.int64))
    cols = int(np.prod(shape[ind:], dtype=np.int64))
    if rows != cols:
        raise ValueError(
            f"fnp.linalg.tensorinv: a of shape {shape} with ind={ind} is not square "
            f"({rows} x {cols}); prod(a.shape[:ind]) must equal prod(a.shape[ind:])"
        )
    return lax.reshape(inv(lax.reshape(a, (rows, cols))), shape[ind:] + shape[:ind])


def cond(x, p=None):
    """The condition number of a matrix batch in the norm ``p`` (NumPy's ``cond``).

    ``p`` None or 2: ``S[0] / S[-1]``; -2: its inverse; otherwise (``'fro'``, ``'nuc'``, 1, -1,
    inf, -inf; square ``x`` only) ``norm(x, p) * norm(inv(x), p)``, which raises ``LinAlgError``
    for a singular ``x`` (NumPy returns inf).

    Example:
      >>> fnp.linalg.cond(fnp.array([[1.0, 0.0], [0.0, 4.0]]))   # 4.0
    """
    x = _matrix("cond", x)
    nd = len(x.shape)
    if p is None or (not isinstance(p, str) and p in (2, -2)):
        s = svd(x, compute_uv=False)
        first, last = s[..., 0], s[..., -1]
        return last / first if p == -2 else first / last
    if x.shape[-1] != x.shape[-2]:
        raise ValueError(
            f"fnp.linalg.cond: p={p!r} needs square matrices, got shape {tuple(x.shape)}"
        )
    axes = (nd - 2, nd - 1)
    return norm(x, p, axes) * norm(inv(x), p, axes)
