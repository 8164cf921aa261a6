"""dot_general: the one contraction primitive behind dot, matmul, tensordot, einsum and linear."""

from __future__ import annotations

import functools
import math

import numpy as np

from funcgrad.core.primitive import Primitive, ShapedArray
from funcgrad.transforms.grad import defjvp, defvjp, defvjp_eager
from funcgrad.transforms.vmap import batch_rules, moveaxis

# dimension_numbers = ((lhs_contracting, rhs_contracting), (lhs_batch, rhs_batch)), as in JAX.
# The output's axes are: batch axes, then lhs free axes, then rhs free axes.


def _free(ndim, contract, batch):
    return [i for i in range(ndim) if i not in contract and i not in batch]


@functools.lru_cache(maxsize=1024)
def _batched_plan(lshape, rshape, dimension_numbers):
    # Batch axes first, then free axes, then contracted ones: one (b, m, k) @ (b, k, n) matmul.
    (lc, rc), (lb, rb) = dimension_numbers
    lf = _free(len(lshape), lc, lb)
    rf = _free(len(rshape), rc, rb)
    bshape = tuple(lshape[i] for i in lb)
    lfs = tuple(lshape[i] for i in lf)
    rfs = tuple(rshape[i] for i in rf)
    k = math.prod(lshape[i] for i in lc)
    m, n, b = math.prod(lfs), math.prod(rfs), math.prod(bshape)
    lperm = tuple(lb) + tuple(lf) + tuple(lc)
    rperm = tuple(rb) + tuple(rc) + tuple(rf)
    return lperm, (b, m, k), rperm, (b, k, n), bshape + lfs + rfs


def _dot_general_impl(xp, lhs, rhs, *, dimension_numbers, preferred_element_type=None):
    (lc, rc), (lb, rb) = dimension_numbers
    if type(lhs) is not xp.ndarray:
        lhs = xp.asarray(lhs)
    if type(rhs) is not xp.ndarray:
        rhs = xp.asarray(rhs)
    # Fast paths that map to one BLAS call without copies.
    if not lb:
        if lhs.ndim == 2 and rhs.ndim == 2 and len(lc) == 1:
            a = lhs if lc[0] == 1 else lhs.T
            b = rhs if rc[0] == 0 else rhs.T
            out = a @ b
        elif lhs.ndim == 1 and rhs.ndim == 1 and len(lc) == 1:
            out = xp.dot(lhs, rhs)
        else:
            out = xp.tensordot(lhs, rhs, axes=(list(lc), list(rc)))
    else:
        lperm, lshape3, rperm, rshape3, out_shape = _batched_plan(
            lhs.shape, rhs.shape, dimension_numbers
        )
        a = lhs.transpose(lperm).reshape(lshape3)
        c = rhs.transpose(rperm).reshape(rshape3)
        if lshape3[2] == 1:  # batched outer products: NumPy's matmul is ~4x slower here
            out = xp.einsum("bm,bn->bmn", a[:, :, 0], c[:, 0, :])
        else:
            out = xp.matmul(a, c)
        out = out.reshape(out_shape)
    if preferred_element_type is not None:
        out = out.astype(preferred_element_type)
    return out


def _dot_general_abstract_eval(lhs, rhs, *, dimension_numbers, preferred_element_type=None):
    (lc, rc), (lb, rb) = dimension_numbers
    ls, rs = lhs.shape, rhs.shape
    ok = len(lc) == len(rc) and len(lb) == len(rb)
    ok = (
        ok
        and all(0 <= i < len(ls) for i in (*lc, *lb))
        and all(0 <= i < len(rs) for i in (*rc, *rb))
    )
    ok = (
        ok
        and all(ls[i] == rs[j] for i, j in zip(lc, rc))
        and all(ls[i] == rs[j] for i, j in zip(lb, rb))
    )
    if not ok:
        raise ValueError(
            f"dot_general: cannot contract shapes {ls} and {rs} with dimension_numbers "
            f"{dimension_numbers} (contracting and batch axes must match in size)"
        )
    shape = (
        tuple(ls[i] for i in lb)
        + tuple(ls[i] for i in _free(len(ls), lc, lb))
        + tuple(rs[i] for i in _free(len(rs), rc, rb))
    )
    dtype = preferred_element_type or np.result_type(lhs.dtype, rhs.dtype)
    return ShapedArray(shape, np.dtype(dtype))


