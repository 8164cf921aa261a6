"""pool: 2x2/stride-2 max pooling forward + backward at the seed CNN's first pooling shape."""

import numpy as np

import funcgrad as fg
from benchmarks import Variant, assert_close
from funcgrad import lax

NAME = "pool"
DESCRIPTION = "2x2/stride-2 max pooling forward + backward, (64, 32, 32, 32) NCHW, float32"
SHAPE = (64, 32, 32, 32)


def max_pool(x):
    return lax.reduce_window(x, -np.inf, lax.max, (1, 1, 2, 2), (1, 1, 2, 2), "VALID")


def funcgrad_pool(x, g):
    out, f_vjp = fg.vjp(max_pool, x)
    return out, f_vjp(g)[0]


_OFFSETS = ((0, 0), (0, 1), (1, 0), (1, 1))


def numpy_pool(x, g):
    """np.maximum over the four window views; the gradient goes to each window's first arg-max."""
    views = [x[:, :, i::2, j::2] for i, j in _OFFSETS]
    out = np.maximum(views[0], views[1])
    np.maximum(out, views[2], out=out)
    np.maximum(out, views[3], out=out)
    dx = np.empty_like(x)
    taken = None
    for k, ((i, j), v) in enumerate(zip(_OFFSETS, views)):
        if k == 3:
            mask = np.logical_not(taken, out=taken)  # the last view wins where none did before
        else:
            mask = v == out
            if taken is None:
                taken = mask.copy()
            else:
                np.greater(mask, taken, out=mask)  # mask & ~taken: a tie goes to the first view
                taken |= mask
        np.multiply(g, mask, out=dx[:, :, i::2, j::2])
    return out, dx


def setup():
    rng = np.random.default_rng(0)
    x = rng.standard_normal(SHAPE).astype(np.float32)
    x[:, :, :4, :4] = np.round(x[:, :, :4, :4])  # some ties: each must go to one element
    g = rng.standard_normal((SHAPE[0], SHAPE[1], SHAPE[2] // 2, SHAPE[3] // 2)).astype(np.float32)
    fx, fgr = fg.numpy.asarray(x), fg.numpy.asarray(g)
    # Both variants read the same buffers: where an 8 MB operand lands in memory (huge pages or
    # not) moves these strided loops by up to 1.8x, which would otherwise swamp the comparison.
    x, g = np.asarray(fx), np.asarray(fgr)
    out, dx = funcgrad_pool(fx, fgr)
    np_out, np_dx = numpy_pool(x, g)
    assert np.asarray(dx).dtype == np.float32
    assert_close((out, dx), (np_out, np_dx), NAME, rtol=0, atol=0)
    return {
        "numpy": Variant(lambda: numpy_pool(x, g)),
        "funcgrad": Variant(lambda: funcgrad_pool(fx, fgr), target_ratio=1.2),
    }
