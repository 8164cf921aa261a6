"""Schedules against closed forms and against PyTorch's schedulers stepped recursively."""

import math

import numpy as np
import pytest

import funcgrad as fg
import funcgrad.numpy as fnp
from funcgrad import optim
from tests.optim import torch_reference as ref


def _values(schedule, n):
    return np.array([float(schedule(t)) for t in range(n)])


def test_constant():
    assert float(optim.constant(0.3)(0)) == 0.3 == float(optim.constant(0.3)(1000))


def test_step_closed_form_and_torch():
    got = _values(optim.step(0.1, step_size=3, gamma=0.5), 12)
    np.testing.assert_allclose(got, [0.1 * 0.5 ** (t // 3) for t in range(12)], rtol=1e-15)
    np.testing.assert_allclose(got, ref.step_lr_ref(0.1, 3, 0.5, 12), rtol=1e-15)


def test_multi_step():
    got = _values(optim.multi_step(1.0, [2, 5], gamma=0.1), 7)
    np.testing.assert_allclose(got, [1, 1, 0.1, 0.1, 0.1, 0.01, 0.01], rtol=1e-15)


def test_exponential():
    got = _values(optim.exponential(0.2, 0.9), 10)
    np.testing.assert_allclose(got, [0.2 * 0.9**t for t in range(10)], rtol=1e-14)


@pytest.mark.parametrize("T_max,eta_min", [(10, 0.0), (7, 0.01)])
def test_cosine_annealing_closed_form_and_torch(T_max, eta_min):
    n = 3 * T_max + 2  # past T_max PyTorch's cosine turns back up; so does ours
    got = _values(optim.cosine_annealing(0.1, T_max, eta_min), n)
    closed = [eta_min + (0.1 - eta_min) * (1 + math.cos(math.pi * t / T_max)) / 2 for t in range(n)]
    np.testing.assert_allclose(got, closed, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(got, ref.cosine_annealing_lr_ref(0.1, T_max, eta_min, n), atol=1e-12)
    assert got[0] == pytest.approx(0.1) and got[T_max] == pytest.approx(eta_min)


def test_linear_and_linear_warmup():
    # LinearLR(start_factor=1/3, end_factor=1, total_iters=5)
    got = _values(optim.linear(0.3), 8)
    want = [0.3 * (1 / 3 + (2 / 3) * min(t, 5) / 5) for t in range(8)]
    np.testing.assert_allclose(got, want, rtol=1e-14)
    got = _values(optim.linear_warmup(1.0, 4), 7)
    np.testing.assert_allclose(got, [0.0, 0.25, 0.5, 0.75, 1.0, 1.0, 1.0], atol=1e-15)


def test_linear_warmup_then():
    # SequentialLR([LinearLR(0.5, 1, 2), ExponentialLR(0.5)], milestones=[2])
    got = _values(
        optim.linear_warmup(1.0, 2, start_factor=0.5, then=optim.exponential(1.0, 0.5)), 6
    )
    np.testing.assert_allclose(got, [0.5, 0.75, 1.0, 0.5, 0.25, 0.125], rtol=1e-14)


@pytest.mark.parametrize(
    "kw",
    [
        dict(max_lr=0.1, total_steps=100),
        dict(max_lr=1.0, total_steps=17, pct_start=0.25, div_factor=10, final_div_factor=100),
        dict(max_lr=0.5, total_steps=20, anneal="linear"),
    ],
)
def test_one_cycle_matches_torch(kw):
    total = kw["total_steps"]
    got = _values(optim.one_cycle(**kw), total + 1)
    want = ref.one_cycle_lr_ref(**kw)
    np.testing.assert_allclose(got, want, rtol=1e-12)
    initial = kw["max_lr"] / kw.get("div_factor", 25.0)
    assert got[0] == pytest.approx(initial)
    assert got.max() == pytest.approx(kw["max_lr"], rel=1e-2)
    # past the end it holds its last value (PyTorch raises)
    assert float(optim.one_cycle(**kw)(total + 50)) == pytest.approx(got[total])


def test_schedules_take_array_counts_and_vmap():
    # Counts live in the optimizer state as int32 Arrays (batched under vmap).
    counts = fnp.arange(12, dtype=fnp.int32)
    for sched in [
        optim.step(0.1, 3),
        optim.cosine_annealing(0.1, 5),
        optim.one_cycle(0.1, 10),
        optim.linear_warmup(0.1, 4, then=optim.exponential(0.1, 0.9)),
    ]:
        got = np.asarray(fg.vmap(sched)(counts))
        np.testing.assert_allclose(got, _values(sched, 12), rtol=1e-14)


@pytest.mark.parametrize(
    "make",
    [
        lambda: optim.step(0.1, 0),
        lambda: optim.cosine_annealing(0.1, 0),
        lambda: optim.linear(0.1, total_iters=0),
        lambda: optim.one_cycle(0.1, 0),
        lambda: optim.one_cycle(0.1, 10, pct_start=1.5),
        lambda: optim.one_cycle(0.1, 10, anneal="exp"),
        lambda: optim.one_cycle(0.1, 10, pct_start=0.1),  # a phase of zero length
    ],
)
def test_bad_schedule_arguments_raise(make):
    with pytest.raises(ValueError):
        make()
