"""nn layers: PyTorch's layer classes (names, arguments, default initialisations) as Modules.

Each layer declares its parameters and buffers in ``__init__`` and computes with
``nn.functional`` in ``forward``; input shapes are checked with errors that name the layer by
its attribute path in the model (``conv2 (Conv2d(16, 32, ...)): expected ...``).
"""

from __future__ import annotations

import functools
import math
from typing import Any

import numpy as np

import funcgrad.numpy as fnp
from funcgrad.nn import functional as F
from funcgrad.nn import init
from funcgrad.nn.module import Buffer, Module, Parameter

__all__ = [
    "ELU",
    "GELU",
    "AdaptiveAvgPool2d",
    "AvgPool2d",
    "BatchNorm1d",
    "BatchNorm2d",
    "Conv1d",
    "Conv2d",
    "ConvTranspose2d",
    "Dropout",
    "Embedding",
    "Flatten",
    "Identity",
    "LayerNorm",
    "LeakyReLU",
    "Linear",
    "LogSoftmax",
    "MaxPool2d",
    "ReLU",
    "SiLU",
    "Sigmoid",
    "Softmax",
    "Softplus",
    "Tanh",
]

_WEIGHT_INIT = functools.partial(init.kaiming_uniform, a=math.sqrt(5))


def _bias_init(fan_in):
    bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0.0
    return functools.partial(init.uniform, a=-bound, b=bound)


def _shape_error(layer: Module, expected: str, x: Any) -> ValueError:
    return ValueError(f"{layer._name()}: expected input of shape {expected}, got {tuple(x.shape)}")


class Identity(Module):
    """Returns its input."""

    def forward(self, x):
        return x


