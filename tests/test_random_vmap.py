"""funcgrad.random under vmap: a batch of keys samples what a loop over the keys samples."""

from __future__ import annotations

import numpy as np
import pytest

import funcgrad as fg
from funcgrad import lax
from funcgrad.lax.indexing import gather_p
from funcgrad.lax.sort import sort_p
from funcgrad.transforms.vmap import batch_rules
from tests.helpers import check_close, check_vmap

fnp = fg.numpy
R = fg.random

# permutation and choice(replace=False) sort by random keys; permuting a float array gathers.
needs_sort = pytest.mark.skipif(
    sort_p not in batch_rules, reason="lax.sort has no batch rule yet (funcgrad/lax/sort.py)"
)
needs_gather = pytest.mark.skipif(
    gather_p not in batch_rules,
    reason="lax.gather has no batch rule yet (funcgrad/lax/indexing.py)",
)


def keys(n, seed=0):
    return np.asarray(R.split(R.key(seed), n))


SAMPLERS = {
    "normal": lambda k: R.normal(k, (3,)),
    "normal_scalar": lambda k: R.normal(k),
    "normal_empty": lambda k: R.normal(k, (0, 2)),
    "normal_float64": lambda k: R.normal(k, (2, 3), np.float64),
    "uniform": lambda k: R.uniform(k, (2, 3), minval=-1.0, maxval=2.0),
    "bits": lambda k: R.bits(k, (4,)),
    "bits_uint8": lambda k: R.bits(k, (4,), np.uint8),
    "bits_uint64": lambda k: R.bits(k, (2, 2), np.uint64),
    "split": lambda k: R.split(k),
    "split_shape": lambda k: R.split(k, (2, 3)),
    "fold_in": lambda k: R.fold_in(k, 17),
    "key_data": R.key_data,
    "truncated_normal": lambda k: R.truncated_normal(k, -1.0, 2.0, (4,)),
    "gumbel": lambda k: R.gumbel(k, (3,)),
    "exponential": lambda k: R.exponential(k, (3,)),
    "bernoulli": lambda k: R.bernoulli(k, 0.3, (5,)),
    "randint": lambda k: R.randint(k, (5,), 0, 10),
    "randint_uint8_full": lambda k: R.randint(k, (5,), -3, 256, np.uint8),
    "choice": lambda k: R.choice(k, 10, (3,)),
    "choice_p": lambda k: R.choice(k, 4, (3,), p=fnp.asarray([0.1, 0.2, 0.3, 0.4])),
    "categorical": lambda k: R.categorical(k, fnp.log(fnp.asarray([0.2, 0.8])), shape=(5,)),
    "permutation": pytest.param(lambda k: R.permutation(k, 6), marks=needs_sort),
    "permutation_int_array": pytest.param(
        lambda k: R.permutation(k, fnp.arange(12).reshape(4, 3), axis=1), marks=needs_sort
    ),
    "permutation_independent": pytest.param(
        lambda k: R.permutation(k, fnp.arange(12).reshape(4, 3), independent=True),
        marks=needs_sort,
    ),
    "permutation_float_array": pytest.param(
        lambda k: R.permutation(k, fnp.arange(12.0).reshape(4, 3)), marks=[needs_sort, needs_gather]
    ),
    "choice_no_replace": pytest.param(
        lambda k: R.choice(k, 10, (3,), replace=False), marks=needs_sort
    ),
    "choice_p_no_replace": pytest.param(
        lambda k: R.choice(k, 4, (3,), replace=False, p=fnp.asarray([0.1, 0.2, 0.3, 0.4])),
        marks=needs_sort,
    ),
}


def _params():
    out = []
    for name, f in SAMPLERS.items():
        if isinstance(f, tuple):  # a pytest.param
            out.append(pytest.param(*f.values, marks=f.marks, id=name))
        else:
            out.append(pytest.param(f, id=name))
    return out


@pytest.mark.parametrize("f", _params())
@pytest.mark.parametrize("n", [0, 1, 5])
def test_sampler_over_a_batch_of_keys(f, n):
    check_vmap(f, [keys(n)], [0], atol=0, rtol=0)


