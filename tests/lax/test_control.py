"""lax.scan, cond, switch, fori_loop, while_loop, map: values, derivatives, vmap and errors.

Each primitive is checked against the equivalent unrolled Python code, and its derivatives
against central differences (check_grads, second order) and the unrolled code's.
"""

import numpy as np
import pytest

import funcgrad as fg
import funcgrad.numpy as fnp
from funcgrad import lax
from tests.helpers import check_close, check_grads, check_vmap

rng = np.random.default_rng(0)
W = rng.standard_normal(3) * 0.5
XS = rng.standard_normal((4, 3)) * 0.5
C0 = rng.standard_normal(3) * 0.5


def _cell(w, c, x):
    h = fnp.tanh(c * w + x)
    return h, (h * x).sum()


def scan_fn(w, c, xs, reverse=False):
    c, ys = lax.scan(lambda c, x: _cell(w, c, x), c, xs, reverse=reverse)
    return c.sum() * 2.0 + (ys * ys).sum()


def unrolled_fn(w, c, xs, reverse=False):
    ys = []
    rows = list(xs)[::-1] if reverse else list(xs)
    for x in rows:
        c, y = _cell(w, c, x)
        ys.append(y)
    return c.sum() * 2.0 + sum(y * y for y in ys)


# --------------------------------------------------------------------------------------------
# scan


def test_scan_matches_a_python_loop_on_pytrees():
    xs = {"a": fnp.asarray(XS), "b": fnp.asarray(np.arange(4.0))}

    def f(carry, x):
        h, n = carry
        h = h * 0.5 + x["a"] * x["b"]
        return (h, n + 1), {"h": h, "s": h.sum()}

    (h, n), ys = lax.scan(f, (fnp.asarray(C0), 0), xs)
    h_ref, rows = C0, []
    for i in range(4):
        h_ref = h_ref * 0.5 + XS[i] * i
        rows.append(h_ref)
    check_close(h, h_ref)
    assert int(n) == 4
    check_close(ys["h"], np.stack(rows))
    check_close(ys["s"], np.stack(rows).sum(1))


def test_scan_reverse_none_xs_and_empty():
    xs = fnp.asarray(np.arange(4.0))
    c, ys = lax.scan(lambda c, x: (c + x, c), 0.0, xs, reverse=True)
    check_close(c, 6.0)
    check_close(ys, np.array([6.0, 5.0, 3.0, 0.0]))  # ys keep the order of xs
    c, ys = lax.scan(lambda c, _: (c * 2.0, c), fnp.asarray(1.0), None, length=3)
    check_close(c, 8.0)
    check_close(ys, np.array([1.0, 2.0, 4.0]))
    c, ys = lax.scan(lambda c, x: (c + x.sum(), x * 2.0), fnp.asarray(1.0), fnp.zeros((0, 2)))
    check_close(c, 1.0)
    assert ys.shape == (0, 2) and ys.dtype == np.float32
    assert lax.scan(lambda c, x: (c, x), 0.0, xs, unroll=2)[1].shape == (4,)


def test_scan_weak_init_takes_the_body_dtype():
    c, _ = lax.scan(lambda c, x: (c + x, None), 0.0, fnp.asarray(np.arange(3.0)))
    assert c.dtype == np.float64


@pytest.mark.parametrize("reverse", [False, True])
def test_scan_grads(reverse):
    f = lambda w, c, xs: scan_fn(w, c, xs, reverse)  # noqa: E731
    check_grads(f, (W, C0, XS), order=2)
    g = fg.grad(f, (0, 1, 2))(W, C0, XS)
    ref = lambda w, c, xs: unrolled_fn(w, c, xs, reverse)  # noqa: E731
    check_close(g, fg.grad(ref, (0, 1, 2))(W, C0, XS), atol=1e-10)
    check_close(fg.hessian(f)(W, C0, XS), fg.hessian(ref)(W, C0, XS), atol=1e-9)


def test_scan_vmap():
    ws = rng.standard_normal((2, 3))
    cs = rng.standard_normal((3, 2))
    xss = rng.standard_normal((4, 2, 3))
    check_vmap(scan_fn, (ws, C0, XS), (0, None, None))
    check_vmap(scan_fn, (W, cs, XS), (None, 1, None))
    check_vmap(scan_fn, (W, C0, xss), (None, None, 1))
    check_vmap(scan_fn, (ws, cs.T, xss), (0, 0, 1))

    def ys_fn(w, xs):
        return lax.scan(lambda c, x: (c + x * w, c * x), fnp.zeros(3, np.float64), xs)

    check_vmap(ys_fn, (ws, XS), (0, None))
    check_vmap(ys_fn, (W, np.moveaxis(xss, 1, 0)), (None, 0))