class Linear(Module):
    """y = x W^T + b, ``W`` of shape ``(out_features, in_features)`` (any leading axes on x).

    Initialised as PyTorch: W ~ kaiming_uniform(a=sqrt(5)) = U(+-1/sqrt(in)), b ~ U(+-1/sqrt(in)).
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True, dtype: Any = None):
        super().__init__()
        self.in_features, self.out_features = int(in_features), int(out_features)
        self.weight = Parameter(_WEIGHT_INIT, (out_features, in_features), dtype)
        self.has_bias = bool(bias)
        if bias:
            self.bias = Parameter(_bias_init(in_features), (out_features,), dtype)

    def forward(self, x):
        if x.ndim < 1 or x.shape[-1] != self.in_features:
            raise _shape_error(self, f"(..., {self.in_features})", x)
        return F.linear(x, self.weight, self.bias if self.has_bias else None)

    def extra_repr(self):
        return (
            f"in_features={self.in_features}, out_features={self.out_features}, "
            f"bias={self.has_bias}"
        )


class _ConvNd(Module):
    _n = 2
    _op = staticmethod(F.conv2d)

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: Any,
        stride: Any = 1,
        padding: Any = 0,
        dilation: Any = 1,
        groups: int = 1,
        bias: bool = True,
        padding_mode: str = "zeros",
        dtype: Any = None,
    ):
        super().__init__()
        name, n = type(self).__name__, self._n
        if in_channels % groups or out_channels % groups:
            raise ValueError(
                f"{name}: in_channels {in_channels} and out_channels {out_channels} must be "
                f"divisible by groups {groups}"
            )
        if padding_mode != "zeros":
            raise NotImplementedError(f"{name}: only padding_mode='zeros' is supported")
        self.in_channels, self.out_channels, self.groups = in_channels, out_channels, groups
        self.kernel_size = F._tuple(kernel_size, n, name, "kernel_size")
        self.stride = F._tuple(stride, n, name, "stride")
        self.dilation = F._tuple(dilation, n, name, "dilation")
        self.padding = (
            padding if isinstance(padding, str) else F._tuple(padding, n, name, "padding")
        )
        if isinstance(padding, str):
            F._conv_padding(name, padding, n, self.kernel_size, self.dilation, self.stride)
        shape = (out_channels, in_channels // groups) + self.kernel_size
        self.weight = Parameter(_WEIGHT_INIT, shape, dtype)
        self.has_bias = bool(bias)
        if bias:
            fan_in = in_channels // groups * math.prod(self.kernel_size)
            self.bias = Parameter(_bias_init(fan_in), (out_channels,), dtype)

    def forward(self, x):
        n = self._n
        if x.ndim not in (n + 1, n + 2) or x.shape[-n - 1] != self.in_channels:
            sp = ", ".join("LHWD"[i] if n == 1 else "HWD"[i] for i in range(n))
            raise _shape_error(
                self, f"(N, {self.in_channels}, {sp}) or ({self.in_channels}, {sp})", x
            )
        return type(self)._op(
            x,
            self.weight,
            self.bias if self.has_bias else None,
            self.stride,
            self.padding,
            self.dilation,
            self.groups,
        )

    def extra_repr(self):
        s = f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}"
        if self.stride != (1,) * self._n:
            s += f", stride={self.stride}"
        if self.padding != (0,) * self._n:
            s += f", padding={self.padding}"
        if self.dilation != (1,) * self._n:
            s += f", dilation={self.dilation}"
        if self.groups != 1:
            s += f", groups={self.groups}"
        return s + ("" if self.has_bias else ", bias=False")


class Conv1d(_ConvNd):
    """1-d convolution over ``(N, C, L)`` (or ``(C, L)``); arguments as ``Conv2d``."""

    _n = 1
    _op = staticmethod(F.conv1d)


class Conv2d(_ConvNd):
    """2-d convolution over ``(N, C, H, W)`` (or ``(C, H, W)``), PyTorch's ``nn.Conv2d``.

    Args: in_channels, out_channels, kernel_size, stride=1, padding=0 (int, pair, 'same' or
    'valid'), dilation=1, groups=1, bias=True. Weight ``(out, in // groups, kH, kW)``.

    Example:
      >>> conv = nn.Conv2d(3, 32, kernel_size=3, padding=1)
    """


class ConvTranspose2d(Module):
    """Transposed 2-d convolution (PyTorch's ``nn.ConvTranspose2d``).

    The weight has shape ``(in, out // groups, kH, kW)``; the output size is
    ``(H - 1) stride - 2 padding + dilation (k - 1) + output_padding + 1``.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: Any,
        stride: Any = 1,
        padding: Any = 0,
        output_padding: Any = 0,
        groups: int = 1,
        bias: bool = True,
        dilation: Any = 1,
        dtype: Any = None,
    ):
        super().__init__()
        name = "ConvTranspose2d"
        if in_channels % groups or out_channels % groups:
            raise ValueError(
                f"{name}: in_channels {in_channels} and out_channels {out_channels} must be "
                f"divisible by groups {groups}"
            )
        self.in_channels, self.out_channels, self.groups = in_channels, out_channels, groups
        self.kernel_size = F._tuple(kernel_size, 2, name, "kernel_size")
        self.stride = F._tuple(stride, 2, name, "stride")
        self.padding = F._tuple(padding, 2, name, "padding")
        self.output_padding = F._tuple(output_padding, 2, name, "output_padding")
        self.dilation = F._tuple(dilation, 2, name, "dilation")
        shape = (in_channels, out_channels // groups) + self.kernel_size
        self.weight = Parameter(_WEIGHT_INIT, shape, dtype)
        self.has_bias = bool(bias)
        if bias:  # PyTorch's fan_in of this weight: dim 1 times the kernel
            fan_in = out_channels // groups * math.prod(self.kernel_size)
            self.bias = Parameter(_bias_init(fan_in), (out_channels,), dtype)

    def forward(self, x):
        if x.ndim not in (3, 4) or x.shape[-3] != self.in_channels:
            raise _shape_error(
                self, f"(N, {self.in_channels}, H, W) or ({self.in_channels}, H, W)", x
            )
        return F.conv_transpose2d(
            x,
            self.weight,
            self.bias if self.has_bias else None,
            self.stride,
            self.padding,
            self.output_padding,
            self.groups,
            self.dilation,
        )

    def extra_repr(self):
        return (
            f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
            f"stride={self.stride}, padding={self.padding}"
        )


def _check_pool_input(layer, x):
    if x.ndim not in (3, 4):
        raise _shape_error(layer, "(N, C, H, W) or (C, H, W)", x)


class MaxPool2d(Module):
    """Max pooling (PyTorch's ``nn.MaxPool2d``): kernel_size, stride=kernel_size, padding=0,
    dilation=1, ceil_mode=False."""

    def __init__(self, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False):
        super().__init__()
        self.kernel_size, self.stride, self.padding = kernel_size, stride, padding
        self.dilation, self.ceil_mode = dilation, ceil_mode

    def forward(self, x):
        _check_pool_input(self, x)
        return F.max_pool2d(
            x, self.kernel_size, self.stride, self.padding, self.dilation, self.ceil_mode
        )

    def extra_repr(self):
        return f"kernel_size={self.kernel_size}, stride={self.stride or self.kernel_size}"


class AvgPool2d(Module):
    """Average pooling (PyTorch's ``nn.AvgPool2d``) with ``count_include_pad`` and
    ``divisor_override``."""

    def __init__(
        self,
        kernel_size,
        stride=None,
        padding=0,
        ceil_mode=False,
        count_include_pad=True,
        divisor_override=None,
    ):
        super().__init__()
        self.kernel_size, self.stride, self.padding = kernel_size, stride, padding
        self.ceil_mode, self.count_include_pad = ceil_mode, count_include_pad
        self.divisor_override = divisor_override

    def forward(self, x):
        _check_pool_input(self, x)
        return F.avg_pool2d(
            x,
            self.kernel_size,
            self.stride,
            self.padding,
            self.ceil_mode,
            self.count_include_pad,
            self.divisor_override,
        )

    def extra_repr(self):
        return f"kernel_size={self.kernel_size}, stride={self.stride or self.kernel_size}"


class AdaptiveAvgPool2d(Module):
    """Average pooling to a fixed output size (``AdaptiveAvgPool2d(1)`` is global pooling)."""

    def __init__(self, output_size):
        super().__init__()
        self.output_size = output_size

    def forward(self, x):
        _check_pool_input(self, x)
        return F.adaptive_avg_pool2d(x, self.output_size)

    def extra_repr(self):
        return f"output_size={self.output_size}"


class Flatten(Module):
    """Flattens axes ``start_dim..end_dim`` into one (default: all but the batch axis)."""

    def __init__(self, start_dim: int = 1, end_dim: int = -1):
        super().__init__()
        self.start_dim, self.end_dim = start_dim, end_dim

    def forward(self, x):
        nd = max(x.ndim, 1)
        s, e = self.start_dim % nd, self.end_dim % nd
        if x.ndim == 0 or s > e or self.start_dim >= nd or self.start_dim < -nd:
            raise _shape_error(self, f"at least {max(self.start_dim, self.end_dim) + 1} dims", x)
        return fnp.reshape(x, tuple(x.shape[:s]) + (-1,) + tuple(x.shape[e + 1 :]))

    def extra_repr(self):
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"


class Dropout(Module):
    """Zeroes elements with probability ``p`` in training (``apply(..., train=True, rng=key)``),
    scaling the rest by ``1 / (1 - p)``; the identity in evaluation."""

    def __init__(self, p: float = 0.5):
        super().__init__()
        if not 0 <= p <= 1:
            raise ValueError(f"Dropout: p must be in [0, 1], got {p}")
        self.p = p

    def forward(self, x):
        if not self.training or self.p == 0:
            return x
        return F.dropout(x, self.p, True, key=self.make_rng() if self.p < 1 else None)

    def extra_repr(self):
        return f"p={self.p}"


class _BatchNorm(Module):
    _ranks: tuple[int, ...] = ()
    _expected = ""

    def __init__(
        self,
        num_features: int,
        eps: float = 1e-5,
        momentum: float | None = 0.1,
        affine: bool = True,
        track_running_stats: bool = True,
        dtype: Any = None,
    ):
        super().__init__()
        self.num_features, self.eps, self.momentum = num_features, eps, momentum
        self.affine, self.track_running_stats = affine, track_running_stats
        if affine:
            self.weight = Parameter(init.ones, (num_features,), dtype)
            self.bias = Parameter(init.zeros, (num_features,), dtype)
        if track_running_stats:
            self.running_mean = Buffer(init.zeros, (num_features,), dtype)
            self.running_var = Buffer(init.ones, (num_features,), dtype)
            self.num_batches_tracked = Buffer(np.zeros((), np.int64))

    def forward(self, x):
        if x.ndim not in self._ranks or x.shape[1] != self.num_features:
            raise _shape_error(self, self._expected.format(C=self.num_features), x)
        w, b = (self.weight, self.bias) if self.affine else (None, None)
        if not self.track_running_stats:
            return F.batch_norm(x, None, None, w, b, True, 0.0, self.eps)
        if not self.training:
            return F.batch_norm(x, self.running_mean, self.running_var, w, b, False, 0.0, self.eps)
        rm, count = self.running_mean, self.num_batches_tracked + 1
        momentum = self.momentum
        if momentum is None:  # cumulative moving average
            momentum = (1.0 / count).astype(rm.dtype)
        y, new_mean, new_var = F.batch_norm(
            x, rm, self.running_var, w, b, True, momentum, self.eps, return_stats=True
        )
        self.running_mean, self.running_var = new_mean, new_var
        self.num_batches_tracked = count
        return y

    def extra_repr(self):
        return f"{self.num_features}, eps={self.eps}, momentum={self.momentum}"


class BatchNorm1d(_BatchNorm):
    """Batch normalisation over ``(N, C)`` or ``(N, C, L)`` (PyTorch's ``nn.BatchNorm1d``).

    Training normalises with batch statistics and updates ``running_mean``/``running_var``
    (unbiased) and ``num_batches_tracked`` in the returned state; evaluation uses the running
    statistics. ``momentum=None`` is the cumulative average.
    """

    _ranks = (2, 3)
    _expected = "(N, {C}) or (N, {C}, L)"


class BatchNorm2d(_BatchNorm):
    """Batch normalisation over ``(N, C, H, W)`` (PyTorch's ``nn.BatchNorm2d``); see
    ``BatchNorm1d``.

    Example:
      >>> y, state = model.apply(params, x, state=state, train=True)
    """

    _ranks = (4,)
    _expected = "(N, {C}, H, W)"


class LayerNorm(Module):
    """Normalises the trailing ``normalized_shape`` axes, with elementwise weight and bias."""

    def __init__(
        self,
        normalized_shape: Any,
        eps: float = 1e-5,
        elementwise_affine: bool = True,
        bias: bool = True,
        dtype: Any = None,
    ):
        super().__init__()
        ns = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
        self.normalized_shape, self.eps = ns, eps
        self.elementwise_affine, self.has_bias = elementwise_affine, elementwise_affine and bias
        if elementwise_affine:
            self.weight = Parameter(init.ones, ns, dtype)
            if bias:
                self.bias = Parameter(init.zeros, ns, dtype)

    def forward(self, x):
        ns = self.normalized_shape
        if x.ndim < len(ns) or tuple(x.shape[x.ndim - len(ns) :]) != ns:
            raise _shape_error(self, f"(..., {', '.join(map(str, ns))})", x)
        w = self.weight if self.elementwise_affine else None
        b = self.bias if self.has_bias else None
        return F.layer_norm(x, ns, w, b, self.eps)

    def extra_repr(self):
        return f"{self.normalized_shape}, eps={self.eps}"


class Embedding(Module):
    """A lookup table of ``num_embeddings`` vectors, initialised N(0, 1) (the ``padding_idx`` row
    zero and never updated)."""

    def __init__(
        self, num_embeddings: int, embedding_dim: int, padding_idx: int | None = None, dtype=None
    ):
        super().__init__()
        self.num_embeddings, self.embedding_dim = num_embeddings, embedding_dim
        if padding_idx is not None and padding_idx < 0:
            padding_idx += num_embeddings
        self.padding_idx = padding_idx

        def init_fn(key, shape, dtype):
            w = init.normal(key, shape, dtype)
            return w if padding_idx is None else w.at[padding_idx].set(0)

        self.weight = Parameter(init_fn, (num_embeddings, embedding_dim), dtype)

    def forward(self, x):
        x = fnp.asarray(x)
        if not np.issubdtype(x.dtype, np.integer):
            raise TypeError(f"{self._name()}: indices must have an integer dtype, got {x.dtype}")
        return F.embedding(x, self.weight, self.padding_idx)

    def extra_repr(self):
        return f"{self.num_embeddings}, {self.embedding_dim}"


# ----------------------------------------------------------------------------- activations


def _activation(name, fn, doc, **defaults):
    """A Module wrapping ``fn`` with the keyword options ``defaults`` (PyTorch's arguments)."""

    def __init__(self, *args, **kwargs):
        Module.__init__(self)
        opts = dict(defaults)
        for k, v in zip(defaults, args):
            opts[k] = v
        for k, v in kwargs.items():
            if k not in defaults:
                raise TypeError(f"{name}: unexpected argument {k!r}")
            opts[k] = v
        self.options = opts

    def forward(self, x):
        return fn(x, **self.options)

    def extra_repr(self):
        return ", ".join(f"{k}={v}" for k, v in self.options.items())

    return type(
        name,
        (Module,),
        {"__init__": __init__, "forward": forward, "extra_repr": extra_repr, "__doc__": doc},
    )


ReLU = _activation("ReLU", F.relu, "max(x, 0).")
LeakyReLU = _activation("LeakyReLU", F.leaky_relu, "Leaky ReLU.", negative_slope=0.01)
ELU = _activation("ELU", F.elu, "ELU.", alpha=1.0)
GELU = _activation("GELU", F.gelu, "GELU (approximate='none' or 'tanh').", approximate="none")
SiLU = _activation("SiLU", F.silu, "x * sigmoid(x).")
Sigmoid = _activation("Sigmoid", F.sigmoid, "Logistic sigmoid.")
Tanh = _activation("Tanh", F.tanh, "Hyperbolic tangent.")
Softplus = _activation("Softplus", F.softplus, "Softplus.", beta=1.0, threshold=20.0)
Softmax = _activation("Softmax", F.softmax, "Softmax along dim.", dim=-1)
LogSoftmax = _activation("LogSoftmax", F.log_softmax, "Log-softmax along dim.", dim=-1)
for _cls in (ReLU, LeakyReLU, ELU, GELU, SiLU, Sigmoid, Tanh, Softplus, Softmax, LogSoftmax):
    _cls.__module__ = __name__
