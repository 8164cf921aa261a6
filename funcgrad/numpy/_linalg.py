"""Products and matrix helpers: dot, matmul, vdot, inner, outer, tensordot, einsum, trace,
diagonal, diag, diagflat, triu, tril, kron, cross."""

from __future__ import annotations

import numpy as np

from funcgrad import lax
from funcgrad.lax.dot import dot_general_p
from funcgrad.numpy._core import no_out, unary_operand
from funcgrad.numpy._indexing import diagonal


def _check_contract(who, a, b, ai, bi):
    if a.shape[ai] != b.shape[bi]:
        raise ValueError(
            f"fnp.{who}: shapes {tuple(a.shape)} and {tuple(b.shape)} are not aligned: "
            f"dimension {ai % len(a.shape)} ({a.shape[ai]}) != dimension {bi % len(b.shape)} "
            f"({b.shape[bi]})"
        )


_MATRIX = (((1,), (0,)), ((), ()))


def matmul(x1, x2, /, out=None):
    """Matrix product with NumPy's ``matmul`` rules (1-d promotion, batch broadcasting)."""
    if out is not None:
        no_out("matmul", out)
    a, b = unary_operand(x1), unary_operand(x2)
    if len(a.shape) == 0 or len(b.shape) == 0:
        raise ValueError("fnp.matmul: operands must not be scalars; use * for scalar products")
    if len(a.shape) == 2 and len(b.shape) == 2:  # the common case, straight to the primitive
        _check_contract("matmul", a, b, 1, 0)
        return dot_general_p.bind(a, b, dimension_numbers=_MATRIX, preferred_element_type=None)
    na, nb_ = len(a.shape), len(b.shape)
    if na <= 2 and nb_ <= 2:  # vector cases: one contraction, no reshapes (cheap under vmap)
        _check_contract("matmul", a, b, -1, 0 if nb_ == 1 else -2)
        dims = (((na - 1,), (0,)), ((), ()))
        return dot_general_p.bind(a, b, dimension_numbers=dims, preferred_element_type=None)
    a_vec, b_vec = na == 1, nb_ == 1
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


def dot(a, b, out=None):
    """NumPy's ``dot``: scalars multiply, 1-d/2-d contract, N-d contract last with second-last."""
    no_out("dot", out)
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


def outer(a, b, out=None):
    """Outer product of the flattened arrays."""
    no_out("outer", out)
    a, b = unary_operand(a), unary_operand(b)
    return lax.reshape(a, (a.size, 1)) * lax.reshape(b, (1, b.size))


def _axis_index(who, a, axis, name="axis"):
    nd = len(a.shape)
    axis = int(axis)
    if not -nd <= axis < nd:
        raise ValueError(f"fnp.{who}: {name} {axis} is out of bounds for shape {tuple(a.shape)}")
    return axis % nd


def tensordot(a, b, axes=2):
    """Sums products over the given axes of ``a`` and ``b`` (NumPy's ``tensordot``).

    Args:
      axes: an int N (the last N axes of ``a`` with the first N of ``b``) or a pair of
        sequences (or ints) ``(axes_a, axes_b)``.

    Example:
      >>> fnp.tensordot(a, b, axes=([1, 0], [0, 1]))
    """
    a, b = unary_operand(a), unary_operand(b)
    na, nb = len(a.shape), len(b.shape)
    if isinstance(axes, (int, np.integer)):
        n = int(axes)
        if n < 0 or n > na or n > nb:
            raise ValueError(
                f"fnp.tensordot: axes={n} does not fit shapes {tuple(a.shape)} and {tuple(b.shape)}"
            )
        ca, cb = list(range(na - n, na)), list(range(n))
    else:
        try:
            axes_a, axes_b = axes
        except (TypeError, ValueError):
            raise TypeError(
                f"fnp.tensordot: axes must be an int or a pair of sequences, got {axes!r}"
            ) from None
        axes_a = [axes_a] if isinstance(axes_a, (int, np.integer)) else list(axes_a)
        axes_b = [axes_b] if isinstance(axes_b, (int, np.integer)) else list(axes_b)
        if len(axes_a) != len(axes_b):
            raise ValueError(f"fnp.tensordot: axes {axes_a} and {axes_b} must have the same length")
        ca = [_axis_index("tensordot", a, i, "axes") for i in axes_a]
        cb = [_axis_index("tensordot", b, i, "axes") for i in axes_b]
    for i, j in zip(ca, cb):
        _check_contract("tensordot", a, b, i, j)
    return lax.dot_general(a, b, ((tuple(ca), tuple(cb)), ((), ())))