def test_scan_vmap_of_grad_and_grad_of_vmap():
    ws = rng.standard_normal((2, 3))
    per = fg.vmap(fg.grad(scan_fn), (0, None, None))(ws, C0, XS)
    ref = np.stack([fg.grad(unrolled_fn)(w, C0, XS) for w in ws])
    check_close(per, ref, atol=1e-10)
    g = fg.grad(lambda ws: fg.vmap(scan_fn, (0, None, None))(ws, C0, XS).sum())(ws)
    check_close(g, ref, atol=1e-10)


def test_scan_jvp_matches_unrolled():
    tangents = (np.ones(3), np.zeros(3), np.ones((4, 3)))
    out = fg.jvp(scan_fn, (W, C0, XS), tangents)
    ref = fg.jvp(unrolled_fn, (W, C0, XS), tangents)
    check_close(out, ref, atol=1e-10)


def test_scan_closes_over_an_outer_array_and_outer_tracers():
    w = fnp.asarray(W)

    def closed(c, xs):  # the body closes over the outer array w
        return lax.scan(lambda c, x: _cell(w, c, x), c, xs)[1].sum()

    check_close(closed(C0, XS), sum(_cell_ys(W, C0, XS)))

    def over_w(w):  # a grad tracer captured by closure becomes an operand of scan
        return lax.scan(lambda c, x: _cell(w, c, x), fnp.asarray(C0), fnp.asarray(XS))[1].sum()

    ref = fg.grad(lambda w: sum(_cell_ys(w, C0, XS)))(W)
    check_close(fg.grad(over_w)(W), ref, atol=1e-10)
    check_grads(over_w, (W,), order=2)
    # a vmap tracer captured by closure
    ws = rng.standard_normal((2, 3))
    check_close(fg.vmap(over_w)(ws), np.array([sum(_cell_ys(w, C0, XS)) for w in ws]), atol=1e-10)


def _cell_ys(w, c, xs):
    ys = []
    for x in xs:
        c, y = _cell(fnp.asarray(w), c, x)
        ys.append(y)
    return ys


def test_scan_body_with_python_branch_on_traced_value_errors():
    with pytest.raises(TypeError, match="lax.cond"):
        lax.scan(lambda c, x: (c if x > 0 else -c, None), 1.0, fnp.arange(3.0))


def test_scan_type_errors():
    xs = fnp.ones((3, 2))
    with pytest.raises(TypeError, match=r"init\[1\] is f32\[2\] on input and f32\[1,2\]"):
        lax.scan(lambda c, x: ((c[0], c[1][None]), x), (fnp.asarray(1.0), fnp.ones(2)), xs)
    with pytest.raises(TypeError, match=r"init is f32\[\] on input and f64\[\] on output"):
        lax.scan(lambda c, x: (c + np.float64(1), x), fnp.asarray(1.0), xs)
    with pytest.raises(TypeError, match="same structure"):
        lax.scan(lambda c, x: ((c, c), x), fnp.asarray(1.0), xs)
    with pytest.raises(TypeError, match=r"xs\['a'\] has 3 .* xs\['b'\] has 2"):
        lax.scan(lambda c, x: (c, None), 0.0, {"a": fnp.ones(3), "b": fnp.ones(2)})
    with pytest.raises(TypeError, match=r"length=2 but xs has leading axis size 3"):
        lax.scan(lambda c, x: (c, None), 0.0, xs, length=2)
    with pytest.raises(TypeError, match="pair"):
        lax.scan(lambda c, x: c, 0.0, xs)
    with pytest.raises(ValueError, match="length"):
        lax.scan(lambda c, x: (c, None), 0.0, None)


def test_map():
    out = lax.map(lambda x: (x * x).sum(), fnp.asarray(XS))
    check_close(out, (XS * XS).sum(1))
    check_grads(lambda xs: lax.map(fnp.sin, xs), (XS,), order=2)


# --------------------------------------------------------------------------------------------
# cond / switch


def cond_fn(p, x, y):
    return lax.cond(p > 0, lambda x, y: fnp.sin(x) * y, lambda x, y: x * x - y, x, y)


def cond_ref(p, x, y):
    return fnp.sin(x) * y if float(p) > 0 else x * x - y


def switch_fn(i, x):
    return lax.switch(i, [lambda x: fnp.sin(x), lambda x: x * x, lambda x: fnp.exp(-x)], x)


def test_cond_and_switch_values():
    x, y = fnp.asarray(W), fnp.asarray(C0)
    for p in (1.0, -1.0):
        check_close(cond_fn(p, x, y), cond_ref(p, x, y))
    refs = [np.sin(W), W * W, np.exp(-W)]
    for i, ref in zip([-3, 0, 1, 2, 7], [0, 0, 1, 2, 2]):  # the index is clamped
        check_close(switch_fn(i, x), refs[ref])
    check_close(lax.cond(True, lambda: 1.0, lambda: 2.0), 1.0)
    check_close(lax.cond(0, lambda a: a["k"], lambda a: -a["k"], {"k": x}), -W)


