"""NumPy implementations of PyTorch's formulas, the references of the nn tests (float64)."""

from __future__ import annotations

import math

import numpy as np

erf = np.vectorize(math.erf, otypes=[np.float64])


def sigmoid(x):
    with np.errstate(over="ignore"):
        e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1 / (1 + e), e / (1 + e))


def softplus(x, beta=1.0, threshold=20.0):
    return np.where(x * beta > threshold, x, np.logaddexp(0, x * beta) / beta)


def log_softmax(x, axis=-1):
    m = np.max(x, axis=axis, keepdims=True)
    return x - m - np.log(np.sum(np.exp(x - m), axis=axis, keepdims=True))


def softmax(x, axis=-1):
    return np.exp(log_softmax(x, axis))


ACTIVATIONS = {
    "relu": lambda x: np.maximum(x, 0),
    "relu6": lambda x: np.clip(x, 0, 6),
    "leaky_relu": lambda x: np.where(x > 0, x, 0.01 * x),
    "elu": lambda x: np.where(x > 0, x, np.expm1(np.minimum(x, 0))),
    "gelu": lambda x: 0.5 * x * (1 + erf(x / math.sqrt(2))),
    "silu": lambda x: x * sigmoid(x),
    "sigmoid": sigmoid,
    "tanh": np.tanh,
    "softplus": softplus,
    "log_sigmoid": lambda x: -softplus(-x),
    "softmax": softmax,
    "log_softmax": log_softmax,
}


def gelu_tanh(x):
    return 0.5 * x * (1 + np.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x**3)))


def conv2d(x, w, b=None, stride=(1, 1), padding=((0, 0), (0, 0)), dilation=(1, 1), groups=1):
    """Cross-correlation, one kernel tap at a time (PyTorch's definition)."""
    N, C, H, W = x.shape
    O, Cg, kh, kw = w.shape
    xp = np.pad(x, ((0, 0), (0, 0)) + tuple(padding))
    Ho = (xp.shape[2] - dilation[0] * (kh - 1) - 1) // stride[0] + 1
    Wo = (xp.shape[3] - dilation[1] * (kw - 1) - 1) // stride[1] + 1
    out = np.zeros((N, O, Ho, Wo))
    Og = O // groups
    for o in range(O):
        g = o // Og
        for i in range(kh):
            for j in range(kw):
                r0, c0 = i * dilation[0], j * dilation[1]
                patch = xp[
                    :,
                    g * Cg : (g + 1) * Cg,
                    r0 : r0 + stride[0] * (Ho - 1) + 1 : stride[0],
                    c0 : c0 + stride[1] * (Wo - 1) + 1 : stride[1],
                ]
                out[:, o] += np.einsum("nchw,c->nhw", patch, w[o, :, i, j])
    if b is not None:
        out += b[None, :, None, None]
    return out


def conv_transpose2d(x, w, b, stride, padding, output_padding, groups, dilation):
    """The scatter definition: out[h s - p + i d] += x[h] w[i] (PyTorch's col2im)."""
    N, Cin, H, W = x.shape
    _, Og, kh, kw = w.shape
    Ho = (H - 1) * stride[0] - 2 * padding[0] + dilation[0] * (kh - 1) + output_padding[0] + 1
    Wo = (W - 1) * stride[1] - 2 * padding[1] + dilation[1] * (kw - 1) + output_padding[1] + 1
    full = np.zeros(
        (
            N,
            Og * groups,
            max(Ho + padding[0], (H - 1) * stride[0] + dilation[0] * (kh - 1) + 1),
            max(Wo + padding[1], (W - 1) * stride[1] + dilation[1] * (kw - 1) + 1),
        )
    )
    Ig = Cin // groups
    for g in range(groups):
        xg = x[:, g * Ig : (g + 1) * Ig]
        for i in range(kh):
            for j in range(kw):
                r0, c0 = i * dilation[0], j * dilation[1]
                full[
                    :,
                    g * Og : (g + 1) * Og,
                    r0 : r0 + stride[0] * (H - 1) + 1 : stride[0],
                    c0 : c0 + stride[1] * (W - 1) + 1 : stride[1],
                ] += np.einsum("nchw,cd->ndhw", xg, w[g * Ig : (g + 1) * Ig, :, i, j])
    out = full[:, :, padding[0] : padding[0] + Ho, padding[1] : padding[1] + Wo]
    if b is not None:
        out = out + b[None, :, None, None]
    return out