# --------------------------------------------------------------------------------------------
# einsum: parsed into per-operand diagonals and sums, then pairwise dot_generals.

_LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


def _einsum_term(term, ndim, n_ell, who="einsum"):
    """The labels of one term: letters, and ints 0..n_ell-1 for the ellipsis axes."""
    if term.count("...") > 1 or term.replace("...", "").count(".") > 0:
        raise ValueError(f"fnp.{who}: invalid subscript term {term!r} (at most one '...')")
    for c in term.replace("...", ""):
        if c not in _LETTERS:
            raise ValueError(f"fnp.{who}: invalid subscript {c!r} in {term!r}; use letters")
    if "..." not in term:
        if ndim is not None and len(term) != ndim:
            raise ValueError(
                f"fnp.{who}: subscripts {term!r} name {len(term)} axes but the operand has "
                f"{ndim} dimensions"
            )
        return list(term)
    before, after = term.split("...")
    k = n_ell if ndim is None else ndim - len(before) - len(after)
    if k < 0:
        raise ValueError(
            f"fnp.{who}: subscripts {term!r} name more axes than the operand's {ndim} dimensions"
        )
    return list(before) + list(range(n_ell - k, n_ell)) + list(after)


def _einsum_parse(subscripts, shapes):
    s = subscripts.replace(" ", "")
    ins, arrow, out = s.partition("->")
    terms = ins.split(",")
    if len(terms) != len(shapes):
        raise ValueError(
            f"fnp.einsum: {subscripts!r} has {len(terms)} operand terms but {len(shapes)} "
            "operands were given"
        )
    n_ell = 0
    for t, shape in zip(terms, shapes):
        if "..." in t:
            n_ell = max(n_ell, len(shape) - len(t.replace("...", "")))
    labels = [_einsum_term(t, len(shape), n_ell) for t, shape in zip(terms, shapes)]
    if arrow:
        if "..." not in out and n_ell and any("..." in t for t in terms):
            raise ValueError(
                f"fnp.einsum: {subscripts!r}: the output needs '...' to keep the operands' "
                "broadcast (ellipsis) dimensions"
            )
        out_labels = _einsum_term(out, None, n_ell)
        if len(set(out_labels)) != len(out_labels):
            raise ValueError(f"fnp.einsum: output subscripts {out!r} repeat a label")
        every = {lab for ls in labels for lab in ls}
        for lab in out_labels:
            if lab not in every:
                raise ValueError(f"fnp.einsum: output label {lab!r} does not occur in the inputs")
    else:
        counts = {}
        for ls in labels:
            for lab in ls:
                counts[lab] = counts.get(lab, 0) + 1
        letters = sorted(c for c, n in counts.items() if isinstance(c, str) and n == 1)
        out_labels = list(range(n_ell)) + letters
    sizes = {}
    for ls, shape in zip(labels, shapes):
        for lab, d in zip(ls, shape):
            old = sizes.get(lab, 1)
            if d != 1 and old != 1 and d != old:
                name = "..." if isinstance(lab, int) else lab
                raise ValueError(
                    f"fnp.einsum: {subscripts!r}: label {name!r} has sizes {old} and {d} in "
                    f"operands of shapes {[tuple(s) for s in shapes]}"
                )
            sizes[lab] = max(old, d)
    return labels, out_labels, sizes


def _sum_labels(x, labels, keep):
    axes = tuple(i for i, lab in enumerate(labels) if lab not in keep)
    if not axes:
        return x, labels
    return lax.reduce_sum(x, axes), [lab for lab in labels if lab in keep]


def _diagonal_last(x):
    """The diagonal of the last two (equal) axes, as the last axis."""
    n = x.shape[-1]
    return lax.reduce_sum(x * _eye_mask(n, x.dtype), (len(x.shape) - 1,))


def _eye_mask(n, dtype):
    from funcgrad.core.array import Array

    return Array(np.eye(n, dtype=dtype))


