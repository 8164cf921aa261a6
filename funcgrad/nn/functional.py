"""nn.functional: PyTorch's stateless layer ops and activations on funcgrad arrays.

Every function is composed from ``funcgrad.numpy`` and ``lax``, so it differentiates, batches
and traces. Layouts are PyTorch's (``NCHW`` inputs, ``OIHW`` kernels); inputs without the batch
axis are accepted wherever PyTorch accepts them, which is what ``vmap`` over examples sees.
"""

from __future__ import annotations

import functools
import math
from typing import Any

import numpy as np

import funcgrad as fg
import funcgrad.numpy as fnp
from funcgrad import lax
from funcgrad.lax.dot import dot_general_p

__all__ = [
    "adaptive_avg_pool2d",
    "avg_pool2d",
    "batch_norm",
    "conv1d",
    "conv2d",
    "conv_transpose2d",
    "dropout",
    "elu",
    "embedding",
    "gelu",
    "layer_norm",
    "leaky_relu",
    "linear",
    "log_sigmoid",
    "log_softmax",
    "max_pool2d",
    "one_hot",
    "relu",
    "relu6",
    "sigmoid",
    "silu",
    "softmax",
    "softplus",
    "tanh",
]


def _tuple(v: Any, n: int, op: str, name: str) -> tuple[int, ...]:
    t = (v,) * n if isinstance(v, (int, np.integer)) else tuple(v)
    if len(t) != n or not all(isinstance(i, (int, np.integer)) for i in t):
        raise ValueError(f"{op}: {name} must be an int or {n} ints, got {v!r}")
    return tuple(int(i) for i in t)


def _is_concrete(x: Any) -> bool:
    """True for values known now (Arrays, NumPy arrays, Python numbers), False for tracers."""
    return isinstance(x, (fg.Array, np.ndarray, np.generic, int, float, list, tuple))


# ----------------------------------------------------------------------------- activations


def relu(x: Any) -> Any:
    """max(x, 0), with relu'(0) = 0 and relu(nan) = nan as in PyTorch.

    Computed as ``x * (x > 0)``: a select (``where``) with a data-dependent mask runs several
    times slower in NumPy. Unlike PyTorch, ``relu(-inf)`` is therefore nan.
    """
    return x * (x > 0)


def relu6(x: Any) -> Any:
    """min(max(x, 0), 6)."""
    return fnp.where(x <= 0, 0, fnp.where(x >= 6, 6, x))


def leaky_relu(x: Any, negative_slope: float = 0.01) -> Any:
    """x for x > 0, else ``negative_slope * x`` (the slope is the derivative at 0, as PyTorch)."""
    # x times a 0/1 mask mapped to {slope, 1}: no select, which is slow on random masks
    return x * ((x > 0).astype(x.dtype) * (1 - negative_slope) + negative_slope)


def elu(x: Any, alpha: float = 1.0) -> Any:
    """x for x > 0, else ``alpha * (exp(x) - 1)``."""
    neg = fnp.where(x > 0, 0, x)  # exp never sees a large x: no inf * 0 in the gradient
    return fnp.where(x > 0, x, alpha * fnp.expm1(neg))


def gelu(x: Any, approximate: str = "none") -> Any:
    """x * Phi(x) (``approximate='none'``, the erf form) or PyTorch's tanh approximation."""
    if approximate == "tanh":
        inner = math.sqrt(2.0 / math.pi) * (x + 0.044715 * x * x * x)
        return 0.5 * x * (1 + fnp.tanh(inner))
    if approximate != "none":
        raise ValueError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")
    return 0.5 * x * (1 + fg.scipy.special.erf(x * (1 / math.sqrt(2.0))))


def sigmoid(x: Any) -> Any:
    """1 / (1 + exp(-x)), without overflow at extreme x."""
    return lax.logistic(x)


def log_sigmoid(x: Any) -> Any:
    """log(sigmoid(x)) = -softplus(-x), stable at both ends."""
    return fnp.where(x < 0, x, 0) - fnp.log1p(fnp.exp(-fnp.abs(x)))


def silu(x: Any) -> Any:
    """x * sigmoid(x) (swish)."""
    return x * lax.logistic(x)


def tanh(x: Any) -> Any:
    """Hyperbolic tangent."""
    return fnp.tanh(x)


