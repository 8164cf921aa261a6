"""Random bits: the Threefry-2x32 block cipher as one primitive (JAX's ``threefry2x32_p``).

Threefry-2x32 with 20 rounds (Salmon et al., "Parallel random numbers: as easy as 1, 2, 3",
SC'11; the Random123 library), the counter-based generator behind ``funcgrad.random``.
"""

from __future__ import annotations

import numpy as np

from funcgrad.core.primitive import Primitive, ShapedArray
from funcgrad.transforms.grad import nondiff_primitives
from funcgrad.transforms.vmap import batch_rules, broadcasting_batch_rule

_ROTATIONS = ((13, 15, 26, 6), (17, 29, 16, 24))
_PARITY = 0x1BD11BDA  # Skein's key-schedule constant


def _rotl(xp, v, r):
    return (v << np.uint32(r)) | (v >> np.uint32(32 - r))


def _threefry2x32_impl(xp, k1, k2, x1, x2):
    k1, k2, x1, x2 = (xp.asarray(a, dtype=np.uint32) for a in (k1, k2, x1, x2))
    shape = np.broadcast_shapes(k1.shape, k2.shape, x1.shape, x2.shape)
    ks = (k1, k2, k1 ^ k2 ^ np.uint32(_PARITY))
    # uint32 arithmetic wraps around modulo 2**32, which is what the cipher wants.
    with np.errstate(over="ignore"):
        v1 = xp.array(xp.broadcast_to(x1 + ks[0], shape))
        v2 = xp.array(xp.broadcast_to(x2 + ks[1], shape))
        for i in range(5):  # 5 x 4 rounds, with a key injection after every 4
            for r in _ROTATIONS[i % 2]:
                v1 += v2
                v2 = _rotl(xp, v2, r)
                v2 ^= v1
            v1 += ks[(i + 1) % 3]
            v2 += ks[(i + 2) % 3] + np.uint32(i + 1)
    if not shape:
        return [v1[()], v2[()]]
    return [v1, v2]


def _threefry2x32_abstract_eval(k1, k2, x1, x2):
    for a in (k1, k2, x1, x2):
        if not isinstance(a, ShapedArray) or a.dtype != np.uint32:
            raise TypeError(
                f"threefry2x32: arguments must be uint32 arrays, got "
                f"{[getattr(a, 'dtype', type(a).__name__) for a in (k1, k2, x1, x2)]}"
            )
    shape = np.broadcast_shapes(k1.shape, k2.shape, x1.shape, x2.shape)
    return [ShapedArray(shape, np.dtype(np.uint32))] * 2


threefry2x32_p = Primitive("threefry2x32", multiple_results=True)
threefry2x32_p.def_impl(_threefry2x32_impl)
threefry2x32_p.def_abstract_eval(_threefry2x32_abstract_eval)
nondiff_primitives.add(threefry2x32_p)
_threefry2x32_broadcast = broadcasting_batch_rule(threefry2x32_p)


def _threefry2x32_batch(args, dims):
    # Elementwise over its four operands (NumPy broadcasting); both outputs are batched at 0.
    outs, _ = _threefry2x32_broadcast(args, dims)
    return outs, [0, 0]


batch_rules[threefry2x32_p] = _threefry2x32_batch


def threefry2x32(k1, k2, x1, x2):
    """Encrypts counters ``(x1, x2)`` under key ``(k1, k2)``: two uint32 arrays, broadcast.

    Example:
      >>> lax.threefry2x32(*[np.uint32(0)] * 4)   # the Random123 known-answer test
      [Array(1797259609, dtype=uint32), Array(2579123966, dtype=uint32)]
    """
    return threefry2x32_p.bind(k1, k2, x1, x2)