def _einsum_prepare(x, labels, sizes):
    # Size-1 axes broadcast against a larger size elsewhere: drop them (they repeat one value).
    drop = [i for i, lab in enumerate(labels) if x.shape[i] == 1 and sizes[lab] != 1]
    if drop:
        x = lax.reshape(x, [d for i, d in enumerate(x.shape) if i not in drop])
        labels = [lab for i, lab in enumerate(labels) if i not in drop]
    # Repeated labels within one operand take the diagonal.
    while len(set(labels)) != len(labels):
        lab = next(lab for lab in labels if labels.count(lab) > 1)
        i = labels.index(lab)
        j = labels.index(lab, i + 1)
        rest = [k for k in range(len(labels)) if k not in (i, j)]
        x = _diagonal_last(lax.transpose(x, rest + [i, j]))
        labels = [labels[k] for k in rest] + [lab]
    return x, labels


def _einsum_pair(a, la, b, lb, keep):
    a, la = _sum_labels(a, la, keep | set(lb))
    b, lb = _sum_labels(b, lb, keep | set(la))
    if not la or not lb:
        return a * b, la + lb
    common = [lab for lab in la if lab in lb]
    batch = [lab for lab in common if lab in keep]
    contract = [lab for lab in common if lab not in keep]
    dims = (
        (tuple(la.index(c) for c in contract), tuple(lb.index(c) for c in contract)),
        (tuple(la.index(c) for c in batch), tuple(lb.index(c) for c in batch)),
    )
    out = lax.dot_general(a, b, dims)
    return out, batch + [x for x in la if x not in common] + [x for x in lb if x not in common]


def _einsum_path(ops, out_labels):
    """Contraction steps (positions in the operand list; results go to its end), as chosen by
    ``np.einsum_path`` (greedy) on the shapes alone."""
    if len(ops) <= 2:
        return [(0, 1)] if len(ops) == 2 else []
    names = {}
    for _, ls in ops:
        for lab in ls:
            names.setdefault(lab, _LETTERS[len(names) % len(_LETTERS)])
    if len(names) > len(_LETTERS):  # too many labels to name: contract left to right
        return [(0, 1)] * (len(ops) - 1)
    spec = ",".join("".join(names[lab] for lab in ls) for _, ls in ops)
    spec += "->" + "".join(names[lab] for lab in out_labels)
    dummies = [np.broadcast_to(np.zeros((), np.float32), x.shape) for x, _ in ops]
    return [tuple(step) for step in np.einsum_path(spec, *dummies, optimize="greedy")[0][1:]]


def einsum(
    subscripts, *operands, out=None, optimize=None, precision=None, preferred_element_type=None
):
    """Einstein summation (NumPy's ``einsum``), differentiable.

    Supports explicit (``'ij,jk->ik'``) and implicit (``'ij,jk'``) outputs, ``...`` broadcast
    axes, repeated labels within an operand (diagonals, ``'ii->i'``) and the interleaved form
    ``einsum(a, [0, 1], b, [1, 2], [0, 2])``. Contractions run pairwise through
    ``lax.dot_general`` in the order ``np.einsum_path`` (greedy) picks; ``optimize`` and
    ``precision`` are accepted for compatibility and ignored.

    Example:
      >>> fnp.einsum('bij,bjk->bik', a, b)
    """
    no_out("einsum", out)
    if not isinstance(subscripts, str):
        subscripts, operands = _einsum_interleaved(subscripts, operands)
    ops = [unary_operand(x) for x in operands]
    labels, out_labels, sizes = _einsum_parse(subscripts, [tuple(x.shape) for x in ops])
    ops = [_einsum_prepare(x, ls, sizes) for x, ls in zip(ops, labels)]
    keep_out = set(out_labels)
    for step in _einsum_path(ops, out_labels):
        picked = [ops[i] for i in step]
        ops = [op for k, op in enumerate(ops) if k not in step]
        keep = keep_out.union(*[set(ls) for _, ls in ops])
        acc = picked[0]
        for n, (b, lb) in enumerate(picked[1:], 2):
            acc = _einsum_pair(*acc, b, lb, keep.union(*[set(ls) for _, ls in picked[n:]]))
        ops.append(acc)
    x, ls = _sum_labels(*ops[0], keep_out)
    out = lax.transpose(x, [ls.index(lab) for lab in out_labels])
    if preferred_element_type is not None:
        out = lax.convert_element_type(out, preferred_element_type)
    return out


def _einsum_interleaved(first, rest):
    args = [first, *rest]
    ops, subs = args[0::2], args[1::2]
    out = None
    if len(args) % 2 == 1:
        ops, out = ops[:-1], ops[-1]

    def term(sub):
        s = ""
        for v in sub:
            s += "..." if v is Ellipsis else _LETTERS[int(v)]
        return s

    spec = ",".join(term(s) for s in subs)
    if out is not None:
        spec += "->" + term(out)
    return spec, tuple(ops)