def _ranges_like(*xs):
    start = 0
    for x in xs:
        yield range(start, start + len(x))
        start += len(x)


@functools.lru_cache(maxsize=512)
def _transpose_lhs_plan(x_ndim, y_ndim, dimension_numbers, swap_ans):
    # The cotangent of lhs is a dot_general of g with rhs over rhs's free axes, then a transpose
    # back into lhs's axis order (JAX's rule). The plan depends only on ranks and dimensions.
    (x_contract, y_contract), (x_batch, y_batch) = dimension_numbers
    x_kept = _free(x_ndim, x_contract, x_batch)
    y_kept = _free(y_ndim, y_contract, y_batch)
    if swap_ans:
        ans_batch, ans_y, _ = _ranges_like(x_batch, y_kept, x_kept)
    else:
        ans_batch, _, ans_y = _ranges_like(x_batch, x_kept, y_kept)
    dims = ((tuple(ans_y), tuple(y_kept)), (tuple(ans_batch), tuple(y_batch)))
    x_contract_sorted_by_y = [c for _, c in sorted(zip(y_contract, x_contract))]
    out_axes = tuple(int(a) for a in np.argsort(list(x_batch) + x_kept + x_contract_sorted_by_y))
    return dims, out_axes


def _dot_general_transpose_lhs(g, x, y, dimension_numbers, swap_ans=False):
    from funcgrad.lax.shape import transpose

    dims, out_axes = _transpose_lhs_plan(len(x.shape), len(y.shape), dimension_numbers, swap_ans)
    res = dot_general_p.bind(g, y, dimension_numbers=dims, preferred_element_type=None)
    if g.dtype != x.dtype and x.dtype.kind in "fc":
        from funcgrad.lax.elementwise import convert_element_type

        res = convert_element_type(res, x.dtype)
    return transpose(res, out_axes)


def _dot_general_transpose_rhs(g, x, y, dimension_numbers):
    (x_contract, y_contract), (x_batch, y_batch) = dimension_numbers
    swapped = ((y_contract, x_contract), (y_batch, x_batch))
    return _dot_general_transpose_lhs(g, y, x, swapped, swap_ans=True)


def _dot_vjp_lhs(g, ans, x, y, *, dimension_numbers, preferred_element_type=None):
    return _dot_general_transpose_lhs(g, x, y, dimension_numbers)


def _matrix_rhs_lead(x_ndim, y_ndim, dimension_numbers):
    """For ``x @ W`` (W a matrix contracted on its first axis with x's last): x's leading axes,
    over which dW = x^T g contracts, computed in W's layout (the general rule would return a
    transposed view, slow to use afterwards). None for any other contraction."""
    (lc, rc), (lb, _) = dimension_numbers
    if not lb and rc == (0,) and y_ndim == 2 and lc == (x_ndim - 1,):
        return tuple(range(x_ndim - 1))
    return None


def _dot_vjp_rhs(g, ans, x, y, *, dimension_numbers, preferred_element_type=None):
    lead = _matrix_rhs_lead(len(x.shape), len(y.shape), dimension_numbers)
    if lead is not None:
        res = dot_general_p.bind(
            x, g, dimension_numbers=((lead, lead), ((), ())), preferred_element_type=None
        )
        if res.dtype != y.dtype and y.dtype.kind in "fc":
            from funcgrad.lax.elementwise import convert_element_type

            res = convert_element_type(res, y.dtype)
        return res
    return _dot_general_transpose_rhs(g, x, y, dimension_numbers)


dot_general_p = Primitive("dot_general")
dot_general_p.def_impl(_dot_general_impl)
dot_general_p.def_abstract_eval(_dot_general_abstract_eval)
defjvp(
    dot_general_p,
    lambda t, ans, x, y, **p: dot_general_p.bind(t, y, **p),
    lambda t, ans, x, y, **p: dot_general_p.bind(x, t, **p),
)
defvjp(dot_general_p, _dot_vjp_lhs, _dot_vjp_rhs)


