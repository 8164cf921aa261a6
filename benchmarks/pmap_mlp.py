"""pmap_mlp: the MLP SGD step (784-256-256-10, batch 1024) under pmap over 1 and 2 CPU devices.

The global batch of 1024 is split over the devices; each device's shard computes its gradient in
its own thread, the gradients are averaged with ``lax.pmean``, and every device applies the same
update. Variants: ``numpy`` (the hand-written step on the whole batch), ``funcgrad`` (pmap over 1
device) and ``pmap 2 devices``; ``report`` gives the speed-up from 1 to 2 devices (the target is
1.6x on an otherwise idle 2-core machine). BLAS is limited to one thread per shard (with
threadpoolctl when installed): OpenBLAS's own threads would compete with the shard threads.
"""

import contextlib
import os
import time

import numpy as np

import funcgrad as fg
import funcgrad.numpy as fnp
from benchmarks import Variant, assert_close
from benchmarks.mlp import LR, SIZES, init_params, loss_fn, numpy_step
from funcgrad import lax
from funcgrad.core.backend import Device

NAME = "pmap_mlp"
DESCRIPTION = "MLP SGD step 784-256-256-10, batch 1024, pmap over 1 and 2 virtual CPU devices"
BATCH = 1024

try:
    from threadpoolctl import threadpool_limits
except ImportError:  # BLAS keeps its own threads
    threadpool_limits = None

_loss_and_grad = fg.value_and_grad(loss_fn)


def shard_step(params, x, y):
    loss, grads = _loss_and_grad(params, x, y)
    loss, grads = lax.pmean((loss, grads), "batch")
    return loss, fg.tree_util.tree_map(lambda p, g: p - LR * g, params, grads)


def _one_blas_thread():
    if threadpool_limits is None:
        return contextlib.nullcontext()
    return threadpool_limits(limits=1, user_api="blas")


def _pmapped(n):
    # Virtual CPU devices 0..n-1, named directly so that the process's setting stays as it is.
    devices = [Device("cpu", i) for i in range(n)]
    step = fg.pmap(shard_step, "batch", in_axes=(None, 0, 0), out_axes=None, devices=devices)

    def run(params, x, y):
        with _one_blas_thread():
            return step(params, x.reshape((n, -1, x.shape[-1])), y.reshape((n, -1, y.shape[-1])))

    return run


_times: dict[str, float] = {}


def setup():
    rng = np.random.default_rng(0)
    params = init_params(rng)
    x = rng.standard_normal((BATCH, SIZES[0])).astype(np.float32)
    y = np.eye(SIZES[-1], dtype=np.float32)[rng.integers(0, SIZES[-1], BATCH)]
    np_params = {k: v.copy() for k, v in params.items()}
    np_loss = numpy_step(np_params, x, y)
    fg_params = fg.tree_util.tree_map(fnp.asarray, params)
    fx, fy = fnp.asarray(x), fnp.asarray(y)
    step1, step2 = _pmapped(1), _pmapped(2)
    expected = (np_loss, np_params)
    assert_close(step1(fg_params, fx, fy), expected, f"{NAME} (1 device)", rtol=1e-4, atol=1e-5)
    assert_close(step2(fg_params, fx, fy), expected, f"{NAME} (2 devices)", rtol=1e-4, atol=1e-5)

    def numpy_run():
        with _one_blas_thread():
            return numpy_step(np_params, x, y)

    return {
        "numpy": Variant(numpy_run),
        "funcgrad": Variant(lambda: step1(fg_params, fx, fy)),
        "pmap 2 devices": Variant(lambda: step2(fg_params, fx, fy), target_ratio=1 / 1.6),
    }


def report() -> list[str]:
    """The speed-up from 1 to 2 devices (medians of a few steps) and the machine's load."""
    vs = setup()
    medians = {}
    for name in ("funcgrad", "pmap 2 devices"):
        fn = vs[name].fn
        fn()
        times = []
        for _ in range(7):
            t = time.perf_counter()
            fn()
            times.append(time.perf_counter() - t)
        medians[name] = float(np.median(times))
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    blas = "1 BLAS thread per shard" if threadpool_limits else "BLAS threads not limited"
    speedup = medians["funcgrad"] / medians["pmap 2 devices"]
    return [
        f"pmap speed-up 1 -> 2 devices: {speedup:.2f}x ({medians['funcgrad'] * 1e3:.1f} ms -> "
        f"{medians['pmap 2 devices'] * 1e3:.1f} ms; {blas}; {os.cpu_count()} cores, "
        f"load average {load:.2f})"
    ]
