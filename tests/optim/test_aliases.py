"""sgd, adam, adamw, rmsprop, adagrad against NumPy transcriptions of torch.optim, and a table of
optimizers run to convergence on a quadratic and on Rosenbrock."""

import numpy as np
import pytest

import funcgrad as fg
import funcgrad.numpy as fnp
from funcgrad import optim
from tests.optim import torch_reference as ref

N_STEPS = 6
SHAPES = [(3, 2), (4,), ()]


def _problem(seed=0):
    """Initial params and a param-dependent gradient ``g_t(p) = a_t * p + b_t``."""
    rng = np.random.default_rng(seed)
    p0 = [rng.standard_normal(s) for s in SHAPES]
    a = [[rng.uniform(0.5, 2.0, s) for s in SHAPES] for _ in range(N_STEPS)]
    b = [[rng.standard_normal(s) for s in SHAPES] for _ in range(N_STEPS)]

    def grad_fn(params, t):
        return [a[t][i] * np.asarray(p, np.float64) + b[t][i] for i, p in enumerate(params)]

    return p0, grad_fn


def _run(opt, p0, grad_fn, n=N_STEPS, dtype=np.float64):
    names = [f"p{i}" for i in range(len(p0))]
    state = opt.init({k: fnp.asarray(np.asarray(p, dtype)) for k, p in zip(names, p0)})
    history = []
    for t in range(n):
        grads = grad_fn([state.params[k] for k in names], t)
        state = opt.update(state, {k: fnp.asarray(g.astype(dtype)) for k, g in zip(names, grads)})
        history.append([np.asarray(state.params[k]) for k in names])
    return state, history


def _lrs(lr, n=N_STEPS):
    return [float(lr(t)) if callable(lr) else lr for t in range(n)]


CASES = [
    # (funcgrad optimizer, torch reference, hyperparameters)
    (optim.sgd, ref.sgd_ref, dict(lr=0.1)),
    (optim.sgd, ref.sgd_ref, dict(lr=0.1, momentum=0.9)),
    (optim.sgd, ref.sgd_ref, dict(lr=0.1, momentum=0.9, dampening=0.3)),
    (optim.sgd, ref.sgd_ref, dict(lr=0.1, momentum=0.8, nesterov=True)),
    (optim.sgd, ref.sgd_ref, dict(lr=0.05, momentum=0.9, weight_decay=0.1, dampening=0.5)),
    (optim.sgd, ref.sgd_ref, dict(lr=0.05, momentum=0.9, nesterov=True, weight_decay=0.01)),
    (optim.sgd, ref.sgd_ref, dict(lr=0.1, weight_decay=0.2, maximize=True)),
    (optim.adam, ref.adam_ref, dict(lr=0.1)),
    (optim.adam, ref.adam_ref, dict(lr=0.05, betas=(0.8, 0.9), eps=1e-3)),
    (optim.adam, ref.adam_ref, dict(lr=0.1, weight_decay=0.1)),
    (optim.adam, ref.adam_ref, dict(lr=0.1, amsgrad=True)),
    (optim.adam, ref.adam_ref, dict(lr=0.1, amsgrad=True, weight_decay=0.05, betas=(0.5, 0.6))),
    (optim.adam, ref.adam_ref, dict(lr=0.1, maximize=True)),
    (optim.adamw, ref.adamw_ref, dict(lr=0.1)),
    (optim.adamw, ref.adamw_ref, dict(lr=0.1, weight_decay=0.3, amsgrad=True)),
    (optim.adamw, ref.adamw_ref, dict(lr=0.1, weight_decay=0.0, betas=(0.7, 0.95))),
    (optim.rmsprop, ref.rmsprop_ref, dict(lr=0.01)),
    (optim.rmsprop, ref.rmsprop_ref, dict(lr=0.01, alpha=0.9, eps=1e-4)),
    (optim.rmsprop, ref.rmsprop_ref, dict(lr=0.01, centered=True)),
    (optim.rmsprop, ref.rmsprop_ref, dict(lr=0.01, momentum=0.9)),
    (optim.rmsprop, ref.rmsprop_ref, dict(lr=0.01, momentum=0.5, centered=True, weight_decay=0.1)),
    (optim.adagrad, ref.adagrad_ref, dict(lr=0.1)),
    (optim.adagrad, ref.adagrad_ref, dict(lr=0.1, lr_decay=0.3)),
    (optim.adagrad, ref.adagrad_ref, dict(lr=0.1, weight_decay=0.1, initial_accumulator_value=0.5)),
    (optim.adagrad, ref.adagrad_ref, dict(lr=0.1, eps=1e-2, lr_decay=0.1, maximize=True)),
]