def softplus(x: Any, beta: float = 1.0, threshold: float = 20.0) -> Any:
    """log(1 + exp(beta x)) / beta, and x itself where ``beta * x > threshold`` (PyTorch)."""
    bx = x * beta
    # log1p(exp(bx)) = max(bx, 0) + log1p(exp(-|bx|)): never overflows
    soft = (fnp.where(bx > 0, bx, 0) + fnp.log1p(fnp.exp(-fnp.abs(bx)))) / beta
    return fnp.where(bx > threshold, x, soft)


def softmax(x: Any, dim: int = -1) -> Any:
    """exp(x) / sum(exp(x)) along ``dim``, shifted by the max (no overflow); one primitive."""
    return lax.softmax(x, dim)


def log_softmax(x: Any, dim: int = -1) -> Any:
    """x - logsumexp(x) along ``dim``, shifted by the max (no overflow, no log(0)); one
    primitive (``lax.log_softmax``), whose backward is ``g - softmax(x) * sum(g)``."""
    return lax.log_softmax(x, dim)


# ----------------------------------------------------------------------------- linear and conv


@functools.lru_cache(maxsize=16)
def _linear_dims(ndim: int) -> tuple:
    return (((ndim - 1,), (1,)), ((), ()))


def linear(x: Any, weight: Any, bias: Any = None) -> Any:
    """x @ weight.T + bias, with ``weight`` of shape ``(out_features, in_features)``."""
    if x.ndim >= 1 and weight.ndim == 2 and x.shape[-1] == weight.shape[1]:
        # Contract with weight's axis 1 directly rather than through ``weight.T``: the gradient
        # of a transpose is a transposed (Fortran-ordered) view, and adding that to the C-ordered
        # weight in the optimizer's update is a strided loop, several times slower.
        y = dot_general_p.bind(
            x, weight, dimension_numbers=_linear_dims(x.ndim), preferred_element_type=None
        )
    else:
        y = fnp.matmul(x, weight.T)  # mismatched shapes: matmul's error message
    return y if bias is None else y + bias