def pool_out_size(size, k, s, p, d, ceil_mode):
    num = size + 2 * p - d * (k - 1) - 1
    out = (-(-num // s) if ceil_mode else num // s) + 1
    if ceil_mode and (out - 1) * s >= size + p:
        out -= 1
    return out


def max_pool2d(x, k, s, p, d, ceil_mode):
    H, W = x.shape[-2:]
    Ho = pool_out_size(H, k[0], s[0], p[0], d[0], ceil_mode)
    Wo = pool_out_size(W, k[1], s[1], p[1], d[1], ceil_mode)
    out = np.full(x.shape[:-2] + (Ho, Wo), -np.inf)
    for oh in range(Ho):
        for ow in range(Wo):
            for i in range(k[0]):
                for j in range(k[1]):
                    h, w = oh * s[0] - p[0] + i * d[0], ow * s[1] - p[1] + j * d[1]
                    if 0 <= h < H and 0 <= w < W:
                        out[..., oh, ow] = np.maximum(out[..., oh, ow], x[..., h, w])
    return out


def avg_pool2d(x, k, s, p, ceil_mode, count_include_pad, divisor_override=None):
    H, W = x.shape[-2:]
    Ho = pool_out_size(H, k[0], s[0], p[0], 1, ceil_mode)
    Wo = pool_out_size(W, k[1], s[1], p[1], 1, ceil_mode)
    out = np.zeros(x.shape[:-2] + (Ho, Wo))
    for oh in range(Ho):
        for ow in range(Wo):
            hs, ws = oh * s[0] - p[0], ow * s[1] - p[1]
            he, we = min(hs + k[0], H + p[0]), min(ws + k[1], W + p[1])
            pool = (he - hs) * (we - ws)
            hs, ws, he, we = max(hs, 0), max(ws, 0), min(he, H), min(we, W)
            total = x[..., hs:he, ws:we].sum(axis=(-2, -1))
            div = divisor_override or (pool if count_include_pad else (he - hs) * (we - ws))
            out[..., oh, ow] = total / div
    return out


def adaptive_avg_pool2d(x, out_size):
    H, W = x.shape[-2:]
    oh, ow = out_size
    out = np.zeros(x.shape[:-2] + (oh, ow))
    for i in range(oh):
        h0, h1 = (i * H) // oh, -(-((i + 1) * H) // oh)
        for j in range(ow):
            w0, w1 = (j * W) // ow, -(-((j + 1) * W) // ow)
            out[..., i, j] = x[..., h0:h1, w0:w1].mean(axis=(-2, -1))
    return out


def batch_norm_train(x, weight, bias, eps):
    axes = (0,) + tuple(range(2, x.ndim))
    shape = (1, -1) + (1,) * (x.ndim - 2)
    mean, var = x.mean(axis=axes), x.var(axis=axes)
    y = (x - mean.reshape(shape)) / np.sqrt(var.reshape(shape) + eps)
    n = x.size // x.shape[1]
    return y * weight.reshape(shape) + bias.reshape(shape), mean, var * n / (n - 1)


def batch_norm_eval(x, rm, rv, weight, bias, eps):
    shape = (1, -1) + (1,) * (x.ndim - 2)
    y = (x - rm.reshape(shape)) / np.sqrt(rv.reshape(shape) + eps)
    return y * weight.reshape(shape) + bias.reshape(shape)


def layer_norm(x, n_axes, weight, bias, eps):
    axes = tuple(range(x.ndim - n_axes, x.ndim))
    mean, var = x.mean(axis=axes, keepdims=True), x.var(axis=axes, keepdims=True)
    return (x - mean) / np.sqrt(var + eps) * weight + bias


# ----------------------------------------------------------------------------- losses


def reduce(loss, reduction):
    return {"mean": np.mean, "sum": np.sum, "none": lambda v: v}[reduction](loss)


def nll_loss(logp, target, weight=None, ignore_index=-100, reduction="mean"):
    """logp (N, C, ...) or (C,), target (N, ...) or ()."""
    if logp.ndim == 1:
        logp, target = logp[None], np.asarray(target)[None]
        squeeze = True
    else:
        squeeze = False
    C = logp.shape[1]
    w = np.ones(C) if weight is None else weight
    lp = np.moveaxis(logp, 1, -1).reshape(-1, C)
    t = target.reshape(-1)
    loss, wsum = np.zeros(t.shape), 0.0
    for i, ti in enumerate(t):
        if ti == ignore_index:
            continue
        loss[i] = -w[ti] * lp[i, ti]
        wsum += w[ti]
    loss = loss.reshape(target.shape)
    if reduction == "none":
        return loss[0] if squeeze else loss
    if reduction == "sum":
        return loss.sum()
    return loss.sum() / wsum


def cross_entropy(x, target, weight=None, ignore_index=-100, reduction="mean", ls=0.0):
    cdim = 1 if x.ndim >= 2 else 0
    C = x.shape[cdim]
    logp = log_softmax(x, cdim)
    wshape = (-1,) + (1,) * (x.ndim - cdim - 1)
    if target.dtype.kind == "f":
        t = target * (1 - ls) + ls / C
        w = 1.0 if weight is None else weight.reshape(wshape)
        loss = -(logp * t * w).sum(axis=cdim)
        if reduction == "mean":
            return loss.sum() / (x.size // C)
        return reduce(loss, reduction)
    nll = nll_loss(logp, target, weight, ignore_index, reduction)
    if ls == 0:
        return nll
    w = np.ones(C) if weight is None else weight
    smooth = -(logp * w.reshape(wshape)).sum(axis=cdim)
    valid = target != ignore_index
    smooth = np.where(valid, smooth, 0.0)
    if reduction == "mean":
        wsum = w[target[valid]].sum()
        smooth = smooth.sum() / wsum
    elif reduction == "sum":
        smooth = smooth.sum()
    return (1 - ls) * nll + smooth * ls / C
