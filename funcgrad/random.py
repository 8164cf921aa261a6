"""Functional pseudo-random numbers, as ``jax.random``: explicit keys, ``split``, no global state.

A key is a ``uint32`` array of shape ``(2,)``. Every sampler is a pure function of its key, shape
and dtype (Threefry-2x32 in counter mode, with JAX's partitionable counter layout), so keys pass
through ``grad``, ``vmap`` and ``jit`` like any other array. Never reuse a key for two samples:
``split`` it.

Example:
  >>> key = fg.random.key(0)
  >>> key, sub = fg.random.split(key)
  >>> x = fg.random.normal(sub, (3,))
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from funcgrad import lax
from funcgrad.core import backend
from funcgrad.core.array import Array, ArrayBase
from funcgrad.core.dtypes import default_float
from funcgrad.lax.random_bits import threefry2x32
from funcgrad.lax.sort import sort_key_val

__all__ = [
    "PRNGKey",
    "bernoulli",
    "bits",
    "categorical",
    "choice",
    "exponential",
    "fold_in",
    "gumbel",
    "key",
    "key_data",
    "normal",
    "permutation",
    "randint",
    "split",
    "truncated_normal",
    "uniform",
]

_UINT = {8: np.uint8, 16: np.uint16, 32: np.uint32, 64: np.uint64}

# --------------------------------------------------------------------------------------------
# Keys


def key(seed: int | Any) -> Array:
    """A PRNG key from an integer seed: ``uint32[2]`` holding the seed's 64 bits (JAX's layout).

    Args:
      seed: a Python int or an integer scalar array; negative and 64-bit seeds are allowed.

    Returns:
      An ``Array`` of shape ``(2,)`` and dtype ``uint32``. Unlike ``jax.random.key``, this is a raw
      key array (what ``jax.random.PRNGKey`` returns); both names give the same thing here.

    Example:
      >>> fg.random.key(42)
      Array([ 0, 42], dtype=uint32)
    """
    if isinstance(seed, (bool, np.bool_)) or not isinstance(seed, (int, np.integer, ArrayBase)):
        if not (isinstance(seed, np.ndarray) and seed.dtype.kind in "iu" and seed.shape == ()):
            raise TypeError(
                f"random.key: the seed must be an integer, got {type(seed).__name__} {seed!r}"
            )
    if isinstance(seed, ArrayBase):
        if seed.shape != () or seed.dtype.kind not in "iu":
            got = f"{seed.dtype}{list(seed.shape)}"
            raise TypeError(f"random.key: the seed must be an integer scalar, got {got}")
        seed64 = lax.convert_element_type(seed, np.int64)
        hi = lax.convert_element_type(lax.shift_right(seed64, np.int64(32)), np.uint32)
        lo = lax.convert_element_type(seed64, np.uint32)
        return lax.concatenate([lax.reshape(hi, (1,)), lax.reshape(lo, (1,))], 0)
    s = int(seed)
    if not -(2**63) <= s < 2**64:
        raise ValueError(f"random.key: the seed {s} does not fit in 64 bits")
    s %= 2**64
    return Array(backend.on_default_device(np.array([s >> 32, s & 0xFFFFFFFF], dtype=np.uint32)))


PRNGKey = key


def key_data(keys: Any) -> Any:
    """The raw ``uint32`` data of a key (the key itself: funcgrad keys are raw arrays)."""
    return _check_key("key_data", keys, batched=True)


def _check_key(name: str, k: Any, batched: bool = False) -> Any:
    if isinstance(k, np.ndarray):
        k = Array(k.copy())
    shape = getattr(k, "shape", None)
    dtype = getattr(k, "dtype", None)
    ok = isinstance(k, ArrayBase) and dtype == np.uint32
    ok = ok and (shape[-1:] == (2,) if batched else shape == (2,))
    if not ok:
        got = f"{dtype}{list(shape)}" if shape is not None else f"{type(k).__name__} {k!r}"
        raise TypeError(
            f"random.{name}: expected a PRNG key (a uint32 array of shape (2,)), got {got}; "
            "create one with fg.random.key(seed) and split it with fg.random.split(key)"
        )
    return k


def _halves(k):
    """The two uint32 words of a key, as scalars."""
    w1 = lax.reshape(lax.slice(k, (0,), (1,)), ())
    w2 = lax.reshape(lax.slice(k, (1,), (2,)), ())
    return w1, w2


def _counters(shape: tuple[int, ...]):
    """(hi, lo) words of ``arange(prod(shape)).reshape(shape)`` as 64-bit counters."""
    size = math.prod(shape)
    if size < 2**32:
        return Array(np.uint32(0)), Array(np.arange(size, dtype=np.uint32).reshape(shape))
    iota = np.arange(size, dtype=np.uint64).reshape(shape)
    return Array((iota >> np.uint64(32)).astype(np.uint32)), Array(iota.astype(np.uint32))


def _threefry_shape(k, shape):
    w1, w2 = _halves(k)
    hi, lo = _counters(shape)
    return threefry2x32(w1, w2, hi, lo)


def _shape(name: str, shape: Any) -> tuple[int, ...]:
    if shape is None:
        return ()
    if isinstance(shape, (int, np.integer)):
        shape = (shape,)
    try:
        out = tuple(int(d) for d in shape)
    except (TypeError, ValueError):
        raise TypeError(f"random.{name}: shape must be a tuple of ints, got {shape!r}") from None
    if any(d < 0 for d in out):
        raise ValueError(f"random.{name}: shape {out} has a negative dimension")
    return out


def split(key: Any, num: int | Sequence[int] = 2) -> Any:
    """Splits a key into ``num`` new, independent keys (a ``(num, 2)`` uint32 array).

    ``num`` may be a shape tuple, giving keys of shape ``(*num, 2)``. The input key should not
    be used again afterwards.

    Example:
      >>> key, subkey = fg.random.split(fg.random.key(0))
    """
    k = _check_key("split", key)
    shape = _shape("split", num)
    b1, b2 = _threefry_shape(k, shape)
    nd = len(shape)
    return lax.concatenate([lax.expand_dims(b1, (nd,)), lax.expand_dims(b2, (nd,))], nd)


def fold_in(key: Any, data: int) -> Any:
    """A new key from ``key`` and an integer ``data`` (e.g. a step or a device index).

    ``data`` is taken modulo 2**32, as in JAX.

    Example:
      >>> step_key = fg.random.fold_in(fg.random.key(0), 17)
    """
    k = _check_key("fold_in", key)
    if isinstance(data, ArrayBase):
        if data.shape != () or data.dtype.kind not in "iu":
            raise TypeError(f"random.fold_in: data must be an integer scalar, got {data.dtype}")
        lo = lax.convert_element_type(data, np.uint32)
    elif isinstance(data, (int, np.integer)) and not isinstance(data, bool):
        lo = Array(np.uint32(int(data) % 2**32))
    else:
        raise TypeError(f"random.fold_in: data must be an integer, got {type(data).__name__}")
    w1, w2 = _halves(k)
    b1, b2 = threefry2x32(w1, w2, Array(np.uint32(0)), lo)
    return lax.concatenate([lax.reshape(b1, (1,)), lax.reshape(b2, (1,))], 0)


def _random_bits(k, bit_width: int, shape: tuple[int, ...]):
    b1, b2 = _threefry_shape(k, shape)
    if bit_width == 64:
        hi = lax.convert_element_type(b1, np.uint64)
        return lax.bitwise_or(
            lax.shift_left(hi, np.uint64(32)), lax.convert_element_type(b2, np.uint64)
        )
    out = lax.bitwise_xor(b1, b2)
    return out if bit_width == 32 else lax.convert_element_type(out, _UINT[bit_width])


def bits(key: Any, shape: Sequence[int] = (), dtype=np.uint32) -> Any:
    """Uniform random bits: an unsigned integer array of ``shape`` (uint8/16/32/64).

    Example:
      >>> fg.random.bits(fg.random.key(0), (2,)).dtype
      dtype('uint32')
    """
    k = _check_key("bits", key)
    dtype = np.dtype(dtype)
    if dtype.kind != "u":
        raise TypeError(f"random.bits: dtype must be an unsigned integer type, got {dtype}")
    return _random_bits(k, dtype.itemsize * 8, _shape("bits", shape))


# --------------------------------------------------------------------------------------------
# Continuous distributions


def _float_dtype(name: str, dtype) -> np.dtype:
    dtype = default_float() if dtype is None else np.dtype(dtype)
    if dtype.kind != "f":
        raise TypeError(f"random.{name}: dtype must be a float dtype, got {dtype}")
    return dtype


def _as_dtype(v, dtype):
    if isinstance(v, ArrayBase):
        return lax.convert_element_type(v, dtype)
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        return float(v)  # weakly typed: keeps ``dtype``
    return Array(np.asarray(v, dtype=dtype))


def _check_params(name, shape, *params):
    """Parameters (bounds, probabilities) must broadcast to the requested ``shape``."""
    shapes = [tuple(np.shape(p)) if not hasattr(p, "shape") else tuple(p.shape) for p in params]
    try:
        ok = np.broadcast_shapes(shape, *shapes) == shape
    except ValueError:
        ok = False
    if not ok:
        raise ValueError(
            f"random.{name}: parameters of shapes {shapes} do not broadcast to the requested "
            f"shape {shape}"
        )


def _fit_shape(x, shape):
    return x if tuple(x.shape) == shape else lax.broadcast_to(x, shape)


def _uniform(k, shape, dtype, minval, maxval, name="uniform"):
    _check_params(name, shape, minval, maxval)
    info = np.finfo(dtype)
    nbits, nmant = info.bits, info.nmant
    raw = _random_bits(k, nbits, shape)
    # JAX's mantissa trick, computed exactly: the top nmant bits over 2**nmant, in [0, 1).
    mant = lax.shift_right(raw, _UINT[nbits](nbits - nmant))
    floats = lax.mul(lax.convert_element_type(mant, dtype), dtype.type(2.0**-nmant))
    minval, maxval = _as_dtype(minval, dtype), _as_dtype(maxval, dtype)
    out = floats * (maxval - minval) + minval
    out = (
        lax.max(minval, out) if isinstance(minval, ArrayBase) else lax.max(out, dtype.type(minval))
    )
    return _fit_shape(out, shape)


def uniform(key: Any, shape: Sequence[int] = (), dtype=None, minval=0.0, maxval=1.0) -> Any:
    """Samples uniformly from ``[minval, maxval)``.

    Args:
      key: a PRNG key.
      shape: the output shape (``minval``/``maxval`` broadcast to it).
      dtype: a float dtype (default float32, ``fg.config.default_float_dtype``).
      minval, maxval: bounds; differentiable when given as arrays.

    Example:
      >>> fg.random.uniform(fg.random.key(0), (2, 3), minval=-1.0, maxval=1.0).shape
      (2, 3)
    """
    k = _check_key("uniform", key)
    return _uniform(k, _shape("uniform", shape), _float_dtype("uniform", dtype), minval, maxval)


def normal(key: Any, shape: Sequence[int] = (), dtype=None) -> Any:
    """Samples the standard normal distribution (inverse-CDF of a uniform, as JAX).

    Example:
      >>> z = fg.random.normal(fg.random.key(0), (1000,))   # mean ~0, std ~1
    """
    k = _check_key("normal", key)
    dtype = _float_dtype("normal", dtype)
    lo = np.nextafter(dtype.type(-1.0), dtype.type(0.0))
    u = _uniform(k, _shape("normal", shape), dtype, Array(lo), 1.0)
    return lax.erf_inv(u) * dtype.type(np.sqrt(2.0))


def truncated_normal(key: Any, lower, upper, shape: Sequence[int] | None = None, dtype=None) -> Any:
    """Samples a standard normal truncated to ``[lower, upper]`` (inverse-CDF, as JAX).

    ``shape`` defaults to the broadcast shape of ``lower`` and ``upper``; results lie strictly
    inside the bounds when the bounds are concrete.

    Example:
      >>> x = fg.random.truncated_normal(fg.random.key(0), -2.0, 2.0, (100,))
    """
    k = _check_key("truncated_normal", key)
    dtype = _float_dtype("truncated_normal", dtype)
    if shape is None:
        shape = np.broadcast_shapes(np.shape(lower), np.shape(upper))
    shape = _shape("truncated_normal", shape)
    sqrt2 = dtype.type(np.sqrt(2.0))
    lo, hi = _as_array(lower, dtype), _as_array(upper, dtype)
    a, b = lax.erf(lo / sqrt2), lax.erf(hi / sqrt2)
    out = lax.erf_inv(_uniform(k, shape, dtype, a, b, "truncated_normal")) * sqrt2
    lo, hi = lax.stop_gradient(lo), lax.stop_gradient(hi)
    if type(lo) is Array and type(hi) is Array:  # concrete: keep strictly inside the bounds
        lo = Array(np.nextafter(np.asarray(lo), dtype.type(np.inf)))
        hi = Array(np.nextafter(np.asarray(hi), dtype.type(-np.inf)))
    return lax.clamp(lo, out, hi)


def _as_array(v, dtype):
    if isinstance(v, ArrayBase):
        return lax.convert_element_type(v, dtype)
    return Array(np.asarray(v, dtype=dtype))


def gumbel(key: Any, shape: Sequence[int] = (), dtype=None) -> Any:
    """Samples the standard Gumbel distribution, ``-log(-log(U))``.

    Example:
      >>> g = fg.random.gumbel(fg.random.key(0), (3,))
    """
    k = _check_key("gumbel", key)
    dtype = _float_dtype("gumbel", dtype)
    u = _uniform(k, _shape("gumbel", shape), dtype, Array(np.finfo(dtype).tiny), 1.0)
    return -lax.log(-lax.log(u))


def exponential(key: Any, shape: Sequence[int] = (), dtype=None) -> Any:
    """Samples the standard exponential distribution (rate 1), ``-log(1 - U)``.

    Example:
      >>> e = fg.random.exponential(fg.random.key(0), (3,))
    """
    k = _check_key("exponential", key)
    dtype = _float_dtype("exponential", dtype)
    u = _uniform(k, _shape("exponential", shape), dtype, 0.0, 1.0)
    return -lax.log1p(-u)


# --------------------------------------------------------------------------------------------
# Discrete distributions


def bernoulli(key: Any, p=0.5, shape: Sequence[int] | None = None) -> Any:
    """Samples booleans that are True with probability ``p`` (broadcast to ``shape``).

    Example:
      >>> mask = fg.random.bernoulli(fg.random.key(0), 0.9, (4, 4))   # dropout-style mask
    """
    k = _check_key("bernoulli", key)
    p_dtype = getattr(p, "dtype", None)
    dtype = np.dtype(p_dtype) if p_dtype is not None and p_dtype.kind == "f" else default_float()
    shape = _shape("bernoulli", np.shape(p) if shape is None else shape)
    _check_params("bernoulli", shape, p)
    return lax.lt(_uniform(k, shape, dtype, 0.0, 1.0), _as_dtype(p, dtype))


def randint(key: Any, shape: Sequence[int], minval, maxval, dtype=np.int32) -> Any:
    """Samples integers uniformly from ``[minval, maxval)``.

    Uses two words of random bits per sample, as JAX, so the modulo bias is negligible.

    Example:
      >>> fg.random.randint(fg.random.key(0), (5,), 0, 10)   # five digits
    """
    k = _check_key("randint", key)
    dtype = np.dtype(dtype)
    if dtype.kind not in "iu":
        raise TypeError(f"random.randint: dtype must be an integer type, got {dtype}")
    shape = _shape("randint", shape)
    _check_params("randint", shape, minval, maxval)
    nbits = dtype.itemsize * 8
    udtype = np.dtype(_UINT[nbits])
    info = np.iinfo(dtype)
    with np.errstate(over="ignore"):
        minval, maxval = _int_bound(minval, info), _int_bound(maxval, info)
        # maxval above the dtype's range (e.g. 256 for uint8): the span needs one more value.
        bottom, top = max(info.min, -(2**63)), min(info.max, 2**63 - 1)
        too_big = lax.gt(maxval, top)
        lo = lax.convert_element_type(lax.clamp(bottom, minval, top), dtype)
        hi = lax.convert_element_type(lax.clamp(bottom, maxval, top), dtype)
        lo, hi = _fit_shape(lo, shape), _fit_shape(hi, shape)
        span = lax.sub(lax.convert_element_type(hi, udtype), lax.convert_element_type(lo, udtype))
        span = lax.select(lax.le(hi, lo), udtype.type(1), span)
        span = lax.select(
            lax.bitwise_and(too_big, lax.gt(hi, lo)), lax.add(span, udtype.type(1)), span
        )
        keys = split(k)
        higher = _random_bits(lax.reshape(lax.slice(keys, (0, 0), (1, 2)), (2,)), nbits, shape)
        lower = _random_bits(lax.reshape(lax.slice(keys, (1, 0), (2, 2)), (2,)), nbits, shape)
        # (higher * 2**nbits + lower) % span, without 2*nbits-bit integers.
        # (higher * 2**nbits + lower) % span, without 2*nbits-bit integers. span == 0 stands for
        # 2**nbits (the whole range); x % 0 is then x, as XLA defines it.
        zero = lax.eq(span, udtype.type(0))
        safe = lax.select(zero, udtype.type(1), span)

        def urem(x):
            return lax.select(zero, x, lax.rem(x, safe))

        mult = urem(_const_like(span, 2 ** (nbits // 2)))
        mult = urem(lax.mul(mult, mult))
        offset = urem(lax.add(lax.mul(urem(higher), mult), urem(lower)))
        return lax.add(lo, lax.convert_element_type(offset, dtype))


def _const_like(x, value):
    return lax.broadcast_to(Array(x.dtype.type(value)), tuple(x.shape))


def _int_bound(v, info):
    """An integer bound as an int64 array (clipped to int64), keeping traced values traced."""
    if isinstance(v, ArrayBase):
        if v.dtype.kind not in "iu":
            v = lax.convert_element_type(v, np.int64)
        return v
    v = np.asarray(v)
    if v.dtype.kind == "f":
        v = v.astype(np.int64)
    return Array(np.clip(v, -(2**63), 2**63 - 1).astype(np.int64))


def _shuffle(k, x, axis: int, independent: bool = False):
    """Sorts ``x`` along ``axis`` by fresh random keys, in enough rounds to make ties rare.

    The same permutation applies to every slice along ``axis`` unless ``independent``.
    """
    rounds = int(np.ceil(3 * np.log(max(1, x.size)) / np.log(np.iinfo(np.uint32).max)))
    for _ in range(rounds):
        keys = split(k)
        k = lax.reshape(lax.slice(keys, (0, 0), (1, 2)), (2,))
        sub = lax.reshape(lax.slice(keys, (1, 0), (2, 2)), (2,))
        if independent:
            sort_keys = _random_bits(sub, 32, tuple(x.shape))
        else:
            sort_keys = _random_bits(sub, 32, (x.shape[axis],))
            sort_keys = lax.broadcast_to(
                lax.reshape(sort_keys, [x.shape[axis] if i == axis else 1 for i in range(x.ndim)]),
                tuple(x.shape),
            )
        x = sort_key_val(sort_keys, x, axis)[1]
    return x


def _take(a, ind, axis: int):
    """``a`` indexed by integer array ``ind`` along ``axis`` (NumPy's ``take``)."""
    import funcgrad.numpy as fnp

    take = getattr(fnp, "take", None)
    if take is not None:
        return take(a, ind, axis=axis)
    moved = fnp.moveaxis(a, axis, 0)[ind]
    if axis == 0:
        return moved
    nd_ind = ind.ndim
    perm = (
        list(range(nd_ind, nd_ind + axis))
        + list(range(nd_ind))
        + list(range(nd_ind + axis, moved.ndim))
    )
    return lax.transpose(moved, tuple(perm))


def _normalize_axis(name, axis, ndim):
    if not -ndim <= axis < ndim:
        raise ValueError(f"random.{name}: axis {axis} is out of range for an array of rank {ndim}")
    return axis % ndim


def permutation(key: Any, x: Any, axis: int = 0, independent: bool = False) -> Any:
    """A random permutation of ``arange(x)`` (int ``x``) or of an array's entries along ``axis``.

    Args:
      key: a PRNG key.
      x: an int ``n`` (returns a permutation of ``0..n-1``, int32) or an array.
      axis: the axis to shuffle.
      independent: shuffle each slice along ``axis`` independently (integer arrays only here).

    Example:
      >>> fg.random.permutation(fg.random.key(0), 5)   # e.g. [3, 0, 4, 1, 2]
    """
    k = _check_key("permutation", key)
    if isinstance(x, (int, np.integer)) and not isinstance(x, bool):
        if x < 0:
            raise ValueError(f"random.permutation: n must be non-negative, got {x}")
        return _shuffle(k, Array(np.arange(int(x), dtype=np.int32)), 0)
    if not isinstance(x, ArrayBase):
        x = Array(np.asarray(x))
    if x.ndim == 0:
        raise TypeError("random.permutation: x must be an int or an array with at least one axis")
    axis = _normalize_axis("permutation", axis, x.ndim)
    if independent:
        if x.dtype.kind not in "biu":
            raise NotImplementedError(
                "random.permutation: independent=True is supported for integer arrays only; "
                "permute indices and gather instead"
            )
        return _shuffle(k, x, axis, independent=True)
    if x.dtype.kind in "biu":  # integers: sort them directly, no gather needed
        return _shuffle(k, x, axis)
    ind = _shuffle(k, Array(np.arange(x.shape[axis], dtype=np.int32)), 0)
    return _take(x, ind, axis)


def choice(key: Any, a: Any, shape: Sequence[int] = (), replace: bool = True, p=None, axis=0):
    """Samples from ``arange(a)`` (int ``a``) or from an array's entries along ``axis``.

    Args:
      key: a PRNG key.
      a: an int or an array.
      shape: the shape of the draws.
      replace: with replacement (default) or not (then every draw is distinct).
      p: probabilities of the entries (default uniform); need not be normalised.
      axis: the axis of ``a`` to draw from.

    Example:
      >>> fg.random.choice(fg.random.key(0), 10, (3,), replace=False)   # 3 distinct digits
    """
    k = _check_key("choice", key)
    shape = _shape("choice", shape)
    if isinstance(a, (int, np.integer)) and not isinstance(a, bool):
        n_inputs = int(a)
        arr = None
    else:
        arr = a if isinstance(a, ArrayBase) else Array(np.asarray(a))
        if arr.ndim == 0:
            raise ValueError("random.choice: a must be an int or an array with at least one axis")
        axis = _normalize_axis("choice", axis, arr.ndim)
        n_inputs = arr.shape[axis]
    n_draws = math.prod(shape)
    if n_inputs <= 0 and n_draws > 0:
        raise ValueError("random.choice: cannot draw from an empty set (a is 0 or empty)")
    if not replace and n_draws > n_inputs:
        raise ValueError(
            f"random.choice: cannot take {n_draws} draws from {n_inputs} entries without "
            "replacement; use replace=True or a smaller shape"
        )
    if p is None:
        if replace:
            ind = randint(k, shape, 0, n_inputs)
        else:
            perm = permutation(k, n_inputs)
            ind = lax.reshape(lax.slice(perm, (0,), (n_draws,)), shape)
    else:
        p = p if isinstance(p, ArrayBase) else Array(np.asarray(p, dtype=default_float()))
        if tuple(p.shape) != (n_inputs,):
            raise ValueError(
                f"random.choice: p must have shape ({n_inputs},) to match a, got {tuple(p.shape)}"
            )
        if replace:
            p_cuml = lax.cumsum(p, 0)
            total = lax.reshape(lax.slice(p_cuml, (n_inputs - 1,), (n_inputs,)), ())
            r = total * (1.0 - _uniform(k, shape, p.dtype, 0.0, 1.0))
            # searchsorted(p_cuml, r): the number of cumulative weights below each draw
            below = lax.lt(p_cuml, lax.expand_dims(r, (len(shape),)))
            ind = lax.reduce_sum(lax.convert_element_type(below, np.int32), (len(shape),))
            ind = lax.min(ind, np.int32(n_inputs - 1))
        else:
            positive = lax.gt(p, 0)
            log_p = lax.select(positive, lax.log(lax.select(positive, p, 1.0)), -np.inf)
            g = gumbel(k, (n_inputs,), p.dtype) + log_p
            order = sort_key_val(-g, Array(np.arange(n_inputs, dtype=np.int32)), 0)[1]
            ind = lax.reshape(lax.slice(order, (0,), (n_draws,)), shape)
    return ind if arr is None else _take(arr, ind, axis)


def categorical(key: Any, logits: Any, axis: int = -1, shape: Sequence[int] | None = None) -> Any:
    """Samples class indices from unnormalised log-probabilities (Gumbel-max trick).

    Args:
      key: a PRNG key.
      logits: log-probabilities up to a constant, classes along ``axis``.
      axis: the class axis.
      shape: the output shape; must end with the batch shape of ``logits`` (its shape without
        ``axis``); default that batch shape.

    Returns:
      int32 indices.

    Example:
      >>> fg.random.categorical(fg.random.key(0), fnp.log(fnp.asarray([0.2, 0.8])), shape=(5,))
    """
    k = _check_key("categorical", key)
    if not isinstance(logits, ArrayBase):
        logits = Array(np.asarray(logits, dtype=default_float()))
    if logits.ndim == 0:
        raise ValueError("random.categorical: logits must have at least one axis (the classes)")
    axis = _normalize_axis("categorical", axis, logits.ndim)
    batch_shape = tuple(d for i, d in enumerate(logits.shape) if i != axis)
    if shape is None:
        shape = batch_shape
    shape = _shape("categorical", shape)
    if shape[len(shape) - len(batch_shape) :] != batch_shape:
        raise ValueError(
            f"random.categorical: shape {shape} must end with the batch shape {batch_shape} "
            f"of logits of shape {tuple(logits.shape)} (classes on axis {axis})"
        )
    prefix = shape[: len(shape) - len(batch_shape)]
    dtype = logits.dtype if logits.dtype.kind == "f" else default_float()
    sample_shape = prefix + tuple(logits.shape)
    noise = gumbel(k, sample_shape, dtype)
    scores = noise + lax.expand_dims(logits, tuple(range(len(prefix))))
    return lax.argmax(scores, len(prefix) + axis, index_dtype=np.int32)