@pytest.mark.parametrize("p", [1.0, -1.0])
def test_cond_grads(p):
    check_grads(lambda x, y: cond_fn(p, x, y), (W, C0), order=2)
    g = fg.grad(lambda x, y: cond_fn(p, x, y).sum(), (0, 1))(W, C0)
    g_ref = fg.grad(lambda x, y: cond_ref(p, x, y).sum(), (0, 1))(W, C0)
    check_close(g, g_ref, atol=1e-12)


@pytest.mark.parametrize("i", [0, 1, 2])
def test_switch_grads(i):
    check_grads(lambda x: switch_fn(i, x), (W,), order=2)


def test_cond_closes_over_a_grad_tracer():
    def f(w, x):
        return lax.cond(x.sum() > 0, lambda x: x * w, lambda x: x + w, x).sum()

    check_grads(f, (W, np.abs(C0)), order=2)
    check_grads(f, (W, -np.abs(C0)), order=2)
    check_close(fg.grad(f)(W, np.abs(C0)), np.abs(C0))


def test_cond_vmap_unbatched_and_batched_predicate():
    xs = rng.standard_normal((5, 3))
    ps = np.array([1.0, -1.0, 2.0, -2.0, 0.5])
    check_vmap(cond_fn, (1.0, xs, C0), (None, 0, None))  # the predicate is not batched
    check_vmap(cond_fn, (ps, W, C0), (0, None, None))  # a batched predicate
    check_vmap(cond_fn, (ps, xs, xs.T), (0, 0, 1))
    check_vmap(switch_fn, (np.array([0, 1, 2, 5, -1]), xs), (0, 0))
    # derivatives of the batched-predicate form
    per = fg.vmap(fg.grad(lambda p, x: cond_fn(p, x, fnp.asarray(C0)).sum(), 1))(ps, xs)
    ref = [fg.grad(lambda x, p=p: cond_ref(p, x, fnp.asarray(C0)).sum())(x) for p, x in zip(ps, xs)]
    check_close(per, np.stack(ref), atol=1e-12)


def test_cond_jvp_matches_unrolled():
    for p in (1.0, -1.0):
        out = fg.jvp(lambda x, y, p=p: cond_fn(p, x, y), (W, C0), (np.ones(3), np.ones(3)))
        ref = fg.jvp(lambda x, y, p=p: cond_ref(p, x, y), (W, C0), (np.ones(3), np.ones(3)))
        check_close(out, ref, atol=1e-12)


def test_cond_type_errors():
    x = fnp.ones(3)
    with pytest.raises(TypeError, match=r"true_fun returns f32\[2\]"):
        lax.cond(True, lambda x: x[:2], lambda x: x, x)
    with pytest.raises(TypeError, match=r"false_fun returns f32\[3\] and true_fun returns f64"):
        lax.cond(True, lambda x: x.astype(np.float64), lambda x: x, x)
    with pytest.raises(TypeError, match=r"returns \(f32\[3\], f32\[3\]\)"):
        lax.cond(True, lambda x: (x, x), lambda x: x, x)
    with pytest.raises(TypeError, match=r"branch 0 returns .* branch 1 returns"):
        lax.switch(0, [lambda x: x, lambda x: x.sum()], x)
    with pytest.raises(TypeError, match="scalar"):
        lax.cond(fnp.ones(2) > 0, lambda: 1.0, lambda: 2.0)
    with pytest.raises(TypeError, match="integer scalar"):
        lax.switch(0.5, [lambda: 1.0], ())


# --------------------------------------------------------------------------------------------
# nested control flow


def nested_fn(w, xs):
    def inner(c):
        return lax.scan(lambda a, b: (fnp.sin(a * b) + w, a.sum()), c, xs[:2])

    def body(c, x):
        c = lax.cond(x.sum() > 0, lambda c: inner(c)[0], lambda c: c * w, c)
        return c, c.sum()

    c, ys = lax.scan(body, w, xs)
    return c.sum() + (ys * ys).sum()


def nested_ref(w, xs):
    c, ys = w, []
    for x in xs:
        if float(x.sum()) > 0:
            a = c
            for b in xs[:2]:
                a = fnp.sin(a * b) + w
            c = a
        else:
            c = c * w
        ys.append(c.sum())
    return c.sum() + sum(y * y for y in ys)


