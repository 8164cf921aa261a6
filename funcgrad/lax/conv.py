"""conv_general_dilated: the one convolution primitive (strides, padding, both dilations, groups),
with conv and conv_transpose on top of it. The impl runs im2col over strided views + one matmul."""

from __future__ import annotations

import functools
import itertools
import math
from collections.abc import Sequence
from typing import Any, NamedTuple

import numpy as np

from funcgrad.core.primitive import Primitive, ShapedArray
from funcgrad.lax.shape import padtype_to_pads, reshape, rev, transpose
from funcgrad.transforms.grad import defjvp, defvjp
from funcgrad.transforms.vmap import batch_rules

__all__ = [
    "ConvDimensionNumbers",
    "conv",
    "conv_dimension_numbers",
    "conv_general_dilated",
    "conv_general_dilated_p",
    "conv_transpose",
    "conv_with_general_padding",
    "padtype_to_pads",
]


class ConvDimensionNumbers(NamedTuple):
    """Where the batch, feature and spatial axes of a convolution's operands are (JAX's type).

    Args:
      lhs_spec: ``(batch axis, feature axis, spatial axes...)`` of the input.
      rhs_spec: ``(out feature axis, in feature axis, spatial axes...)`` of the kernel.
      out_spec: ``(batch axis, feature axis, spatial axes...)`` of the output.
    """

    lhs_spec: tuple[int, ...]
    rhs_spec: tuple[int, ...]
    out_spec: tuple[int, ...]


def conv_dimension_numbers(lhs_shape, rhs_shape, dimension_numbers) -> ConvDimensionNumbers:
    """``dimension_numbers`` (None, three layout strings, or ConvDimensionNumbers) normalised.

    Spatial axes are matched by their letters, in the order they appear in the kernel's string;
    ``None`` means PyTorch's layouts: ``('NC...', 'OI...', 'NC...')``.
    """
    nd = len(lhs_shape)
    if nd != len(rhs_shape):
        raise TypeError(
            f"conv_general_dilated: lhs and rhs must have the same rank, got shapes "
            f"{tuple(lhs_shape)} and {tuple(rhs_shape)}"
        )
    if dimension_numbers is None:
        iota = tuple(range(nd))
        return ConvDimensionNumbers(iota, iota, iota)
    if isinstance(dimension_numbers, ConvDimensionNumbers):
        dn = ConvDimensionNumbers(*(tuple(map(int, s)) for s in dimension_numbers))
        if any(sorted(s) != list(range(nd)) for s in dn):
            raise TypeError(
                f"conv_general_dilated: dimension_numbers {dimension_numbers} must hold "
                f"permutations of the {nd} axes of shapes {tuple(lhs_shape)} and "
                f"{tuple(rhs_shape)}"
            )
        return dn
    if (
        not isinstance(dimension_numbers, (tuple, list))
        or len(dimension_numbers) != 3
        or not all(isinstance(s, str) for s in dimension_numbers)
    ):
        raise TypeError(
            "conv_general_dilated: dimension_numbers must be None, a ConvDimensionNumbers or "
            f"three layout strings like ('NCHW', 'OIHW', 'NCHW'), got {dimension_numbers!r}"
        )
    for s in dimension_numbers:
        if len(s) != nd:
            raise TypeError(
                f"conv_general_dilated: layout {s!r} in dimension_numbers {dimension_numbers} "
                f"has {len(s)} letters but lhs and rhs have shapes {tuple(lhs_shape)} and "
                f"{tuple(rhs_shape)} ({nd} axes)"
            )
    return ConvDimensionNumbers(*_conv_permutations(tuple(dimension_numbers)))


@functools.lru_cache(maxsize=256)
def _conv_permutations(specs):
    lhs, rhs, out = specs
    pairs = (("N", "C"), ("O", "I"), ("N", "C"))
    for s, (a, b) in zip(specs, pairs):
        if s.count(a) != 1 or s.count(b) != 1 or len(set(s)) != len(s):
            raise TypeError(
                f"conv_general_dilated: layout {s!r} in dimension_numbers {specs} must contain "
                f"'{a}' and '{b}' exactly once and no repeated letters"
            )
    if not set(lhs) - {"N", "C"} == set(rhs) - {"O", "I"} == set(out) - {"N", "C"}:
        raise TypeError(
            f"conv_general_dilated: the layouts in dimension_numbers {specs} must name the same "
            "spatial letters"
        )
    spatial = [c for c in rhs if c not in "OI"]

    def perm(s, pair):
        return (s.index(pair[0]), s.index(pair[1])) + tuple(s.index(c) for c in spatial)

    return tuple(perm(s, p) for s, p in zip(specs, pairs))