def _id(case):
    fn, _, hp = case
    return fn.__name__ + "-" + ",".join(f"{k}={v}" for k, v in hp.items())


@pytest.mark.parametrize("case", CASES, ids=[_id(c) for c in CASES])
def test_matches_torch_reference(case):
    make, reference, hp = case
    p0, grad_fn = _problem()
    _, history = _run(make(**hp), p0, grad_fn)
    expected = reference(p0, grad_fn, _lrs(hp["lr"]), **{k: v for k, v in hp.items() if k != "lr"})
    for t, (got, want) in enumerate(zip(history, expected)):
        for g, w in zip(got, want):
            np.testing.assert_allclose(g, w, rtol=1e-12, atol=1e-13, err_msg=f"step {t}")


@pytest.mark.parametrize("case", CASES[::3], ids=[_id(c) for c in CASES[::3]])
def test_float32_params_stay_float32(case):
    make, reference, hp = case
    p0, grad_fn = _problem(1)
    state, history = _run(make(**hp), p0, grad_fn, dtype=np.float32)
    leaves = fg.tree_util.tree_leaves(state)
    assert all(leaf.dtype in (np.float32, np.int32) for leaf in leaves)  # moments and counts
    assert all(leaf.dtype == np.float32 for leaf in fg.tree_util.tree_leaves(state.params))
    expected = reference(p0, grad_fn, _lrs(hp["lr"]), **{k: v for k, v in hp.items() if k != "lr"})
    for g, w in zip(history[-1], expected[-1]):
        np.testing.assert_allclose(g, w, rtol=1e-4, atol=1e-5)


SCHEDULED = [
    (optim.sgd, ref.sgd_ref, dict(momentum=0.9), optim.step(0.1, 2, gamma=0.5)),
    (optim.adam, ref.adam_ref, dict(weight_decay=0.1), optim.one_cycle(0.1, N_STEPS)),
    (optim.adamw, ref.adamw_ref, dict(weight_decay=0.5), optim.cosine_annealing(0.1, 4)),
    (optim.rmsprop, ref.rmsprop_ref, dict(momentum=0.5), optim.exponential(0.01, 0.8)),
    (optim.adagrad, ref.adagrad_ref, dict(lr_decay=0.2), optim.linear_warmup(0.1, 3)),
]


@pytest.mark.parametrize("case", SCHEDULED, ids=[c[0].__name__ for c in SCHEDULED])
def test_scheduled_lr_matches_torch_scheduler(case):
    # A schedule is the lr PyTorch's scheduler has set before each optimizer.step().
    make, reference, hp, schedule = case
    p0, grad_fn = _problem(2)
    _, history = _run(make(schedule, **hp), p0, grad_fn)
    expected = reference(p0, grad_fn, _lrs(schedule), **hp)
    for got, want in zip(history, expected):
        for g, w in zip(got, want):
            np.testing.assert_allclose(g, w, rtol=1e-12, atol=1e-13)


def test_adamw_decay_is_decoupled():
    # With zero gradients Adam's moments stay zero: AdamW only shrinks, Adam's L2 moves nothing
    # more than its normalised step.
    params = {"w": fnp.asarray(np.array([2.0, -4.0]))}
    zero = {"w": fnp.zeros(2, dtype=fnp.float64)}
    state = optim.adamw(0.1, weight_decay=0.5).update(
        optim.adamw(0.1, weight_decay=0.5).init(params), zero
    )
    np.testing.assert_allclose(np.asarray(state.params["w"]), [2.0 * 0.95, -4.0 * 0.95])


