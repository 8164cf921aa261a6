"""The op table: one row per operation (function, NumPy reference, arity, value domain, dtypes,
tolerance). It drives the property tests of every primitive: forward values against NumPy,
jvp and vjp against finite differences to second order, and (later) vmap and jit."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.linalg
import scipy.special as sps

import funcgrad.lax as lax
import funcgrad.numpy as fnp
import funcgrad.scipy.special as fsp

# Value domains: (low, high) of uniformly drawn values, plus values to keep away from
# (non-differentiable points) with a margin.
DOMAINS = {
    "real": (-2.0, 2.0),
    "positive": (0.2, 3.0),
    "unit": (-0.85, 0.85),
    "gt1": (1.2, 3.0),
    "small": (-1.2, 1.2),
    "prob": (0.05, 0.95),
}


def _wc(a):
    """A well-conditioned square matrix (batch) built from any square ``a``."""
    n = a.shape[-1]
    return a + (n + 2.0) * np.eye(n, dtype=a.dtype)


def _wc_f(a):
    n = a.shape[-1]
    return a + fnp.asarray((n + 2.0) * np.eye(n, dtype=a.dtype))


def _spd(a):
    n = a.shape[-1]
    return a @ np.swapaxes(a, -1, -2) + n * np.eye(n, dtype=a.dtype)


def _spd_f(a):
    n = a.shape[-1]
    return a @ fnp.swapaxes(a, -1, -2) + fnp.asarray(n * np.eye(n, dtype=a.dtype))


_IDX = np.array([2, 0, 0, 1])


@dataclass(frozen=True)
class Op:
    name: str
    fn: Callable[..., Any]
    ref: Callable[..., Any]
    nargs: int = 1
    domain: str | tuple[str, ...] = "real"
    dtypes: tuple[Any, ...] = (np.float32, np.float64)
    grad: bool = True
    avoid: tuple[float, ...] = ()  # points where the derivative jumps (kept 0.1 away)
    atol: float = 1e-6
    rtol: float = 1e-6
    grad_tol: float = 1e-5
    shapes: str = "broadcast"  # "broadcast": any broadcastable shapes; "same"; "matrix"
    kwargs: dict = field(default_factory=dict)

    def domain_of(self, i: int) -> str:
        return self.domain if isinstance(self.domain, str) else self.domain[i]


def _r(x):
    return x


OPS = [
    # unary
    Op("neg", fnp.negative, np.negative),
    Op("sin", fnp.sin, np.sin),
    Op("cos", fnp.cos, np.cos),
    Op("tan", fnp.tan, np.tan, domain="unit"),
    Op("arcsin", fnp.arcsin, np.arcsin, domain="unit"),
    Op("arccos", fnp.arccos, np.arccos, domain="unit"),
    Op("arctan", fnp.arctan, np.arctan),
    Op("sinh", fnp.sinh, np.sinh),
    Op("cosh", fnp.cosh, np.cosh),
    Op("tanh", fnp.tanh, np.tanh),
    Op("arcsinh", fnp.arcsinh, np.arcsinh),
    Op("arccosh", fnp.arccosh, np.arccosh, domain="gt1"),
    Op("arctanh", fnp.arctanh, np.arctanh, domain="unit"),
    Op("exp", fnp.exp, np.exp),
    Op("exp2", fnp.exp2, np.exp2),
    Op("expm1", fnp.expm1, np.expm1),
    Op("log", fnp.log, np.log, domain="positive"),
    Op("log1p", fnp.log1p, np.log1p, domain="positive"),
    Op("log2", fnp.log2, np.log2, domain="positive"),
    Op("log10", fnp.log10, np.log10, domain="positive"),
    Op("sqrt", fnp.sqrt, np.sqrt, domain="positive"),
    Op("cbrt", fnp.cbrt, np.cbrt, domain="positive"),
    Op("rsqrt", lax.rsqrt, lambda x: 1 / np.sqrt(x), domain="positive"),
    Op("square", fnp.square, np.square),
    Op("reciprocal", fnp.reciprocal, np.reciprocal, domain="positive"),
    Op("abs", fnp.abs, np.abs, avoid=(0.0,)),
    Op("logistic", lax.logistic, lambda x: 1 / (1 + np.exp(-x))),
    Op("integer_pow3", lambda x: x**3, lambda x: x**3),
    Op("integer_pow0", lambda x: lax.integer_pow(x, 0), lambda x: x**0),
    Op("sign", fnp.sign, np.sign, grad=False),
    Op("floor", fnp.floor, np.floor, grad=False),
    Op("ceil", fnp.ceil, np.ceil, grad=False),
    Op("round", fnp.round, np.round, grad=False),
    Op("trunc", fnp.trunc, np.trunc, grad=False),
    Op("isfinite", fnp.isfinite, np.isfinite, grad=False),
    Op("sinc", fnp.sinc, np.sinc),
    Op("deg2rad", fnp.deg2rad, np.deg2rad),
    Op("stop_gradient", lax.stop_gradient, _r, grad=False),
    # binary
    Op("add", fnp.add, np.add, 2),
    Op("subtract", fnp.subtract, np.subtract, 2),
    Op("multiply", fnp.multiply, np.multiply, 2),
    Op("divide", fnp.divide, np.divide, 2, domain=("real", "positive")),
    Op("power", fnp.power, np.power, 2, domain=("positive", "real")),
    Op("maximum", fnp.maximum, np.maximum, 2, shapes="same", avoid=("tie",)),
    Op("minimum", fnp.minimum, np.minimum, 2, shapes="same", avoid=("tie",)),
    Op("arctan2", fnp.arctan2, np.arctan2, 2, domain=("real", "positive")),
    Op("hypot", fnp.hypot, np.hypot, 2, domain=("positive", "positive")),
    Op("logaddexp", fnp.logaddexp, np.logaddexp, 2),
    Op("logaddexp2", fnp.logaddexp2, np.logaddexp2, 2),
    Op("fmod", fnp.fmod, np.fmod, 2, domain=("real", "positive"), grad=False),
    Op("mod", fnp.mod, np.mod, 2, domain=("real", "positive"), grad=False),
    Op(
        "floor_divide",
        fnp.floor_divide,
        np.floor_divide,
        2,
        domain=("real", "positive"),
        grad=False,
    ),
    Op("equal", fnp.equal, np.equal, 2, grad=False),
    Op("less", fnp.less, np.less, 2, grad=False),
    Op("greater_equal", fnp.greater_equal, np.greater_equal, 2, grad=False),
    Op(
        "where",
        lambda c, x, y: fnp.where(c > 0, x, y),
        lambda c, x, y: np.where(c > 0, x, y),
        3,
        avoid=(0.0,),
    ),
    Op(
        "clip", lambda x: fnp.clip(x, -0.5, 0.7), lambda x: np.clip(x, -0.5, 0.7), avoid=(-0.5, 0.7)
    ),
    # reductions
    Op("sum", fnp.sum, np.sum, rtol=1e-5, atol=1e-5),
    Op(
        "sum_axis0",
        lambda x: fnp.sum(x, axis=0),
        lambda x: np.sum(x, axis=0),
        shapes="rank1+",
        rtol=1e-5,
        atol=1e-5,
    ),
    Op(
        "mean_keepdims",
        lambda x: fnp.mean(x, axis=-1, keepdims=True),
        lambda x: np.mean(x, axis=-1, keepdims=True),
        shapes="rank1+",
        rtol=1e-5,
        atol=1e-5,
    ),
    Op("prod", fnp.prod, np.prod, domain="small", rtol=1e-5, atol=1e-5),
    Op("max", fnp.max, np.max, shapes="nonempty"),
    Op("min_axis", lambda x: fnp.min(x, axis=-1), lambda x: np.min(x, axis=-1), shapes="rank1+"),
    Op("var", fnp.var, np.var, shapes="nonempty", rtol=1e-5, atol=1e-5),
    Op(
        "std_ddof1",
        lambda x: fnp.std(x, axis=-1, ddof=1),
        lambda x: np.std(x, axis=-1, ddof=1),
        shapes="rank1_n2",
        rtol=1e-5,
        atol=1e-5,
    ),
    Op(
        "cumsum",
        lambda x: fnp.cumsum(x, axis=-1),
        lambda x: np.cumsum(x, axis=-1),
        shapes="rank1+",
        rtol=1e-5,
        atol=1e-5,
    ),
    Op(
        "cumprod",
        lambda x: fnp.cumprod(x, axis=-1),
        lambda x: np.cumprod(x, axis=-1),
        domain="positive",
        shapes="rank1+",
        rtol=1e-5,
        atol=1e-5,
    ),
    Op(
        "cummax",
        lambda x: lax.cummax(x, x.ndim - 1),
        lambda x: np.maximum.accumulate(x, axis=-1),
        shapes="rank1+",
    ),
    Op(
        "cummin_rev",
        lambda x: lax.cummin(x, x.ndim - 1, reverse=True),
        lambda x: np.flip(np.minimum.accumulate(np.flip(x, -1), axis=-1), -1),
        shapes="rank1+",
    ),
    Op(
        "argmax",
        lambda x: fnp.argmax(x, axis=-1),
        lambda x: np.argmax(x, axis=-1),
        shapes="nonempty_rank1+",
        grad=False,
    ),
    Op(
        "argmin",
        lambda x: fnp.argmin(x, axis=0),
        lambda x: np.argmin(x, axis=0),
        shapes="nonempty_rank1+",
        grad=False,
    ),
    Op(
        "logical",
        lambda x, y: fnp.logical_xor(fnp.logical_or(x > 0, y > 0), fnp.logical_not(x > y)),
        lambda x, y: np.logical_xor(np.logical_or(x > 0, y > 0), np.logical_not(x > y)),
        2,
        grad=False,
    ),
    Op(
        "shifts",
        lambda x: fnp.right_shift(fnp.left_shift((x * 10).astype(np.int64), 2), 1),
        lambda x: np.right_shift(np.left_shift((x * 10).astype(np.int64), 2), 1),
        grad=False,
    ),
    Op(
        "complex",
        lambda x, y: fnp.real(lax.complex(x, y) * lax.complex(y, x)),
        lambda x, y: np.real((x + 1j * y) * (y + 1j * x)),
        2,
    ),
    Op(
        "conj_imag",
        lambda x, y: fnp.imag(fnp.conj(lax.complex(x, y)) * lax.complex(x, x)),
        lambda x, y: np.imag(np.conj(x + 1j * y) * (x + 1j * x)),
        2,
    ),
    Op("all", lambda x: fnp.all(x > 0), lambda x: np.all(x > 0), grad=False),
    Op(
        "any",
        lambda x: fnp.any(x > 0, axis=-1),
        lambda x: np.any(x > 0, axis=-1),
        shapes="rank1+",
        grad=False,
    ),
    # shapes
    Op("transpose", fnp.transpose, np.transpose),
    Op("reshape_flat", lambda x: fnp.reshape(x, (-1,)), lambda x: np.reshape(x, (-1,))),
    Op("expand_squeeze", lambda x: fnp.squeeze(fnp.expand_dims(x, 0), 0), lambda x: x),
    Op(
        "broadcast_to",
        lambda x: fnp.broadcast_to(x, (2,) + x.shape),
        lambda x: np.broadcast_to(x, (2,) + x.shape),
    ),
    Op(
        "concatenate",
        lambda x, y: fnp.concatenate([x, y], axis=-1),
        lambda x, y: np.concatenate([x, y], axis=-1),
        2,
        shapes="same_rank1+",
    ),
    Op(
        "stack",
        lambda x, y: fnp.stack([x, y], axis=0),
        lambda x, y: np.stack([x, y], axis=0),
        2,
        shapes="same",
    ),
    Op("flip", fnp.flip, np.flip),
    Op(
        "roll", lambda x: fnp.roll(x, 1, axis=-1), lambda x: np.roll(x, 1, axis=-1), shapes="rank1+"
    ),
    Op("tile", lambda x: fnp.tile(x, (2, 1)), lambda x: np.tile(x, (2, 1))),
    Op(
        "repeat",
        lambda x: fnp.repeat(x, 2, axis=-1),
        lambda x: np.repeat(x, 2, axis=-1),
        shapes="rank1+",
    ),
    Op("pad", lambda x: fnp.pad(x, 1), lambda x: np.pad(x, 1)),
    Op(
        "swapaxes",
        lambda x: fnp.swapaxes(x, 0, -1),
        lambda x: np.swapaxes(x, 0, -1),
        shapes="rank1+",
    ),
    Op(
        "split",
        lambda x: fnp.split(x, 2, axis=-1)[1],
        lambda x: np.split(x, 2, axis=-1)[1],
        shapes="even_last",
    ),
    # products
    Op("matmul", fnp.matmul, np.matmul, 2, shapes="matmul", rtol=1e-5, atol=1e-5),
    Op("dot", fnp.dot, np.dot, 2, shapes="matmul2d", rtol=1e-5, atol=1e-5),
    Op("outer", fnp.outer, np.outer, 2, rtol=1e-5, atol=1e-5),
    Op(
        "tensordot",
        lambda a, b: fnp.tensordot(a, b, 1),
        lambda a, b: np.tensordot(a, b, 1),
        2,
        shapes="matmul2d",
        rtol=1e-5,
        atol=1e-5,
    ),
    Op(
        "einsum",
        lambda a, b: fnp.einsum("ij,jk->ki", a, b),
        lambda a, b: np.einsum("ij,jk->ki", a, b),
        2,
        shapes="matmul2d",
        rtol=1e-5,
        atol=1e-5,
    ),
    Op("trace", fnp.trace, np.trace, shapes="square", rtol=1e-5, atol=1e-5),
    Op("triu", fnp.triu, np.triu, shapes="square"),
    # special functions
    Op("erf", fsp.erf, sps.erf, rtol=1e-6, atol=1e-6),
    Op("erfc", fsp.erfc, sps.erfc, rtol=1e-6, atol=1e-6),
    Op("erfinv", fsp.erfinv, sps.erfinv, domain="unit", rtol=1e-5, atol=1e-6),
    Op("gammaln", fsp.gammaln, sps.gammaln, domain="positive", rtol=1e-5, atol=1e-6),
    Op("digamma", fsp.digamma, sps.digamma, domain="positive", rtol=1e-5, atol=1e-5),
    Op(
        "logsumexp",
        lambda x: fsp.logsumexp(x, axis=-1),
        lambda x: sps.logsumexp(x, axis=-1),
        shapes="nonempty_rank1+",
        rtol=1e-5,
        atol=1e-5,
    ),
    Op(
        "log_softmax",
        lambda x: lax.log_softmax(x, axis=-1),
        lambda x: sps.log_softmax(x, axis=-1),
        shapes="nonempty_rank1+",
        rtol=1e-5,
        atol=1e-5,
    ),
    Op(
        "softmax",
        lambda x: lax.softmax(x, axis=0),
        lambda x: sps.softmax(x, axis=0),
        shapes="nonempty_rank1+",
        rtol=1e-5,
        atol=1e-6,
    ),
    Op("expit", fsp.expit, sps.expit),
    Op("logit", fsp.logit, sps.logit, domain="prob", rtol=1e-5, atol=1e-6),
    # indexing (gather, scatter, dynamic slices)
    Op("getitem_basic", lambda x: x[..., ::-2], lambda x: x[..., ::-2], shapes="rank1+"),
    Op("getitem_advanced", lambda x: x[_IDX], lambda x: x[_IDX], shapes="rows3"),
    Op(
        "at_set",
        lambda x, y: x.at[_IDX[:2]].set(y[:2]),
        lambda x, y: _np_set(x, y),
        2,
        shapes="rows3_same",
    ),
    Op(
        "at_add_repeated",
        lambda x, y: x.at[_IDX].add(y[:4] if y.shape[0] >= 4 else y[_IDX]),
        lambda x, y: _np_add(x, y),
        2,
        shapes="rows3_same",
    ),
    Op(
        "at_multiply",
        lambda x, y: x.at[1].multiply(y[0]),
        lambda x, y: _np_mul(x, y),
        2,
        shapes="rows3_same",
    ),
    Op(
        "at_max",
        lambda x, y: x.at[0].max(y[1]),
        lambda x, y: _np_max(x, y),
        2,
        shapes="rows3_same",
        avoid=("tie",),
    ),
    Op(
        "take_along_axis",
        lambda x: fnp.take_along_axis(x, np.zeros((1,) * x.ndim, int), -1),
        lambda x: np.take_along_axis(x, np.zeros((1,) * x.ndim, int), -1),
        shapes="nonempty_rank1+",
    ),
    Op(
        "dynamic_slice",
        lambda x: lax.dynamic_slice(x, (1,) + (0,) * (x.ndim - 1), (2,) + x.shape[1:]),
        lambda x: x[1:3],
        shapes="rows3",
    ),
    Op(
        "dynamic_update_slice",
        lambda x, y: lax.dynamic_update_slice(x, y[:1], (2,) + (0,) * (x.ndim - 1)),
        lambda x, y: np.concatenate([x[:2], y[:1]]),
        2,
        shapes="rows3_same",
    ),
    # sorting
    Op(
        "sort",
        lambda x: fnp.sort(x, axis=-1),
        lambda x: np.sort(x, axis=-1),
        shapes="rank1+",
        avoid=("distinct",),
    ),
    Op(
        "top_k",
        lambda x: lax.top_k(x, 1)[0],
        lambda x: np.sort(x, axis=-1)[..., ::-1][..., :1],
        shapes="nonempty_rank1+",
        avoid=("distinct",),
    ),
    Op(
        "argsort",
        lambda x: fnp.argsort(x, axis=-1),
        lambda x: np.argsort(x, axis=-1, stable=True),
        shapes="rank1+",
        grad=False,
    ),
    # pooling (windows over the trailing axis; ties avoided: max routes to one element)
    Op(
        "max_pool",
        lambda x: lax.max_pool(x, (2,), (1,)),
        lambda x: np.maximum(x[..., :-1], x[..., 1:]),
        shapes="last2",
        avoid=("distinct",),
    ),
    Op(
        "min_window",
        lambda x: lax.reduce_window(
            x, np.inf, "min", (1,) * (x.ndim - 1) + (2,), (1,) * x.ndim, "VALID"
        ),
        lambda x: np.minimum(x[..., :-1], x[..., 1:]),
        shapes="last2",
        avoid=("distinct",),
    ),
    Op(
        "avg_pool_pad",
        lambda x: lax.avg_pool(x, (2,), (1,), ((1, 0),), count_include_pad=False),
        lambda x: _np_avg_pool_pad(x),
        shapes="last2",
        rtol=1e-5,
        atol=1e-6,
    ),
    # convolution (1-d, VALID, PyTorch layout NCW/OIW) against sliding windows + einsum
    Op(
        "conv1d",
        lambda x, w: lax.conv_general_dilated(x, w, (1,), "VALID"),
        lambda x, w: np.einsum(
            "ncwk,ock->now", np.lib.stride_tricks.sliding_window_view(x, w.shape[-1], axis=-1), w
        ),
        2,
        shapes="conv1d",
        rtol=1e-5,
        atol=1e-5,
    ),
    Op(
        "conv1d_strided",
        lambda x, w: lax.conv_general_dilated(x, w, (2,), "VALID"),
        lambda x, w: np.einsum(
            "ncwk,ock->now",
            np.lib.stride_tricks.sliding_window_view(x, w.shape[-1], axis=-1)[:, :, ::2],
            w,
        ),
        2,
        shapes="conv1d",
        rtol=1e-5,
        atol=1e-5,
    ),
    # linear algebra
    Op(
        "inv",
        lambda a: fnp.linalg.inv(_wc_f(a)),
        lambda a: np.linalg.inv(_wc(a)),
        shapes="square",
        rtol=1e-5,
        atol=1e-5,
    ),
    Op(
        "solve",
        lambda a, b: fnp.linalg.solve(_wc_f(a), b),
        lambda a, b: np.linalg.solve(_wc(a), b),
        2,
        shapes="solve",
        rtol=1e-5,
        atol=1e-5,
    ),
    Op(
        "det",
        lambda a: fnp.linalg.det(_wc_f(a)),
        lambda a: np.linalg.det(_wc(a)),
        shapes="square",
        rtol=1e-5,
        atol=1e-5,
    ),
    Op(
        "slogdet",
        lambda a: fnp.linalg.slogdet(_wc_f(a))[1],
        lambda a: np.linalg.slogdet(_wc(a))[1],
        shapes="square",
        rtol=1e-5,
        atol=1e-5,
    ),
    Op(
        "cholesky",
        lambda a: fnp.linalg.cholesky(_spd_f(a)),
        lambda a: np.linalg.cholesky(_spd(a)),
        shapes="square",
        rtol=1e-5,
        atol=1e-5,
    ),
    Op(
        "triangular_solve",
        lambda a, b: lax.linalg.triangular_solve(_wc_f(a), b, left_side=True, lower=True),
        lambda a, b: scipy.linalg.solve_triangular(_wc(a), b, lower=True),
        2,
        shapes="solve2d",
        rtol=1e-5,
        atol=1e-5,
    ),
    Op("norm", fnp.linalg.norm, np.linalg.norm, rtol=1e-5, atol=1e-5),
]


def _np_avg_pool_pad(x):
    # windows of 2 with one padded element in front, not counted: [x0, (x0+x1)/2, ...]
    pairs = (x[..., :-1] + x[..., 1:]) / 2
    return np.concatenate([x[..., :1], pairs], axis=-1)


def _np_set(x, y):
    out = x.copy()
    out[_IDX[:2]] = y[:2]
    return out


def _np_add(x, y):
    out = x.copy()
    np.add.at(out, _IDX, y[:4] if y.shape[0] >= 4 else y[_IDX])
    return out


def _np_mul(x, y):
    out = x.copy()
    out[1] *= y[0]
    return out


def _np_max(x, y):
    out = x.copy()
    out[0] = np.maximum(out[0], y[1])
    return out


# Rows kept in files of their own (one per area), appended here.
from tests import (  # noqa: E402
    op_table_complex,
    op_table_fft,
    op_table_linalg,
    op_table_numpy_edges,
    op_table_scipy,
)

for _area in (
    op_table_complex,
    op_table_fft,
    op_table_linalg,
    op_table_numpy_edges,
    op_table_scipy,
):
    OPS += _area.OPS

OPS_BY_NAME = {op.name: op for op in OPS}