def test_nested_control_flow_with_grad():
    xs = fnp.asarray(XS)
    assert {float(x.sum()) > 0 for x in xs} == {True, False}  # both branches are taken
    check_close(nested_fn(W, xs), nested_ref(W, xs), atol=1e-12)
    check_close(fg.grad(nested_fn)(W, xs), fg.grad(nested_ref)(W, xs), atol=1e-10)
    check_grads(nested_fn, (W, XS), order=2, atol=1e-4, rtol=1e-4)
    ws = rng.standard_normal((2, 3)) * 0.5
    check_vmap(nested_fn, (ws, XS), (0, None))


# --------------------------------------------------------------------------------------------
# fori_loop / while_loop


def fori_fn(x, w):
    return lax.fori_loop(1, 4, lambda i, c: fnp.sin(c * w) + i * 0.5, x)


def fori_ref(x, w):
    for i in range(1, 4):
        x = fnp.sin(x * w) + i * 0.5
    return x


def test_fori_loop_static_bounds_is_reverse_differentiable():
    check_close(fori_fn(C0, W), fori_ref(fnp.asarray(C0), fnp.asarray(W)), atol=1e-12)
    check_grads(fori_fn, (C0, W), order=2)
    g = fg.grad(lambda x, w: fori_fn(x, w).sum(), (0, 1))(C0, W)
    check_close(g, fg.grad(lambda x, w: fori_ref(x, w).sum(), (0, 1))(C0, W), atol=1e-12)
    check_vmap(fori_fn, (rng.standard_normal((2, 3)), W), (0, None))
    check_close(lax.fori_loop(3, 1, lambda i, c: c + 1.0, 0.0), 0.0)


def test_fori_loop_traced_bounds_is_a_while_loop():
    def f(n, x):
        return lax.fori_loop(0, n, lambda i, c: c * 2.0 + i, x)

    check_vmap(f, (np.array([0, 1, 3]), np.ones(3)), (0, 0))
    t = fg.jvp(lambda x: f(fnp.asarray(3), x), (np.float64(1.0),), (np.float64(1.0),))
    check_close(t, (8.0 + 4.0, 8.0))
    with pytest.raises(TypeError, match="fori_loop with static"):
        fg.grad(lambda x: fg.vmap(f, (0, None))(fnp.asarray([1, 2]), x).sum())(np.float64(1.0))


def while_fn(x):
    # Newton's iteration for sqrt(2) with a data-dependent number of steps, scaled by x.
    def cond_fun(c):
        return fnp.abs(c[0] * c[0] - 2.0) > 1e-10

    def body_fun(c):
        y, k = c
        return (y - (y * y - 2.0) / (2.0 * y), k + 1)

    y, k = lax.while_loop(cond_fun, body_fun, (fnp.asarray(np.float64(1.0)), 0))
    return y * x, k


def test_while_loop_forward_and_jvp():
    y, k = while_fn(fnp.asarray(W))
    check_close(y, np.sqrt(2.0) * W)
    assert int(k) == 4
    check_grads(lambda x: while_fn(x)[0], (W,), order=2, modes=("fwd",))

    def pow_loop(x):  # x ** 8 by repeated squaring, with the loop counter in the carry
        return lax.while_loop(lambda c: c[0] < 3, lambda c: (c[0] + 1, c[1] * c[1]), (0, x))[1]

    check_grads(pow_loop, (W,), order=2, modes=("fwd",))
    check_close(fg.jacfwd(pow_loop)(W), np.diag(8 * W**7), atol=1e-12)


def test_while_loop_vmap():
    def collatz_steps(n):
        def body(c):
            n, k = c
            return fnp.where(n % 2 == 0, n // 2, 3 * n + 1), k + 1

        return lax.while_loop(lambda c: c[0] != 1, body, (n, 0))[1]

    ns = np.array([1, 2, 3, 6, 7])
    check_vmap(collatz_steps, (ns,), (0,))  # a batched predicate

    def scaled(x, s):  # the predicate does not depend on the batched value
        return lax.while_loop(lambda c: c[0] < 3, lambda c: (c[0] + 1, c[1] * s), (0, x))[1]

    check_vmap(scaled, (rng.standard_normal((4, 3)), 2.0), (0, None))
    check_vmap(scaled, (W, rng.standard_normal(4)), (None, 0))


def test_while_loop_reverse_mode_raises():
    with pytest.raises(TypeError, match="reverse-mode differentiation .* not supported"):
        fg.grad(lambda x: lax.while_loop(lambda c: c.sum() < 10.0, lambda c: c * 2.0, x).sum())(W)


def test_while_loop_type_errors():
    with pytest.raises(TypeError, match=r"init_val is i64\[\] on input and f"):
        lax.while_loop(lambda c: c < 3, lambda c: c * 1.5, fnp.asarray(1))
    with pytest.raises(TypeError, match="boolean scalar"):
        lax.while_loop(lambda c: c, lambda c: c, fnp.ones(2))