@pytest.mark.parametrize("f", _params())
def test_sampler_with_keys_along_the_last_axis(f):
    check_vmap(f, [keys(4).T], [-1], atol=0, rtol=0)


def test_the_example_from_the_docs():
    key = R.key(0)
    ks = R.split(key, 5)
    out = fg.vmap(lambda k: R.normal(k, (3,)))(ks)
    expected = np.stack([np.asarray(R.normal(ks[i], (3,))) for i in range(5)])
    assert out.shape == (5, 3) and out.dtype == np.float32
    np.testing.assert_array_equal(np.asarray(out), expected)


def test_nested_vmap_over_a_grid_of_keys():
    grid = np.asarray(R.split(R.key(3), (2, 3)))
    out = fg.vmap(fg.vmap(lambda k: R.uniform(k, (4,))))(fnp.asarray(grid))
    expected = np.stack(
        [np.stack([np.asarray(R.uniform(fnp.asarray(grid[i, j]), (4,))) for j in range(3)])
         for i in range(2)]
    )  # fmt: skip
    np.testing.assert_array_equal(np.asarray(out), expected)


def test_batched_seed_and_fold_in_data():
    seeds = np.arange(-2, 4, dtype=np.int64)
    check_vmap(R.key, [seeds], [0], atol=0, rtol=0)
    k = R.key(1)
    data = np.arange(6, dtype=np.int32)
    check_vmap(lambda d: R.fold_in(k, d), [data], [0], atol=0, rtol=0)
    check_vmap(lambda k, d: R.fold_in(k, d), [keys(6), data], [0, 0], atol=0, rtol=0)


def test_batched_distribution_parameters():
    k = np.asarray(R.key(7))
    lo = np.linspace(-2.0, 1.0, 4).astype(np.float32)
    ks = keys(4)

    def unif(k, m):
        return R.uniform(k, (3,), minval=m, maxval=m + 1.0)

    check_vmap(unif, [k, lo], [None, 0], atol=0, rtol=0)
    check_vmap(unif, [ks, lo], [0, 0], atol=0, rtol=0)

    p = np.asarray([0.1, 0.5, 0.9, 0.3], np.float32)
    check_vmap(lambda k, p: R.bernoulli(k, p, (6,)), [k, p], [None, 0], atol=0, rtol=0)

    hi = np.asarray([3, 5, 9, 100], np.int32)
    check_vmap(lambda k, h: R.randint(k, (6,), 0, h), [ks, hi], [0, 0], atol=0, rtol=0)

    logits = np.log(np.asarray([[0.2, 0.8], [0.5, 0.5], [0.9, 0.1], [0.3, 0.7]], np.float32))
    check_vmap(lambda k, lg: R.categorical(k, lg, shape=(5,)), [k, logits], [None, 0], 0, 0)

    lower = np.asarray([-1.0, -0.5, 0.0, 0.5])
    check_vmap(
        lambda k, lo: R.truncated_normal(k, lo, lo + 1.0, (3,), np.float64),
        [ks, lower],
        [0, 0],
        atol=1e-12,
        rtol=1e-12,
    )


def test_reparameterised_sample_gradients_per_key():
    """Per-key gradients of a reparameterised sample (vmap of grad through random)."""

    def loss(mu, k):
        return fnp.sum((mu + R.normal(k, (3,), np.float64)) ** 2)

    mu = np.asarray([0.5, -1.0, 2.0])
    check_vmap(fg.grad(loss), [mu, keys(4)], [None, 0], atol=1e-12, rtol=1e-12)


def test_threefry_batch_rule_broadcasts_its_operands():
    rng = np.random.default_rng(0)
    words = [rng.integers(0, 2**32, (4, 4), dtype=np.uint32) for _ in range(4)]
    check_vmap(lax.threefry2x32, words, [0, 0, 0, 0], atol=0, rtol=0)
    check_vmap(lax.threefry2x32, [words[0][:, 0], *words[1:]], [0, None, 1, -1], atol=0, rtol=0)
    scalar = np.uint32(5)
    out = fg.vmap(lambda x: lax.threefry2x32(scalar, scalar, scalar, x))(fnp.asarray(words[3]))
    expected = lax.threefry2x32(scalar, scalar, scalar, fnp.asarray(words[3]))
    check_close(out, expected, atol=0, rtol=0)