def _dot_eager_lhs(g, ans, x, y, dimension_numbers, swap_ans=False):
    # _dot_general_transpose_lhs on NumPy values.
    dims, out_axes = _transpose_lhs_plan(len(x.shape), len(y.shape), dimension_numbers, swap_ans)
    res = _dot_general_impl(np, g, y, dimension_numbers=dims)
    if res.dtype != x.dtype and x.dtype.kind in "fc":
        res = res.astype(x.dtype)
    return res if out_axes == tuple(range(len(out_axes))) else res.transpose(out_axes)


def _dot_eager_rhs(g, ans, x, y, dimension_numbers):
    # _dot_vjp_rhs on NumPy values.
    lead = _matrix_rhs_lead(len(x.shape), len(y.shape), dimension_numbers)
    if lead is not None:
        res = _dot_general_impl(np, x, g, dimension_numbers=((lead, lead), ((), ())))
        return res if res.dtype == y.dtype or y.dtype.kind not in "fc" else res.astype(y.dtype)
    (x_contract, y_contract), (x_batch, y_batch) = dimension_numbers
    swapped = ((y_contract, x_contract), (y_batch, x_batch))
    return _dot_eager_lhs(g, ans, y, x, swapped, swap_ans=True)


defvjp_eager(
    dot_general_p,
    lambda g, ans, x, y, *, dimension_numbers, preferred_element_type=None: _dot_eager_lhs(
        g, ans, x, y, dimension_numbers
    ),
    lambda g, ans, x, y, *, dimension_numbers, preferred_element_type=None: _dot_eager_rhs(
        g, ans, x, y, dimension_numbers
    ),
)


def _dot_general_batch(args, dims, *, dimension_numbers, preferred_element_type=None):
    (lhs, rhs), (ld, rd) = args, dims
    (lc, rc), (lb, rb) = dimension_numbers
    shift = lambda axes: tuple(a + 1 for a in axes)  # noqa: E731 - batch axis moved to 0
    if ld is not None and rd is not None:
        # Both batched: one more batch dimension, first in the output.
        lhs, rhs = moveaxis(lhs, ld, 0), moveaxis(rhs, rd, 0)
        dims_ = ((shift(lc), shift(rc)), ((0,) + shift(lb), (0,) + shift(rb)))
        out_dim = 0
    elif ld is not None:
        # Only lhs: its batch axis is a free axis, first among lhs's free axes in the output.
        lhs = moveaxis(lhs, ld, 0)
        dims_ = ((shift(lc), rc), (shift(lb), rb))
        out_dim = len(lb)
    else:
        # Only rhs: a free axis of rhs, first among rhs's free axes (after all of lhs's).
        rhs = moveaxis(rhs, rd, 0)
        dims_ = ((lc, shift(rc)), (lb, shift(rb)))
        out_dim = len(lhs.shape) - len(lc)
    out = dot_general_p.bind(
        lhs, rhs, dimension_numbers=dims_, preferred_element_type=preferred_element_type
    )
    return out, out_dim


batch_rules[dot_general_p] = _dot_general_batch


def _canonical_dims(dimension_numbers):
    (lc, rc), (lb, rb) = dimension_numbers
    return (
        (tuple(map(int, lc)), tuple(map(int, rc))),
        (tuple(map(int, lb)), tuple(map(int, rb))),
    )


def dot_general(lhs, rhs, dimension_numbers, preferred_element_type=None):
    """General tensor contraction (JAX's ``lax.dot_general``).

    Args:
      dimension_numbers: ``((lhs_contracting, rhs_contracting), (lhs_batch, rhs_batch))``.

    Example:
      >>> dot_general(a, b, (((1,), (0,)), ((), ())))   # a @ b for matrices
    """
    dims = _canonical_dims(dimension_numbers)
    return dot_general_p.bind(
        lhs, rhs, dimension_numbers=dims, preferred_element_type=preferred_element_type
    )


def dot(lhs, rhs):
    """Vector/matrix product of 1-d or 2-d operands (contracts lhs's last and rhs's first axis)."""
    return dot_general(lhs, rhs, (((len(lhs.shape) - 1,), (0,)), ((), ())))
