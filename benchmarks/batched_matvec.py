"""batched_matvec: 1000 matrix-vector products of 64x64 float32 matrices, vmap(dot) vs matmul."""

import numpy as np

import funcgrad as fg
import funcgrad.numpy as fnp
from benchmarks import Variant, assert_close

NAME = "batched_matvec"
DESCRIPTION = "1000 batched 64x64 matrix-vector products, float32: vmap(fnp.dot) vs np.matmul"
BATCH, N = 1000, 64

batched_dot = fg.vmap(fnp.dot)


def numpy_matvec(a, v):
    return np.matmul(a, v[:, :, None])[:, :, 0]


def setup():
    rng = np.random.default_rng(0)
    a = rng.standard_normal((BATCH, N, N)).astype(np.float32)
    v = rng.standard_normal((BATCH, N)).astype(np.float32)
    fa, fv = fnp.asarray(a), fnp.asarray(v)
    out = batched_dot(fa, fv)
    assert out.dtype == np.float32 and out.shape == (BATCH, N)
    assert_close(out, numpy_matvec(a, v), NAME, rtol=1e-4, atol=1e-4)
    return {
        "numpy": Variant(lambda: numpy_matvec(a, v)),
        "funcgrad": Variant(lambda: batched_dot(fa, fv), target_ratio=1.1),
    }
