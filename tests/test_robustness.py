"""Robustness: thread safety of the trace stack, no memory growth, inputs never modified."""

from __future__ import annotations

import gc
import threading
import tracemalloc

import numpy as np

import funcgrad as fg
import funcgrad.numpy as fnp


def loss(w, x):
    h = fnp.tanh(x @ w)
    return fnp.mean(h**2) + fnp.sum(fnp.sin(w))


def test_gradients_in_8_threads_equal_sequential():
    rng = np.random.default_rng(0)
    ws = [rng.standard_normal((4, 3)) for _ in range(8)]
    xs = [rng.standard_normal((5, 4)) for _ in range(8)]
    g = fg.grad(loss)
    expected = [np.asarray(fg.grad(loss)(w, x)) for w, x in zip(ws, xs)]

    def hvp_like(w, x):
        return np.asarray(fg.grad(lambda w: fnp.sum(fg.grad(loss)(w, x) ** 2))(w))

    hess = [hvp_like(w, x) for w, x in zip(ws, xs)]
    results = [None] * 8
    errors = []
    barrier = threading.Barrier(8)

    def work(i):
        try:
            barrier.wait()
            for _ in range(20):
                a = np.asarray(g(ws[i], xs[i]))
                b = np.asarray(fg.grad(lambda w: fnp.sum(fg.grad(loss)(w, xs[i]) ** 2))(ws[i]))
            results[i] = (a, b)
        except Exception as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    for (a, b), e, h in zip(results, expected, hess):
        np.testing.assert_array_equal(a, e)
        np.testing.assert_array_equal(b, h)


def test_10000_grad_calls_do_not_grow_memory():
    w = np.random.default_rng(1).standard_normal((3, 3))
    x = np.random.default_rng(2).standard_normal((2, 3))
    g = fg.grad(loss)
    for _ in range(200):
        g(w, x)
    gc.collect()
    tracemalloc.start()
    try:
        for _ in range(2000):
            g(w, x)
        gc.collect()
        first, _ = tracemalloc.get_traced_memory()
        for _ in range(8000):
            g(w, x)
        gc.collect()
        second, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # A leaked tape would hold several KiB per call: 8000 calls would add megabytes.
    assert second - first < 200_000, (first, second)


def test_tape_is_collected_without_the_cycle_collector():
    gc.disable()
    try:
        w = np.ones((2, 2))
        before = len(gc.get_objects())
        for _ in range(100):
            fg.grad(lambda w: fnp.sum(fnp.sin(w) * w))(w)
        after = len(gc.get_objects())
    finally:
        gc.enable()
    assert after - before < 500, (before, after)


def test_inputs_never_modified():
    rng = np.random.default_rng(3)
    w = rng.standard_normal((4, 3))
    x = rng.standard_normal((5, 4))
    w0, x0 = w.copy(), x.copy()
    fg.grad(loss, argnums=(0, 1))(w, x)
    fg.jvp(loss, (w, x), (np.ones_like(w), np.ones_like(x)))
    out, f_vjp = fg.vjp(loss, w, x)
    ct = np.float64(1.0)
    f_vjp(ct)
    fg.grad(fg.checkpoint(loss))(w, x)
    np.testing.assert_array_equal(w, w0)
    np.testing.assert_array_equal(x, x0)
    assert w.flags.writeable and x.flags.writeable  # the caller's arrays are not locked either
    a = fnp.asarray(w)
    w[0, 0] = 100.0  # later writes to the NumPy source do not reach the Array (it was copied)
    assert float(np.asarray(a)[0, 0]) == w0[0, 0]
