"""Hypothesis strategies: shapes by kind, and values drawn inside each op's domain."""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from tests.op_table import DOMAINS, Op


def shapes_for(op: Op, min_side: int = 0, max_side: int = 4, max_dims: int = 3):
    kind = op.shapes
    n = op.nargs
    if kind == "broadcast":
        return hnp.mutually_broadcastable_shapes(
            num_shapes=n, min_dims=0, max_dims=max_dims, min_side=min_side, max_side=max_side
        ).map(lambda b: b.input_shapes)
    if kind in ("same", "nonempty", "rank1+", "nonempty_rank1+", "same_rank1+"):
        lo = 1 if "nonempty" in kind else min_side
        min_dims = 1 if "rank1+" in kind else 0
        return hnp.array_shapes(
            min_dims=min_dims, max_dims=max_dims, min_side=lo, max_side=max_side
        ).map(lambda s: (s,) * n)
    if kind == "rank1_n2":
        return hnp.array_shapes(
            min_dims=1, max_dims=max_dims, min_side=2, max_side=max(max_side, 2)
        ).map(lambda s: (s,) * n)
    if kind == "even_last":
        return st.tuples(
            hnp.array_shapes(
                min_dims=0, max_dims=max_dims - 1, min_side=min_side, max_side=max_side
            ),
            st.integers(1, 2),
        ).map(lambda t: (t[0] + (2 * t[1],),))
    if kind in ("rank2+", "nonempty_rank2+", "rank2+_last2"):  # >= 2 axes (fft2 and friends)
        lo = max(min_side, 1) if "nonempty" in kind else min_side
        shapes = hnp.array_shapes(
            min_dims=2, max_dims=max(max_dims, 2), min_side=lo, max_side=max_side
        )
        if kind == "rank2+_last2":  # ... and a last axis of at least 2 (irfft2's default n)
            shapes = st.tuples(shapes, st.integers(2, 4)).map(lambda t: t[0][:-1] + (t[1],))
        return shapes.map(lambda s: (s,) * n)
    if kind == "matmul":
        return st.tuples(
            st.integers(1, 3),
            st.integers(1, 3),
            st.integers(1, 3),
            st.sampled_from([(), (2,), (1, 2)]),
        ).map(lambda t: (t[3] + (t[0], t[1]), (t[1], t[2])))
    if kind == "matmul2d":
        return st.tuples(st.integers(1, 3), st.integers(1, 3), st.integers(1, 3)).map(
            lambda t: ((t[0], t[1]), (t[1], t[2]))
        )
    if kind in ("rows3", "rows3_same"):  # a leading axis of 3 rows (indexing tests)
        return hnp.array_shapes(
            min_dims=0, max_dims=max_dims - 1, min_side=1, max_side=max_side
        ).map(lambda s: ((3,) + s,) * n)
    if kind == "last2":  # a trailing (window) axis of at least 2
        return st.tuples(
            hnp.array_shapes(
                min_dims=0, max_dims=max_dims - 1, min_side=min_side, max_side=max_side
            ),
            st.integers(2, 4),
        ).map(lambda t: (t[0] + (t[1],),) * n)
    if kind == "conv1d":  # x (N, C, W), w (O, C, K) with K <= W
        return st.tuples(
            st.integers(1, 2),
            st.integers(1, 2),
            st.integers(2, 5),
            st.integers(1, 2),
            st.integers(1, 2),
        ).map(lambda t: ((t[0], t[1], t[2]), (t[3], t[1], min(t[4], t[2]))))
    if kind == "square":
        return st.tuples(st.integers(1, 3), st.sampled_from([(), (2,)])).map(
            lambda t: (t[1] + (t[0], t[0]),)
        )
    if kind in ("solve", "solve2d"):
        batch = [()] if kind == "solve2d" else [(), (2,)]
        return st.tuples(st.integers(1, 3), st.integers(1, 2), st.sampled_from(batch)).map(
            lambda t: (t[2] + (t[0], t[0]), t[2] + (t[0], t[1]))
        )
    if kind == "matrix_mn":  # (linalg) an (m, n) matrix, m and n 1..3, with or without a batch
        lo = max(1, min_side)
        hi = max(lo, min(3, max_side))
        return st.tuples(st.integers(lo, hi), st.integers(lo, hi), st.sampled_from([(), (2,)])).map(
            lambda t: (t[2] + (t[0], t[1]),) * n
        )
    # numpy edges: 1-d vectors of independent lengths; a last axis of 3 (cross); an (m, n)
    # observation matrix of m variables and n >= 2 observations (cov, corrcoef).
    if kind == "vecs":
        return st.tuples(*[st.integers(1, max(max_side, 1) + 1) for _ in range(n)]).map(
            lambda t: tuple((k,) for k in t)
        )
    if kind == "last3":
        return hnp.array_shapes(
            min_dims=0, max_dims=max_dims - 1, min_side=min_side, max_side=max_side
        ).map(lambda s: (s + (3,),) * n)
    if kind == "obs2d":
        return st.tuples(st.integers(1, 3), st.integers(2, max(max_side, 2) + 1)).map(
            lambda t: (t,) * n
        )
    raise ValueError(kind)


def _real_values(op: Op, i: int, shape, rng) -> np.ndarray:
    """Real values for argument ``i`` drawn from its domain, kept away from ``op.avoid``."""
    lo, hi = DOMAINS[op.domain_of(i)]
    x = rng.uniform(lo, hi, size=shape)
    if "distinct" in op.avoid and x.size:  # well-separated values (no ties to sort)
        x = (rng.permutation(x.size).reshape(x.shape) * 0.3 - 0.3 * x.size / 2).astype(float)
    for p in op.avoid:
        if p in ("tie", "distinct"):
            continue
        near = np.abs(x - p) < 0.1
        x = np.where(near, p + np.where(x >= p, 0.1, -0.1) + 0.05 * np.sign(x - p + 1e-12), x)
    return x


def values(op: Op, shapes, dtype, seed: int):
    """Values for ``op``'s arguments. For a complex ``dtype`` the real and imaginary parts are
    both drawn from the argument's domain (each kept away from ``op.avoid``)."""
    rng = np.random.default_rng(seed)
    is_complex = np.issubdtype(np.dtype(dtype), np.complexfloating)
    out = []
    for i, shape in enumerate(shapes):
        x = _real_values(op, i, shape, rng)
        if is_complex:
            x = x + 1j * _real_values(op, i, shape, rng)
        out.append(x.astype(dtype))
    if "tie" in op.avoid and len(out) == 2 and out[0].shape == out[1].shape:
        x, y = out
        # complex values compare by their real parts first (NumPy's order): keep those apart too
        close = (np.abs(x - y) < 0.1) | (np.abs(x.real - y.real) < 0.1)
        out[1] = np.where(close, y + 0.25, y).astype(dtype)
    return out
