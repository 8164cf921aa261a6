"""Products: dot, matmul, vdot, inner, outer, tensordot, einsum, trace, diag, triu, tril."""

from __future__ import annotations

import numpy as np

from funcgrad import lax
from funcgrad.numpy._core import unary_operand


def _check_contract(who, a, b, ai, bi):
    if a.shape[ai] != b.shape[bi]:
        raise ValueError(
            f"fnp.{who}: shapes {tuple(a.shape)} and {tuple(b.shape)} are not aligned: "
            f"dimension {ai % len(a.shape)} ({a.shape[ai]}) != dimension {bi % len(b.shape)} "
            f"({b.shape[bi]})"
        )


def matmul(x1, x2, /):
    """Matrix product with NumPy's ``matmul`` rules (1-d promotion, batch broadcasting)."""
    a, b = unary_operand(x1), unary_operand(x2)
    if len(a.shape) == 0 or len(b.shape) == 0:
        raise ValueError("fnp.matmul: operands must not be scalars; use * for scalar products")
    if len(a.shape) == 2 and len(b.shape) == 2:
        _check_contract("matmul", a, b, 1, 0)
        return lax.dot_general(a, b, (((1,), (0,)), ((), ())))
    a_vec, b_vec = len(a.shape) == 1, len(b.shape) == 1
    if a_vec:
        a = lax.reshape(a, (1,) + tuple(a.shape))
    if b_vec:
        b = lax.reshape(b, tuple(b.shape) + (1,))
    _check_contract("matmul", a, b, -1, -2)
    batch = np.broadcast_shapes(tuple(a.shape[:-2]), tuple(b.shape[:-2]))
    a = lax.broadcast_to(a, batch + tuple(a.shape[-2:]))
    b = lax.broadcast_to(b, batch + tuple(b.shape[-2:]))
    nb = len(batch)
    out = lax.dot_general(a, b, (((nb + 1,), (nb,)), (tuple(range(nb)), tuple(range(nb)))))
    if a_vec:
        out = lax.reshape(out, tuple(out.shape[:-2]) + (out.shape[-1],))
    if b_vec:
        out = lax.reshape(out, tuple(out.shape[:-1]))
    return out


def dot(a, b):
    """NumPy's ``dot``: scalars multiply, 1-d/2-d contract, N-d contract last with second-last."""
    a, b = unary_operand(a), unary_operand(b)
    if len(a.shape) == 0 or len(b.shape) == 0:
        return a * b
    if len(b.shape) == 1:
        _check_contract("dot", a, b, -1, 0)
        return lax.dot_general(a, b, (((len(a.shape) - 1,), (0,)), ((), ())))
    _check_contract("dot", a, b, -1, -2)
    return lax.dot_general(a, b, (((len(a.shape) - 1,), (len(b.shape) - 2,)), ((), ())))


def vdot(a, b):
    """Dot product of the flattened arrays (conjugating ``a``)."""
    a, b = unary_operand(a), unary_operand(b)
    if a.dtype.kind == "c":
        from funcgrad.numpy._complex import conj

        a = conj(a)
    return dot(lax.reshape(a, (a.size,)), lax.reshape(b, (b.size,)))


def inner(a, b):
    """Inner product over the last axes."""
    a, b = unary_operand(a), unary_operand(b)
    if len(a.shape) == 0 or len(b.shape) == 0:
        return a * b
    _check_contract("inner", a, b, -1, -1)
    return lax.dot_general(a, b, (((len(a.shape) - 1,), (len(b.shape) - 1,)), ((), ())))


def outer(a, b):
    """Outer product of the flattened arrays."""
    a, b = unary_operand(a), unary_operand(b)
    return lax.reshape(a, (a.size, 1)) * lax.reshape(b, (1, b.size))
