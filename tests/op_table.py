"""The op table: one row per operation (function, NumPy reference, arity, value domain, dtypes,
tolerance). It drives the property tests of every primitive: forward values against NumPy,
jvp and vjp against finite differences to second order, and (later) vmap and jit."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

import funcgrad.lax as lax
import funcgrad.numpy as fnp

# Value domains: (low, high) of uniformly drawn values, plus values to keep away from
# (non-differentiable points) with a margin.
DOMAINS = {
    "real": (-2.0, 2.0),
    "positive": (0.2, 3.0),
    "unit": (-0.85, 0.85),
    "gt1": (1.2, 3.0),
    "small": (-1.2, 1.2),
}


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
]

OPS_BY_NAME = {op.name: op for op in OPS}