def _dilate_shape(shape, dilation):
    return tuple(0 if d == 0 else 1 + r * (d - 1) for d, r in zip(shape, dilation))


# ----------------------------------------------------------------------------- shape rule


@functools.lru_cache(maxsize=1024)
def _conv_shape(
    lhs_shape,
    rhs_shape,
    window_strides,
    padding,
    lhs_dilation,
    rhs_dilation,
    dimension_numbers,
    feature_group_count,
    batch_group_count,
):
    """The output shape, after every check; errors name both shapes and the dimension numbers."""
    lspec, rspec, ospec = dimension_numbers
    nsp = len(lhs_shape) - 2

    def fail(msg):
        raise ValueError(
            f"conv_general_dilated: {msg} (lhs shape {lhs_shape}, rhs shape {rhs_shape}, "
            f"dimension_numbers {tuple(dimension_numbers)})"
        )

    if len(lhs_shape) != len(rhs_shape) or len(lhs_shape) < 2:
        fail("lhs and rhs must have the same rank, at least 2")
    for name, v in (
        ("window_strides", window_strides),
        ("padding", padding),
        ("lhs_dilation", lhs_dilation),
        ("rhs_dilation", rhs_dilation),
    ):
        if len(v) != nsp:
            fail(f"{name} {v} must have one entry per spatial dimension ({nsp})")
    for name, v in (
        ("window_strides", window_strides),
        ("lhs_dilation", lhs_dilation),
        ("rhs_dilation", rhs_dilation),
    ):
        if any(s < 1 for s in v):
            fail(f"{name} {v} must be positive")
    G, B = feature_group_count, batch_group_count
    if G < 1 or B < 1:
        fail(f"feature_group_count {G} and batch_group_count {B} must be positive")
    if G > 1 and B > 1:
        fail(f"at most one of feature_group_count ({G}) and batch_group_count ({B}) may be > 1")
    n, c = lhs_shape[lspec[0]], lhs_shape[lspec[1]]
    o, i = rhs_shape[rspec[0]], rhs_shape[rspec[1]]
    if c % G:
        fail(f"feature_group_count {G} does not divide the lhs feature dimension {c}")
    if c // G != i:
        fail(
            f"lhs feature dimension {c} divided by feature_group_count {G} must equal the rhs "
            f"input feature dimension {i}; check the layouts in dimension_numbers"
        )
    if o % G:
        fail(f"feature_group_count {G} does not divide the rhs output feature dimension {o}")
    if n % B:
        fail(f"batch_group_count {B} does not divide the lhs batch dimension {n}")
    if o % B:
        fail(f"batch_group_count {B} does not divide the rhs output feature dimension {o}")
    in_sp = _dilate_shape([lhs_shape[d] for d in lspec[2:]], lhs_dilation)
    k_sp = _dilate_shape([rhs_shape[d] for d in rspec[2:]], rhs_dilation)
    out_sp = []
    for j, (size, k, (lo, hi), s) in enumerate(zip(in_sp, k_sp, padding, window_strides)):
        padded = size + lo + hi
        if padded < 0:
            fail(f"padding {padding[j]} crops more than spatial dimension {j} holds ({size})")
        if k > padded:
            fail(
                f"the kernel (dilated size {k} in spatial dimension {j}) is larger than the "
                f"padded input ({padded}); pad more or use a smaller kernel"
            )
        out_sp.append((padded - k) // s + 1)
    canonical = (n // B, o) + tuple(out_sp)
    out = [0] * len(canonical)
    for axis, size in zip(ospec, canonical):
        out[axis] = size
    return tuple(out)


def _conv_general_dilated_abstract_eval(lhs, rhs, *, preferred_element_type=None, **params):
    shape = _conv_shape(tuple(lhs.shape), tuple(rhs.shape), **params)
    dtype = preferred_element_type or np.result_type(lhs.dtype, rhs.dtype)
    return ShapedArray(shape, np.dtype(dtype))


# ----------------------------------------------------------------------------- impl
# Everything runs in the canonical layout (N, C, spatial...) x (O, I, spatial...). The input is
# dilated and padded into one zero buffer (a strided assignment), its windows are a strided view,
# and one (batched) matmul contracts them with the kernel. When the kernel maps many channels to
# few (the input gradient of a conv), the matmul runs first on the raw input and the kernel
# positions are summed as shifted slices: fewer bytes moved than im2col.


def _dilate_pad(xp, x, lhs_dilation, padding, channels_first=False):
    # x (N, C, *S) dilated and padded; with channels_first, laid out as (C, N, *S') instead.
    lead = (1, 0) if channels_first else (0, 1)
    if all(d == 1 for d in lhs_dilation) and all(lo == hi == 0 for lo, hi in padding):
        return x.transpose(lead + tuple(range(2, x.ndim))) if channels_first else x
    sp = _dilate_shape(x.shape[2:], lhs_dilation)
    full = [s + max(lo, 0) + max(hi, 0) for s, (lo, hi) in zip(sp, padding)]
    buf = xp.zeros((x.shape[lead[0]], x.shape[lead[1]]) + tuple(full), x.dtype)
    into = tuple(
        slice(max(lo, 0), max(lo, 0) + s, d) for s, (lo, _), d in zip(sp, padding, lhs_dilation)
    )
    buf[(slice(None), slice(None)) + into] = x.transpose(lead + tuple(range(2, x.ndim)))
    if any(lo < 0 or hi < 0 for lo, hi in padding):  # negative padding crops
        crop = tuple(slice(max(-lo, 0), f - max(-hi, 0)) for f, (lo, hi) in zip(full, padding))
        buf = buf[(slice(None), slice(None)) + crop]
    return buf


def _as_strided(xp, x, shape, strides):
    if xp is np:
        return np.lib.stride_tricks.as_strided(x, shape, strides, writeable=False)
    return xp.lib.stride_tricks.as_strided(x, shape, strides)


def _conv_canonical(
    xp,
    lhs,
    rhs,
    *,
    window_strides,
    padding,
    lhs_dilation,
    rhs_dilation,
    feature_group_count,
    batch_group_count,
):
    strides, G, B = window_strides, feature_group_count, batch_group_count
    N, C = lhs.shape[:2]
    O, Cg = rhs.shape[:2]
    K = rhs.shape[2:]
    nsp = len(K)
    Q = tuple(
        s + lo + hi for s, (lo, hi) in zip(_dilate_shape(lhs.shape[2:], lhs_dilation), padding)
    )
    P = tuple((q - ((k - 1) * r + 1)) // s + 1 for q, k, r, s in zip(Q, K, rhs_dilation, strides))
    Nb, Ob = N // B, O // B
    Og = Ob // G
    kp, pp, qp = math.prod(K), math.prod(P), math.prod(Q)
    if Nb * O * pp == 0 or Cg * kp == 0:
        return xp.zeros((Nb, O) + P, lhs.dtype)
    if B == 1 and kp <= 64 and O * qp < C * pp:
        # matmul first: Y[g, k, og, n, q] = sum_c W[g, og, c, k] x[g, c, n, q] in one matmul
        # (one GEMM when G == 1); the output at p is the sum over kernel positions k of
        # Y[g, k, og, n, p * stride + k * rhs_dilation]: one strided add per position.
        x = _dilate_pad(xp, lhs, lhs_dilation, padding, channels_first=True)
        w = rhs.reshape((G, Og, Cg, kp)).transpose(0, 3, 1, 2).reshape(G, kp * Og, Cg)
        w = xp.ascontiguousarray(w)
        x = xp.ascontiguousarray(x.reshape(G, Cg, N * qp))  # BLAS needs no zero strides
        y = xp.matmul(w, x).reshape((G,) + K + (Og, N) + Q)
        out = None
        for k in itertools.product(*map(range, K)):
            sl = tuple(
                slice(i * r, i * r + (p - 1) * s + 1, s)
                for i, r, p, s in zip(k, rhs_dilation, P, strides)
            )
            part = y[(slice(None),) + k + (slice(None), slice(None)) + sl]
            if out is None:
                out = part.copy()
            else:
                out += part
        return out.reshape((O, N) + P).transpose((1, 0) + tuple(range(2, 2 + nsp)))
    x = _dilate_pad(xp, lhs, lhs_dilation, padding)
    # im2col: the windows as a view (N, C, *P, *K); split N into (B, Nb) and C into (G, Cg).
    st = x.strides
    view = _as_strided(
        xp,
        x,
        (B, Nb, G, Cg) + P + K,
        (st[0] * Nb, st[0], st[1] * Cg, st[1])
        + tuple(a * s for a, s in zip(st[2:], strides))
        + tuple(a * r for a, r in zip(st[2:], rhs_dilation)),
    )
    ax_p = tuple(range(4, 4 + nsp))
    ax_k = tuple(range(4 + nsp, 4 + 2 * nsp))
    # Operands of matmul must be BLAS-friendly: a broadcast cotangent has zero strides.
    w = xp.ascontiguousarray(rhs).reshape(B, G, Og, Cg * kp)
    if pp >= kp:
        # cols (B, Nb, G, Cg*K, P): contiguous runs along the output positions; out = W @ cols.
        cols = view.transpose((0, 1, 2, 3) + ax_k + ax_p).reshape(B, Nb, G, Cg * kp, pp)
        cols = xp.ascontiguousarray(cols)
        out = xp.matmul(w[:, None], cols)  # (B, Nb, G, Og, P)
        if B > 1:
            out = out.transpose(1, 0, 2, 3, 4)
    else:
        # few output positions, big windows (a kernel gradient): cols (B, G, Nb*P, Cg*K).
        cols = view.transpose((0, 2, 1) + ax_p + (3,) + ax_k).reshape(B, G, Nb * pp, Cg * kp)
        cols = xp.ascontiguousarray(cols)
        out = xp.matmul(cols, w.transpose(0, 1, 3, 2))  # (B, G, Nb*P, Og)
        out = out.reshape(B, G, Nb, pp, Og).transpose(2, 0, 1, 4, 3)
    return out.reshape((Nb, O) + P)


def _conv_general_dilated_impl(
    xp, lhs, rhs, *, dimension_numbers, preferred_element_type=None, **params
):
    lhs, rhs = xp.asarray(lhs), xp.asarray(rhs)
    dtype = np.result_type(lhs.dtype, rhs.dtype)
    lspec, rspec, ospec = dimension_numbers
    lhs = lhs.astype(dtype, copy=False).transpose(lspec)
    rhs = rhs.astype(dtype, copy=False).transpose(rspec)
    out = _conv_canonical(xp, lhs, rhs, **params)
    if ospec != tuple(range(len(ospec))):
        out = out.transpose(tuple(int(a) for a in np.argsort(ospec)))
    if preferred_element_type is not None:
        out = out.astype(preferred_element_type, copy=False)
    return out


# ----------------------------------------------------------------------------- derivatives
# Forward: [n, c] x [c, o] -> [n, o] (spatial axes aside), so, as for a matmul, the lhs cotangent
# is a conv of g with the kernel (flipped, in/out swapped) and the rhs cotangent a conv of lhs
# with g, with batch and feature axes trading roles (JAX's transpose rules). Groups move into the
# kernel's other feature axis; feature groups of the forward become batch groups of the kernel
# gradient and back.


def _spec_transpose(spec):
    return (spec[1], spec[0]) + tuple(spec[2:])


def _reshape_axis_out_of(src, size1, x):
    shape = list(x.shape)
    shape[src : src + 1] = [size1, shape[src] // size1]
    return reshape(x, shape)


def _reshape_axis_into(src, dst, x):
    # ``dst`` indexes the axes of x once ``src`` is removed; src becomes the major part of dst.
    perm = [i for i in range(len(x.shape)) if i != src]
    perm.insert(dst, src)
    new_shape = [x.shape[i] for i in range(len(x.shape)) if i != src]
    new_shape[dst] *= x.shape[src]
    return reshape(transpose(x, perm), new_shape)


def _take(shape, axes):
    return tuple(shape[a] for a in axes)


def _vjp_lhs_padding(
    in_shape, window_shape, window_strides, out_shape, padding, lhs_dilation, rhs_dilation
):
    lhs_d = _dilate_shape(in_shape, lhs_dilation)
    rhs_d = _dilate_shape(window_shape, rhs_dilation)
    out_d = _dilate_shape(out_shape, window_strides)
    before = [k - lo - 1 for k, (lo, _) in zip(rhs_d, padding)]
    after = [i + k - 1 - o - b for i, k, o, b in zip(lhs_d, rhs_d, out_d, before)]
    return tuple(zip(before, after))


def _vjp_rhs_padding(
    in_shape, window_shape, window_strides, out_shape, padding, lhs_dilation, rhs_dilation
):
    lhs_d = _dilate_shape(in_shape, lhs_dilation)
    rhs_d = _dilate_shape(window_shape, rhs_dilation)
    out_d = _dilate_shape(out_shape, window_strides)
    return tuple((lo, o - i + k - lo - 1) for (lo, _), i, k, o in zip(padding, lhs_d, rhs_d, out_d))


def _cast_like(x, like):
    if x.dtype != like.dtype and like.dtype.kind in "fc":
        from funcgrad.lax.elementwise import convert_element_type

        return convert_element_type(x, like.dtype)
    return x


def _conv_general_dilated_vjp_lhs(g, ans, lhs, rhs, **params):
    lspec, rspec, ospec = params["dimension_numbers"]
    strides, ld, rd = params["window_strides"], params["lhs_dilation"], params["rhs_dilation"]
    G, B = params["feature_group_count"], params["batch_group_count"]
    if G > 1 or B > 1:  # move the groups from the kernel's output features into its inputs
        rhs = _reshape_axis_out_of(rspec[0], max(G, B), rhs)
        rhs = _reshape_axis_into(rspec[0], rspec[1], rhs)
    pads = _vjp_lhs_padding(
        _take(lhs.shape, lspec[2:]), _take(rhs.shape, rspec[2:]), strides,
        _take(g.shape, ospec[2:]), params["padding"], ld, rd,
    )  # fmt: skip
    out = conv_general_dilated_p.bind(
        g, _cast_like(rev(rhs, rspec[2:]), g), window_strides=ld, padding=pads,
        lhs_dilation=strides, rhs_dilation=rd,
        dimension_numbers=ConvDimensionNumbers(ospec, _spec_transpose(rspec), lspec),
        feature_group_count=max(G, B), batch_group_count=1, preferred_element_type=None,
    )  # fmt: skip
    out = _cast_like(out, lhs)
    if B > 1:  # batch groups come back out of the features
        out = _reshape_axis_out_of(lspec[1], B, out)
        out = _reshape_axis_into(lspec[1], lspec[0], out)
    return out


def _conv_general_dilated_vjp_rhs(g, ans, lhs, rhs, **params):
    lspec, rspec, ospec = params["dimension_numbers"]
    strides, ld, rd = params["window_strides"], params["lhs_dilation"], params["rhs_dilation"]
    G, B = params["feature_group_count"], params["batch_group_count"]
    pads = _vjp_rhs_padding(
        _take(lhs.shape, lspec[2:]), _take(rhs.shape, rspec[2:]), strides,
        _take(g.shape, ospec[2:]), params["padding"], ld, rd,
    )  # fmt: skip
    dn = ConvDimensionNumbers(*map(_spec_transpose, (lspec, ospec, rspec)))
    out = conv_general_dilated_p.bind(
        _cast_like(lhs, g), g, window_strides=rd, padding=pads, lhs_dilation=ld,
        rhs_dilation=strides, dimension_numbers=dn, feature_group_count=B,
        batch_group_count=G, preferred_element_type=None,
    )  # fmt: skip
    return _cast_like(out, rhs)


conv_general_dilated_p = Primitive("conv_general_dilated")
conv_general_dilated_p.def_impl(_conv_general_dilated_impl)
conv_general_dilated_p.def_abstract_eval(_conv_general_dilated_abstract_eval)
# Bilinear: the tangent is conv(t_lhs, rhs) + conv(lhs, t_rhs).
defjvp(
    conv_general_dilated_p,
    lambda t, ans, lhs, rhs, **p: conv_general_dilated_p.bind(t, rhs, **p),
    lambda t, ans, lhs, rhs, **p: conv_general_dilated_p.bind(lhs, t, **p),
)
defvjp(conv_general_dilated_p, _conv_general_dilated_vjp_lhs, _conv_general_dilated_vjp_rhs)


# ----------------------------------------------------------------------------- batching


def _conv_general_dilated_batch(args, dims, **params):
    # The vmapped axis folds into the lhs batch (lhs batched), the kernel's output features
    # (rhs batched), or both operands' features with feature_group_count scaled (both batched).
    (lhs, rhs), (ld, rd) = args, dims
    lspec, rspec, ospec = params["dimension_numbers"]
    G, B = params["feature_group_count"], params["batch_group_count"]
    size = lhs.shape[ld] if ld is not None else rhs.shape[rd]
    if size == 0:
        from funcgrad.core.array import Array
        from funcgrad.lax.shape import broadcast_to

        lshape = tuple(s for i, s in enumerate(lhs.shape) if i != ld)
        rshape = tuple(s for i, s in enumerate(rhs.shape) if i != rd)
        aval = _conv_general_dilated_abstract_eval(
            ShapedArray(lshape, lhs.dtype), ShapedArray(rshape, rhs.dtype), **params
        )
        return broadcast_to(Array(np.zeros((), aval.dtype)), (0,) + aval.shape), 0
    bind = functools.partial(conv_general_dilated_p.bind, **params)
    if ld is not None and rd is not None:
        if B > 1:
            new_lhs = _reshape_axis_into(ld, lspec[0], lhs)
            params = dict(params, batch_group_count=B * size)
        else:
            new_lhs = _reshape_axis_into(ld, lspec[1], lhs)
            params = dict(params, feature_group_count=G * size)
        new_rhs = _reshape_axis_into(rd, rspec[0], rhs)
        out = conv_general_dilated_p.bind(new_lhs, new_rhs, **params)
        return _reshape_axis_out_of(ospec[1], size, out), ospec[1]
    if ld is not None:
        if B == 1:
            new_lhs = _reshape_axis_into(ld, lspec[0], lhs)
        else:  # keep the batch groups outermost: (B, size, N/B)
            new_lhs = _reshape_axis_out_of(lspec[0] + int(ld <= lspec[0]), B, lhs)
            new_lhs = _reshape_axis_into(ld + int(lspec[0] < ld), lspec[0] + 1, new_lhs)
            new_lhs = _reshape_axis_into(lspec[0], lspec[0], new_lhs)
        out = bind(new_lhs, rhs)
        return _reshape_axis_out_of(ospec[0], size, out), ospec[0]
    if G == 1 and B == 1:
        out = bind(lhs, _reshape_axis_into(rd, rspec[0], rhs))
        return _reshape_axis_out_of(ospec[1], size, out), ospec[1]
    # Groups stay outermost in the kernel's output features: (groups, size, O/groups).
    groups = G if G > 1 else B
    new_rhs = _reshape_axis_out_of(rspec[0] + int(rd <= rspec[0]), groups, rhs)
    new_rhs = _reshape_axis_into(rd + int(rspec[0] < rd), rspec[0] + 1, new_rhs)
    new_rhs = _reshape_axis_into(rspec[0], rspec[0], new_rhs)
    out = bind(lhs, new_rhs)
    out = _reshape_axis_out_of(ospec[1], groups, out)
    out = _reshape_axis_out_of(ospec[1] + 1, size, out)
    out = _reshape_axis_into(ospec[1], ospec[1] + 1, out)
    return out, ospec[1]


batch_rules[conv_general_dilated_p] = _conv_general_dilated_batch


# ----------------------------------------------------------------------------- public API


def _int_tuple(v, n, name, default=1):
    if v is None:
        return (default,) * n
    if isinstance(v, int):
        return (int(v),) * n
    v = tuple(int(a) for a in v)
    if len(v) != n:
        raise ValueError(
            f"conv_general_dilated: {name} {v} must have one entry per spatial dimension ({n})"
        )
    return v


def conv_general_dilated(
    lhs,
    rhs,
    window_strides: Sequence[int],
    padding: str | Sequence[tuple[int, int]],
    lhs_dilation: Sequence[int] | None = None,
    rhs_dilation: Sequence[int] | None = None,
    dimension_numbers: Any = None,
    feature_group_count: int = 1,
    batch_group_count: int = 1,
    preferred_element_type: Any = None,
):
    """General n-d convolution with strides, padding, dilations and groups (JAX's ``lax`` op).

    Args:
      lhs: the input, rank ``n + 2`` (``(N, C, spatial...)`` by default).
      rhs: the kernel, rank ``n + 2`` (``(O, I, spatial...)`` by default), ``I = C // groups``.
      window_strides: ``n`` strides.
      padding: ``'SAME'``, ``'SAME_LOWER'``, ``'VALID'`` or ``n`` ``(lo, hi)`` pairs (negative
        values crop).
      lhs_dilation: ``n`` input dilations (a transposed convolution), default 1.
      rhs_dilation: ``n`` kernel dilations (atrous convolution), default 1.
      dimension_numbers: None (PyTorch's ``NC...``/``OI...`` layouts), three layout strings
        such as ``('NHWC', 'HWIO', 'NHWC')``, or a ``ConvDimensionNumbers``.
      feature_group_count: grouped convolution (``C`` for depthwise).
      batch_group_count: splits the batch into groups, each with its share of the kernel's
        output features (what the kernel gradient of a grouped convolution uses).
      preferred_element_type: the output dtype, if not the inputs' result type.

    Returns:
      The output, in ``dimension_numbers``'s output layout.

    Example:
      >>> x, w = fnp.ones((1, 3, 8, 8)), fnp.ones((16, 3, 3, 3))
      >>> lax.conv_general_dilated(x, w, (1, 1), "SAME").shape
      (1, 16, 8, 8)
    """
    lshape, rshape = tuple(lhs.shape), tuple(rhs.shape)
    dn = conv_dimension_numbers(lshape, rshape, dimension_numbers)
    n = len(lshape) - 2
    strides = _int_tuple(window_strides, n, "window_strides")
    lhs_dil = _int_tuple(lhs_dilation, n, "lhs_dilation")
    rhs_dil = _int_tuple(rhs_dilation, n, "rhs_dilation")
    if isinstance(padding, str):
        if any(d != 1 for d in lhs_dil):
            raise ValueError(
                "conv_general_dilated: string padding is not supported with lhs_dilation; give "
                "explicit (lo, hi) pairs or use lax.conv_transpose"
            )
        pads = padtype_to_pads(
            _take(lshape, dn.lhs_spec[2:]),
            _dilate_shape(_take(rshape, dn.rhs_spec[2:]), rhs_dil),
            strides,
            padding,
            "conv_general_dilated",
        )
    else:
        try:
            pads = tuple((int(lo), int(hi)) for lo, hi in padding)
        except (TypeError, ValueError) as e:
            raise ValueError(
                "conv_general_dilated: padding must be a string or a sequence of (lo, hi) pairs, "
                f"got {padding!r}"
            ) from e
    params = dict(
        window_strides=strides,
        padding=pads,
        lhs_dilation=lhs_dil,
        rhs_dilation=rhs_dil,
        dimension_numbers=dn,
        feature_group_count=int(feature_group_count),
        batch_group_count=int(batch_group_count),
    )
    _conv_shape(lshape, rshape, **params)  # eager calls check here (jit via abstract_eval)
    if preferred_element_type is not None:
        preferred_element_type = np.dtype(preferred_element_type)
    return conv_general_dilated_p.bind(
        lhs, rhs, preferred_element_type=preferred_element_type, **params
    )


def conv(lhs, rhs, window_strides: Sequence[int], padding, preferred_element_type=None):
    """Convolution in PyTorch's layouts ``(N, C, spatial...)`` x ``(O, I, spatial...)``.

    Example:
      >>> lax.conv(fnp.ones((2, 3, 5, 5)), fnp.ones((4, 3, 3, 3)), (1, 1), "VALID").shape
      (2, 4, 3, 3)
    """
    return conv_general_dilated(
        lhs, rhs, window_strides, padding, preferred_element_type=preferred_element_type
    )


def conv_with_general_padding(
    lhs, rhs, window_strides, padding, lhs_dilation, rhs_dilation, preferred_element_type=None
):
    """``conv_general_dilated`` in the default layouts with both dilations (JAX's wrapper)."""
    return conv_general_dilated(
        lhs,
        rhs,
        window_strides,
        padding,
        lhs_dilation,
        rhs_dilation,
        preferred_element_type=preferred_element_type,
    )


def _conv_transpose_padding(k, s, padding):
    # Padding of the input-dilated conv whose output size matches keras' Conv2DTranspose.
    if padding == "SAME":
        pad_len = k + s - 2
        pad_a = k - 1 if s > k - 1 else -(-pad_len // 2)
    elif padding == "VALID":
        pad_len = k + s - 2 + max(k - s, 0)
        pad_a = k - 1
    else:
        raise ValueError(
            f"conv_transpose: padding must be 'SAME', 'VALID' or (lo, hi) pairs, got {padding!r}"
        )
    return pad_a, pad_len - pad_a


def conv_transpose(
    lhs,
    rhs,
    strides: Sequence[int],
    padding,
    rhs_dilation=None,
    dimension_numbers=None,
    transpose_kernel: bool = False,
    preferred_element_type=None,
):
    """Transposed ("fractionally strided") convolution, JAX's ``lax.conv_transpose``.

    Computed directly as a convolution of ``lhs`` dilated by ``strides``. String padding gives
    keras' ``Conv2DTranspose`` output sizes; explicit ``(lo, hi)`` pairs are the padding of that
    dilated convolution (as in JAX). With ``transpose_kernel=True`` the kernel's spatial axes are
    flipped and its I/O axes swapped, so that the result is the gradient of ``conv`` with the
    same kernel, strides and string padding.

    Unlike ``conv_general_dilated``, the default layouts are TensorFlow's (JAX's choice):
    ``NHWC``/``HWIO`` for 2-d (``NHC``/``HIO`` 1-d, ``NHWDC``/``HWDIO`` 3-d).

    Example:
      >>> lax.conv_transpose(fnp.ones((1, 4, 4, 8)), fnp.ones((3, 3, 8, 2)), (2, 2), "SAME").shape
      (1, 8, 8, 2)
    """
    nd = len(lhs.shape)
    if dimension_numbers is None:
        defaults = {
            2: ("NC", "IO", "NC"),
            3: ("NHC", "HIO", "NHC"),
            4: ("NHWC", "HWIO", "NHWC"),
            5: ("NHWDC", "HWDIO", "NHWDC"),
        }
        if nd not in defaults:
            raise ValueError(f"conv_transpose: no default layout for rank-{nd} operands")
        dimension_numbers = defaults[nd]
    dn = conv_dimension_numbers(lhs.shape, rhs.shape, dimension_numbers)
    n = nd - 2
    strides = _int_tuple(strides, n, "strides")
    rhs_dil = _int_tuple(rhs_dilation, n, "rhs_dilation")
    k_sp = _dilate_shape(_take(rhs.shape, dn.rhs_spec[2:]), rhs_dil)
    if isinstance(padding, str):
        pads = tuple(_conv_transpose_padding(k, s, padding.upper()) for k, s in zip(k_sp, strides))
    else:
        pads = padding
    if transpose_kernel:
        rhs = rev(rhs, dn.rhs_spec[2:])
        perm = list(range(nd))
        perm[dn.rhs_spec[0]], perm[dn.rhs_spec[1]] = dn.rhs_spec[1], dn.rhs_spec[0]
        rhs = transpose(rhs, perm)
    return conv_general_dilated(
        lhs,
        rhs,
        (1,) * n,
        pads,
        strides,
        rhs_dil,
        dn,
        preferred_element_type=preferred_element_type,
    )