@pytest.mark.parametrize(
    "make",
    [
        lambda: optim.sgd(-1.0),
        lambda: optim.sgd(0.1, momentum=-0.5),
        lambda: optim.sgd(0.1, nesterov=True),
        lambda: optim.sgd(0.1, momentum=0.9, dampening=0.1, nesterov=True),
        lambda: optim.adam(betas=(1.0, 0.999)),
        lambda: optim.adam(eps=-1.0),
        lambda: optim.adamw(weight_decay=-0.1),
        lambda: optim.rmsprop(alpha=-0.1),
        lambda: optim.adagrad(lr_decay=-1.0),
        lambda: optim.adagrad(-0.1, lr_decay=0.1),
    ],
)
def test_bad_hyperparameters_raise(make):
    with pytest.raises(ValueError):
        make()


# Convergence: each optimizer, from a fixed start, reaches the minimum (optax's table of
# optimizers with tuned learning rates and step counts).


def quadratic(p):
    return fnp.sum(fnp.square(p - fnp.asarray(np.array([1.0, -2.0, 3.0]))))


def rosenbrock(p):
    x, y = p[0], p[1]
    return (1.0 - x) ** 2 + 100.0 * (y - x * x) ** 2


CONVERGENCE = [
    # name, optimizer, steps on the quadratic, steps on Rosenbrock (plain gradient descent and
    # plain RMSprop need ~10^4 steps down Rosenbrock's valley: their momentum forms go there)
    ("sgd", optim.sgd(0.1), 100, None),
    ("sgd_momentum", optim.sgd(2e-3, momentum=0.9), 1000, 1000),
    ("sgd_nesterov", optim.sgd(1e-3, momentum=0.9, nesterov=True), 1000, 2000),
    ("sgd_dampening", optim.sgd(4e-3, momentum=0.9, dampening=0.5), 1000, 1000),
    ("adam", optim.adam(0.02), 1000, 1000),
    ("adam_amsgrad", optim.adam(0.02, amsgrad=True), 1000, 1000),
    ("adamw", optim.adamw(0.02, weight_decay=1e-5), 1000, 1000),
    ("rmsprop", optim.rmsprop(0.01), 500, None),
    ("rmsprop_momentum", optim.rmsprop(1e-3, momentum=0.9), 1000, 1000),
    ("rmsprop_centered", optim.rmsprop(1e-3, momentum=0.9, centered=True), 1000, 1000),
    ("adagrad", optim.adagrad(0.5), 300, 6000),
    ("adam_cosine", optim.adam(optim.cosine_annealing(0.05, 1500)), 300, 1500),
    ("clipped_sgd", optim.chain(optim.clip_by_global_norm(10.0), optim.sgd(2e-3, 0.9)), 300, 1000),
]


def _minimise(opt, f, p0, steps):
    df = fg.grad(f)
    state = opt.init(fnp.asarray(np.array(p0)))
    for _ in range(steps):
        state = opt.update(state, df(state.params))
    return np.asarray(state.params)


@pytest.mark.parametrize("name,opt,q_steps,r_steps", CONVERGENCE, ids=[c[0] for c in CONVERGENCE])
def test_converges(name, opt, q_steps, r_steps):
    got = _minimise(opt, quadratic, [0.0, 0.0, 0.0], q_steps)
    np.testing.assert_allclose(got, [1.0, -2.0, 3.0], atol=1e-2)
    if r_steps is not None:
        got = _minimise(opt, rosenbrock, [-1.0, 1.0], r_steps)
        np.testing.assert_allclose(got, [1.0, 1.0], atol=1e-2)


def test_numpy_scalar_hyperparameters_keep_float32():
    f64 = np.float64
    p = {"w": fnp.ones(3, dtype=fnp.float32)}
    for opt in [
        optim.sgd(f64(0.1), momentum=f64(0.9), weight_decay=f64(0.1)),
        optim.adam(f64(0.01), betas=(f64(0.9), f64(0.99)), eps=f64(1e-8)),
        optim.rmsprop(lambda count: f64(0.01), alpha=f64(0.9)),
        optim.adagrad(f64(0.1), lr_decay=f64(0.1)),
    ]:
        state = opt.update(opt.init(p), {"w": fnp.ones(3, dtype=fnp.float32)})
        assert state.params["w"].dtype == np.float32