# --------------------------------------------------------------------------------------------
# Diagonals, traces and triangles (diagonal itself is a strided slice, in _indexing)


def trace(a, offset=0, axis1=0, axis2=1, dtype=None, out=None):
    """Sum along a diagonal (NumPy's ``trace``). Example: ``fnp.trace(fnp.eye(3))`` is 3."""
    from funcgrad.numpy._reductions import sum as _sum

    return _sum(diagonal(a, offset, axis1, axis2), axis=-1, dtype=dtype, out=out)


def diag(v, k=0):
    """The ``k``-th diagonal of a 2-d ``v``, or a 2-d array with 1-d ``v`` on that diagonal."""
    v = unary_operand(v)
    k = int(k)
    if len(v.shape) == 2:
        return diagonal(v, k)
    if len(v.shape) != 1:
        raise ValueError(f"fnp.diag: input must be 1-d or 2-d, got shape {tuple(v.shape)}")
    n = v.shape[0]
    m = lax.reshape(v, (n, 1)) * _eye_mask(n, v.dtype)
    rows, cols = ((0, k), (k, 0)) if k >= 0 else ((-k, 0), (0, -k))
    return lax.pad(m, 0, ((*rows, 0), (*cols, 0)))


def diagflat(v, k=0):
    """A 2-d array with the flattened ``v`` on the ``k``-th diagonal."""
    v = unary_operand(v)
    return diag(lax.reshape(v, (v.size,)), k)


def _tri_select(who, m, k, upper):
    m = unary_operand(m)
    if len(m.shape) == 0:
        raise ValueError(f"fnp.{who}: input must be at least 1-d, got a scalar")
    shape = tuple(m.shape[-2:]) if len(m.shape) >= 2 else (m.shape[0], m.shape[0])
    from funcgrad.core.array import Array

    if upper:
        mask = Array(~np.tri(*shape, k=int(k) - 1, dtype=bool))
    else:
        mask = Array(np.tri(*shape, k=int(k), dtype=bool))
    return lax.select(mask, m, Array(np.zeros((), m.dtype)))


def tril(m, k=0):
    """``m`` with the entries above the ``k``-th diagonal zeroed (last two axes)."""
    return _tri_select("tril", m, k, upper=False)


def triu(m, k=0):
    """``m`` with the entries below the ``k``-th diagonal zeroed (last two axes)."""
    return _tri_select("triu", m, k, upper=True)


def kron(a, b):
    """The Kronecker product: blocks ``a[i, j] * b`` (NumPy's ``kron``, any ranks)."""
    a, b = unary_operand(a), unary_operand(b)
    nd = max(len(a.shape), len(b.shape))
    sa = (1,) * (nd - len(a.shape)) + tuple(a.shape)
    sb = (1,) * (nd - len(b.shape)) + tuple(b.shape)
    a2 = lax.reshape(a, [d for s in sa for d in (s, 1)])
    b2 = lax.reshape(b, [d for s in sb for d in (1, s)])
    return lax.reshape(a2 * b2, [x * y for x, y in zip(sa, sb)])


def cross(a, b, axisa=-1, axisb=-1, axisc=-1, axis=None):
    """The cross product of 3-vectors along the given axes (broadcast over the others)."""
    from funcgrad.numpy._shape import moveaxis, stack

    a, b = unary_operand(a), unary_operand(b)
    if axis is not None:
        axisa = axisb = axisc = axis
    a = moveaxis(a, axisa, -1)
    b = moveaxis(b, axisb, -1)
    if a.shape[-1] != 3 or b.shape[-1] != 3:
        raise ValueError(
            f"fnp.cross: vectors must have 3 components, got shapes {tuple(a.shape)} and "
            f"{tuple(b.shape)} along the chosen axes (2-vectors are deprecated in NumPy)"
        )

    def comp(x, i):
        nd = len(x.shape)
        return lax.reshape(lax.slice_in_dim(x, i, i + 1, axis=nd - 1), tuple(x.shape[:-1]))

    a0, a1, a2 = (comp(a, i) for i in range(3))
    b0, b1, b2 = (comp(b, i) for i in range(3))
    c = stack([a1 * b2 - a2 * b1, a2 * b0 - a0 * b2, a0 * b1 - a1 * b0], axis=-1)
    return moveaxis(c, -1, axisc)
