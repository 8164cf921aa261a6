"""Test matrices for the linear-algebra tests: random, well separated, Hermitian."""

from __future__ import annotations

import numpy as np


def rand(shape, seed=0, dtype=np.float64):
    rng = np.random.default_rng(seed)
    a = rng.standard_normal(shape)
    if np.dtype(dtype).kind == "c":
        a = a + 1j * rng.standard_normal(shape)
    return a.astype(dtype)


def separated(shape, seed=0, dtype=np.float64):
    """A matrix batch whose eigen- and singular values are well separated (and nonzero)."""
    m, n = shape[-2:]
    d = np.zeros((m, n))
    k = min(m, n)
    d[range(k), range(k)] = 3.0 * np.arange(1, k + 1)
    return (0.3 * rand(shape, seed, dtype) + d).astype(dtype)


def hermitian(shape, seed=0, dtype=np.float64):
    a = separated(shape, seed, dtype)
    return (a + np.conj(np.swapaxes(a, -1, -2))) / 2
