"""conv: forward + backward of two 3x3 conv layers (3->32->64, ReLU between), batch 64, 32x32."""

import numpy as np
from numpy.lib.stride_tricks import as_strided

import funcgrad as fg
import funcgrad.numpy as fnp
from benchmarks import Variant, assert_close
from funcgrad import lax

NAME = "conv"
DESCRIPTION = (
    "two 3x3/pad-1 convs 3->32->64 with ReLU, (64, 3, 32, 32) NCHW, float32: output, input and "
    "both kernel gradients; vs NumPy im2col (as_strided + one matmul) with a 9-step col2im"
)
BATCH, SIZE, CHANNELS, K = 64, 32, (3, 32, 64), 3


def model(x, w1, w2):
    h = fnp.maximum(lax.conv(x, w1, (1, 1), ((1, 1), (1, 1))), 0)
    return lax.conv(h, w2, (1, 1), ((1, 1), (1, 1)))


def funcgrad_step(x, w1, w2, g):
    out, f_vjp = fg.vjp(model, x, w1, w2)
    return (out, *f_vjp(g))


def _im2col(x):
    """(C*K*K, N*H*W) columns of ``x`` (N, C, H, W) for a KxK stride-1 pad-1 conv."""
    n, c, h, w = x.shape
    xp = np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)))
    s = xp.strides
    view = as_strided(xp, (c, K, K, n, h, w), (s[1], s[2], s[3], s[0], s[2], s[3]))
    return view.reshape(c * K * K, n * h * w)


def _conv_fwd(x, w):
    cols = _im2col(x)
    out = w.reshape(w.shape[0], -1) @ cols  # (O, N*H*W)
    n, _, h, wd = x.shape
    return out.reshape(w.shape[0], n, h, wd).transpose(1, 0, 2, 3), cols


def _conv_bwd(g, x_shape, w, cols, need_dx=True):
    n, c, h, wd = x_shape
    o = w.shape[0]
    g_mat = g.transpose(1, 0, 2, 3).reshape(o, -1)
    dw = (g_mat @ cols.T).reshape(w.shape)
    if not need_dx:
        return None, dw
    dcols = (w.reshape(o, -1).T @ g_mat).reshape(c, K, K, n, h, wd)
    dx = np.zeros((n, c, h + 2, wd + 2), g.dtype)
    for i in range(K):  # col2im: one strided add per kernel position
        for j in range(K):
            dx[:, :, i : i + h, j : j + wd] += dcols[:, i, j].transpose(1, 0, 2, 3)
    return dx[:, :, 1:-1, 1:-1], dw


def numpy_step(x, w1, w2, g):
    a, cols1 = _conv_fwd(x, w1)
    h = np.maximum(a, 0)
    out, cols2 = _conv_fwd(h, w2)
    dh, dw2 = _conv_bwd(g, h.shape, w2, cols2)
    da = dh * (a > 0)
    dx, dw1 = _conv_bwd(da, x.shape, w1, cols1)
    return out, dx, dw1, dw2


def setup():
    rng = np.random.default_rng(0)
    c0, c1, c2 = CHANNELS
    x = rng.standard_normal((BATCH, c0, SIZE, SIZE)).astype(np.float32)
    w1 = (rng.standard_normal((c1, c0, K, K)) / np.sqrt(c0 * K * K)).astype(np.float32)
    w2 = (rng.standard_normal((c2, c1, K, K)) / np.sqrt(c1 * K * K)).astype(np.float32)
    g = rng.standard_normal((BATCH, c2, SIZE, SIZE)).astype(np.float32)
    fx, fw1, fw2, fgr = map(fnp.asarray, (x, w1, w2, g))
    got = funcgrad_step(fx, fw1, fw2, fgr)
    want = numpy_step(x, w1, w2, g)
    assert all(np.asarray(r).dtype == np.float32 for r in got)
    assert_close(tuple(got), want, NAME, rtol=1e-3, atol=1e-3)
    return {
        "numpy": Variant(lambda: numpy_step(x, w1, w2, g)),
        "funcgrad": Variant(lambda: funcgrad_step(fx, fw1, fw2, fgr), target_ratio=1.2),
    }