def _conv_padding(op, padding, n, kernel, dilation, stride):
    if isinstance(padding, str):
        p = padding.lower()
        if p == "valid":
            return ((0, 0),) * n
        if p != "same":
            raise ValueError(
                f"{op}: padding must be an int, ints, 'same' or 'valid', got {padding!r}"
            )
        if any(s != 1 for s in stride):
            raise ValueError(f"{op}: padding='same' needs stride 1 (as in PyTorch), got {stride}")
        pads = []
        for k, d in zip(kernel, dilation):
            total = d * (k - 1)
            pads.append((total // 2, total - total // 2))
        return tuple(pads)
    return tuple((p, p) for p in _tuple(padding, n, op, "padding"))


def _conv(op, n, x, weight, bias, stride, padding, dilation, groups):
    if x.ndim not in (n + 1, n + 2) or weight.ndim != n + 2:
        raise ValueError(
            f"{op}: expected an input of rank {n + 1} or {n + 2} and a weight of rank {n + 2}, "
            f"got shapes {tuple(x.shape)} and {tuple(weight.shape)}"
        )
    unbatched = x.ndim == n + 1
    if unbatched:
        x = x[None]
    stride = _tuple(stride, n, op, "stride")
    dilation = _tuple(dilation, n, op, "dilation")
    pads = _conv_padding(op, padding, n, weight.shape[2:], dilation, stride)
    if x.shape[1] != weight.shape[1] * groups:
        raise ValueError(
            f"{op}: input of shape {tuple(x.shape)} has {x.shape[1]} channels but the weight of "
            f"shape {tuple(weight.shape)} with groups={groups} expects {weight.shape[1] * groups}"
        )
    y = lax.conv_general_dilated(
        x, weight, stride, pads, rhs_dilation=dilation, feature_group_count=groups
    )
    if bias is not None:
        y = y + bias.reshape((-1,) + (1,) * n)
    return y[0] if unbatched else y


def conv1d(x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1) -> Any:
    """1-d convolution: ``x`` ``(N, C, L)`` or ``(C, L)``, ``weight`` ``(O, C // groups, K)``."""
    return _conv("conv1d", 1, x, weight, bias, stride, padding, dilation, groups)


def conv2d(x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1) -> Any:
    """2-d convolution (PyTorch's ``F.conv2d``; a cross-correlation).

    Args:
      x: ``(N, C, H, W)`` or ``(C, H, W)``.
      weight: ``(O, C // groups, kH, kW)``.
      bias: ``(O,)`` or None.
      stride, dilation: an int or two.
      padding: an int, two ints, ``'same'`` (stride 1) or ``'valid'``.
      groups: split the channels into groups (``groups=C`` is depthwise).

    Example:
      >>> nn.functional.conv2d(fnp.ones((1, 3, 8, 8)), fnp.ones((16, 3, 3, 3)), padding=1).shape
      (1, 16, 8, 8)
    """
    return _conv("conv2d", 2, x, weight, bias, stride, padding, dilation, groups)


def conv_transpose2d(
    x, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1
) -> Any:
    """Transposed 2-d convolution (the gradient of ``conv2d``), PyTorch's layouts and sizes.

    ``weight`` has shape ``(C_in, C_out // groups, kH, kW)``; the output size is
    ``(H - 1) * stride - 2 * padding + dilation * (k - 1) + output_padding + 1``.
    """
    op = "conv_transpose2d"
    if x.ndim not in (3, 4) or weight.ndim != 4:
        raise ValueError(
            f"{op}: expected an input of rank 3 or 4 and a weight of rank 4, got shapes "
            f"{tuple(x.shape)} and {tuple(weight.shape)}"
        )
    unbatched = x.ndim == 3
    if unbatched:
        x = x[None]
    stride = _tuple(stride, 2, op, "stride")
    dilation = _tuple(dilation, 2, op, "dilation")
    padding = _tuple(padding, 2, op, "padding")
    output_padding = _tuple(output_padding, 2, op, "output_padding")
    cin, cout_g, kh, kw = weight.shape
    if x.shape[1] != cin or cin % groups:
        raise ValueError(
            f"{op}: input of shape {tuple(x.shape)} needs {cin} channels (divisible by "
            f"groups={groups}) for the weight of shape {tuple(weight.shape)}"
        )
    # (G * Ig, Og, k, k) -> (G * Og, Ig, k, k), spatially flipped: the equivalent forward kernel
    w = weight.reshape(groups, cin // groups, cout_g, kh, kw).transpose(0, 2, 1, 3, 4)
    w = w.reshape(groups * cout_g, cin // groups, kh, kw)[:, :, ::-1, ::-1]
    pads = tuple(
        (d * (k - 1) - p, d * (k - 1) - p + op_)
        for k, d, p, op_ in zip((kh, kw), dilation, padding, output_padding)
    )
    y = lax.conv_general_dilated(
        x, w, (1, 1), pads, lhs_dilation=stride, rhs_dilation=dilation, feature_group_count=groups
    )
    if bias is not None:
        y = y + bias.reshape(-1, 1, 1)
    return y[0] if unbatched else y


# ----------------------------------------------------------------------------- pooling


def _pool_geometry(op, x, kernel_size, stride, padding, dilation, ceil_mode):
    if x.ndim not in (3, 4):
        raise ValueError(f"{op}: expected an input of rank 3 or 4, got shape {tuple(x.shape)}")
    k = _tuple(kernel_size, 2, op, "kernel_size")
    s = k if stride is None or stride == () else _tuple(stride, 2, op, "stride")
    p = _tuple(padding, 2, op, "padding")
    d = _tuple(dilation, 2, op, "dilation")
    if any(2 * pi > ki for pi, ki in zip(p, k)):
        raise ValueError(f"{op}: padding {p} must be at most half the kernel size {k}")
    outs, pads = [], []
    for size, ki, si, pi, di in zip(x.shape[-2:], k, s, p, d):
        span = di * (ki - 1) + 1
        num = size + 2 * pi - span
        if num < 0:
            raise ValueError(
                f"{op}: the window (size {k}, dilation {d}) is larger than the padded input "
                f"of shape {tuple(x.shape)}"
            )
        out = (-(-num // si) if ceil_mode else num // si) + 1
        if ceil_mode and (out - 1) * si >= size + pi:
            out -= 1
        # hi covers the last window exactly; it is > -stride, so 0 keeps the same output size
        pads.append((pi, max((out - 1) * si + span - size - pi, 0)))
        outs.append(out)
    return k, s, p, d, tuple(pads), tuple(outs)


def max_pool2d(x, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False) -> Any:
    """Max pooling over the last two axes (PyTorch's ``F.max_pool2d``; stride defaults to the
    kernel size, padding counts as -inf). Gradients go to the first max of each window."""
    k, s, _, d, pads, _ = _pool_geometry(
        "max_pool2d", x, kernel_size, stride, padding, dilation, ceil_mode
    )
    lead = x.ndim - 2
    return lax.reduce_window(
        x,
        -np.inf,
        "max",
        (1,) * lead + k,
        (1,) * lead + s,
        ((0, 0),) * lead + pads,
        window_dilation=(1,) * lead + d,
    )


def _avg_counts(size, k, s, p, out, include_pad):
    starts = np.arange(out) * s - p
    ends = np.minimum(starts + k, size + p)
    if include_pad:
        return (ends - starts).astype(np.float64)
    return (np.minimum(ends, size) - np.maximum(starts, 0)).astype(np.float64)


def avg_pool2d(
    x,
    kernel_size,
    stride=None,
    padding=0,
    ceil_mode=False,
    count_include_pad=True,
    divisor_override=None,
) -> Any:
    """Average pooling over the last two axes, with PyTorch's divisors (``count_include_pad``
    counts the zero padding but not the extra ``ceil_mode`` windows' overhang)."""
    op = "avg_pool2d"
    if not np.issubdtype(x.dtype, np.floating):
        raise TypeError(f"{op}: needs a floating-point input, got {x.dtype}")
    k, s, p, _, pads, outs = _pool_geometry(op, x, kernel_size, stride, padding, 1, ceil_mode)
    lead = x.ndim - 2
    total = lax.reduce_window(
        x, 0.0, "add", (1,) * lead + k, (1,) * lead + s, ((0, 0),) * lead + pads
    )
    if divisor_override:
        return total / divisor_override
    ch, cw = (
        _avg_counts(size, ki, si, pi, o, count_include_pad)
        for size, ki, si, pi, o in zip(x.shape[-2:], k, s, p, outs)
    )
    div = np.outer(ch, cw)
    if div.size and div.min() == div.max():
        return total / float(div.flat[0])
    return total / fnp.asarray(div.astype(x.dtype))


def _adaptive_matrix(size, out, dtype):
    m = np.zeros((out, size), np.float64)
    for i in range(out):
        lo, hi = (i * size) // out, -(-((i + 1) * size) // out)
        m[i, lo:hi] = 1.0 / (hi - lo)
    return fnp.asarray(m.astype(dtype))


def adaptive_avg_pool2d(x, output_size) -> Any:
    """Average pooling to a fixed ``output_size`` (int or pair; None keeps that axis), with
    PyTorch's bins ``[floor(i L / out), ceil((i + 1) L / out))``."""
    if x.ndim not in (3, 4):
        raise ValueError(
            f"adaptive_avg_pool2d: expected an input of rank 3 or 4, got shape {tuple(x.shape)}"
        )
    if isinstance(output_size, (int, np.integer)) or output_size is None:
        output_size = (output_size, output_size)
    oh, ow = (x.shape[-2 + i] if o is None else int(o) for i, o in enumerate(output_size))
    h, w = x.shape[-2:]
    if (oh, ow) == (1, 1):
        return fnp.mean(x, axis=(-2, -1), keepdims=True)
    if h % oh == 0 and w % ow == 0:
        return avg_pool2d(x, (h // oh, w // ow))
    y = fnp.matmul(_adaptive_matrix(h, oh, x.dtype), x)
    return fnp.matmul(y, _adaptive_matrix(w, ow, x.dtype).T)


# ----------------------------------------------------------------------------- regularisation


def dropout(x: Any, p: float = 0.5, training: bool = True, *, key: Any = None) -> Any:
    """Zeroes each element with probability ``p`` and scales the rest by ``1 / (1 - p)``.

    Unlike PyTorch, the randomness is explicit: ``key`` is needed when ``training`` and ``p > 0``.
    """
    if not 0 <= p <= 1:
        raise ValueError(f"dropout: p must be in [0, 1], got {p}")
    if not training or p == 0:
        return x
    if p == 1:
        return fnp.zeros_like(x)
    if key is None:
        raise ValueError("dropout: training with p > 0 needs a key (key=fg.random.key(...))")
    keep = fg.random.bernoulli(key, 1.0 - p, tuple(x.shape))
    return x * (keep.astype(x.dtype) * (1.0 / (1.0 - p)))  # a product, as PyTorch's mask


def _bn_shape(x):
    return (1, -1) + (1,) * (x.ndim - 2)


def batch_norm(
    x,
    running_mean=None,
    running_var=None,
    weight=None,
    bias=None,
    training=False,
    momentum=0.1,
    eps=1e-5,
    *,
    return_stats=False,
) -> Any:
    """Batch normalisation over every axis but the channel axis 1 (PyTorch's ``F.batch_norm``).

    In training (or without running statistics) it normalises with the batch mean and biased
    variance; otherwise with the running statistics. PyTorch updates the running statistics in
    place; here ``return_stats=True`` returns ``(y, new_running_mean, new_running_var)``, updated
    as ``(1 - momentum) * old + momentum * batch`` with the unbiased batch variance.
    """
    if x.ndim < 2:
        raise ValueError(f"batch_norm: expected an input of rank >= 2, got shape {tuple(x.shape)}")
    shape = _bn_shape(x)
    use_batch = training or running_mean is None
    if use_batch:
        axes = (0,) + tuple(range(2, x.ndim))
        n = x.size // x.shape[1]
        if n <= 1 and training:
            raise ValueError(
                f"batch_norm: training needs more than one value per channel, got input shape "
                f"{tuple(x.shape)}"
            )
        mean = fnp.mean(x, axis=axes, keepdims=True)
        centred = x - mean
        var = fnp.mean(centred * centred, axis=axes, keepdims=True)
        y = centred * lax.rsqrt(var + eps)
    else:
        y = (x - running_mean.reshape(shape)) * lax.rsqrt(running_var.reshape(shape) + eps)
    if weight is not None:
        y = y * weight.reshape(shape)
    if bias is not None:
        y = y + bias.reshape(shape)
    if not return_stats:
        return y
    if not (training and running_mean is not None):
        return y, running_mean, running_var
    m = fg.stop_gradient(mean.reshape(-1))
    v = fg.stop_gradient(var.reshape(-1)) * (n / max(n - 1, 1))
    new_mean = (1 - momentum) * running_mean + momentum * m.astype(running_mean.dtype)
    new_var = (1 - momentum) * running_var + momentum * v.astype(running_var.dtype)
    return y, new_mean, new_var


def layer_norm(x, normalized_shape, weight=None, bias=None, eps=1e-5) -> Any:
    """Normalises over the trailing ``normalized_shape`` axes (biased variance), then scales."""
    ns = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
    if tuple(x.shape[x.ndim - len(ns) :]) != ns or len(ns) > x.ndim:
        raise ValueError(
            f"layer_norm: input of shape {tuple(x.shape)} does not end in normalized_shape {ns}"
        )
    axes = tuple(range(x.ndim - len(ns), x.ndim))
    mean = fnp.mean(x, axis=axes, keepdims=True)
    centred = x - mean
    var = fnp.mean(centred * centred, axis=axes, keepdims=True)
    y = centred * lax.rsqrt(var + eps)
    if weight is not None:
        y = y * weight
    if bias is not None:
        y = y + bias
    return y


# ----------------------------------------------------------------------------- indices


def _check_indices(op, x, num, what="index"):
    if not np.issubdtype(x.dtype, np.integer):
        raise TypeError(f"{op}: {what}s must have an integer dtype, got {x.dtype}")
    if _is_concrete(x):
        arr = np.asarray(x)
        if arr.size and (arr.min() < 0 or arr.max() >= num):
            raise ValueError(
                f"{op}: {what}s must be in [0, {num - 1}], got values in "
                f"[{arr.min()}, {arr.max()}] (dtype {arr.dtype})"
            )


def embedding(x, weight, padding_idx=None) -> Any:
    """Rows of ``weight`` at the integer indices ``x``: shape ``x.shape + (embedding_dim,)``.

    The row at ``padding_idx`` gets no gradient (as in PyTorch).
    """
    x = fnp.asarray(x)
    _check_indices("embedding", x, weight.shape[0])
    out = fnp.take(weight, x, axis=0)
    if padding_idx is not None:
        out = fnp.where((x == padding_idx)[..., None], fg.stop_gradient(out), out)
    return out


def one_hot(x, num_classes: int = -1) -> Any:
    """Integer labels as one-hot int64 vectors (``num_classes=-1``: ``max(x) + 1``)."""
    x = fnp.asarray(x)
    if num_classes < 0:
        if not _is_concrete(x):
            raise ValueError("one_hot: give num_classes when the labels are traced")
        num_classes = int(np.asarray(x).max()) + 1 if x.size else 0
    _check_indices("one_hot", x, num_classes, "label")
    return (x[..., None] == fnp.arange(num_classes)).astype(fnp.int64)
