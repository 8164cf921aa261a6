"""funcgrad.random: Threefry test vectors, determinism, independence, distributions, errors."""

from __future__ import annotations

import numpy as np
import pytest

import funcgrad as fg
import funcgrad.numpy as fnp
import funcgrad.random as random
import funcgrad.scipy.special as fsp
from funcgrad import lax
from tests.backends import platform

U32 = np.uint32


@pytest.mark.parametrize(
    "key,count,expected",
    [  # Random123's known-answer tests for Threefry-2x32, 20 rounds
        ((0x0, 0x0), (0x0, 0x0), (0x6B200159, 0x99BA4EFE)),
        ((0xFFFFFFFF, 0xFFFFFFFF), (0xFFFFFFFF, 0xFFFFFFFF), (0x1CB996FC, 0xBB002BE7)),
        ((0x13198A2E, 0x03707344), (0x243F6A88, 0x85A308D3), (0xC4923A9C, 0x483DF7A0)),
    ],
)
def test_threefry_known_answers(key, count, expected):
    out = lax.threefry2x32(*[U32(v) for v in key + count])
    assert [int(o) for o in out] == list(expected)
    assert all(o.dtype == np.uint32 for o in out)


def test_threefry_broadcasts():
    x2 = fnp.asarray(np.arange(5, dtype=U32))
    o1, o2 = lax.threefry2x32(U32(0), U32(0), fnp.asarray(np.zeros((3, 1), U32)), x2)
    assert o1.shape == o2.shape == (3, 5)
    assert int(o1[0, 0]) == 0x6B200159 and int(o2[2, 0]) == 0x99BA4EFE


def test_threefry_rejects_other_dtypes():
    from funcgrad.core.primitive import ShapedArray
    from funcgrad.lax.random_bits import _threefry2x32_abstract_eval

    avals = [ShapedArray((), np.dtype(np.uint32))] * 3 + [ShapedArray((2,), np.dtype(np.int32))]
    with pytest.raises(TypeError, match="threefry2x32: arguments must be uint32"):
        _threefry2x32_abstract_eval(*avals)


def test_key_layout():
    k = random.key(0)
    assert k.shape == (2,) and k.dtype == np.uint32
    np.testing.assert_array_equal(np.asarray(random.key(42)), [0, 42])
    np.testing.assert_array_equal(np.asarray(random.key(2**32 + 7)), [1, 7])
    np.testing.assert_array_equal(np.asarray(random.key(-1)), [2**32 - 1, 2**32 - 1])
    np.testing.assert_array_equal(np.asarray(random.PRNGKey(3)), np.asarray(random.key(3)))
    np.testing.assert_array_equal(np.asarray(random.key(fnp.asarray(5))), [0, 5])


def test_split_matches_jax():
    # JAX (threefry_partitionable, the default since 0.5): split(key(0)) encrypts counters 0, 1.
    np.testing.assert_array_equal(
        np.asarray(random.split(random.key(0))),
        [[1797259609, 2579123966], [928981903, 3453687069]],
    )


def test_split_shapes_and_independence():
    k = random.key(0)
    ks = random.split(k, 4)
    assert ks.shape == (4, 2) and ks.dtype == np.uint32
    assert random.split(k, (2, 3)).shape == (2, 3, 2)
    rows = {tuple(np.asarray(r)) for r in np.asarray(ks)}
    assert len(rows) == 4 and tuple(np.asarray(k)) not in rows
    # A prefix of a bigger split is the smaller split (counters, not a sequence).
    np.testing.assert_array_equal(np.asarray(random.split(k, 2)), np.asarray(ks)[:2])


def test_fold_in():
    k = random.key(0)
    a, b = random.fold_in(k, 1), random.fold_in(k, 2)
    assert a.shape == (2,) and a.dtype == np.uint32
    assert not np.array_equal(np.asarray(a), np.asarray(b))
    np.testing.assert_array_equal(np.asarray(random.fold_in(k, 1)), np.asarray(a))
    np.testing.assert_array_equal(
        np.asarray(random.fold_in(k, 2**32 + 1)), np.asarray(a)
    )  # modulo 2**32, as JAX
    np.testing.assert_array_equal(np.asarray(random.fold_in(k, fnp.asarray(2))), np.asarray(b))
    # As in JAX's partitionable Threefry, split(k, n)[i] is fold_in(k, i).
    np.testing.assert_array_equal(np.asarray(random.split(k, 3)[1]), np.asarray(a))


SAMPLERS = {
    "uniform": lambda k, s: random.uniform(k, s),
    "normal": lambda k, s: random.normal(k, s),
    "gumbel": lambda k, s: random.gumbel(k, s),
    "exponential": lambda k, s: random.exponential(k, s),
    "truncated_normal": lambda k, s: random.truncated_normal(k, -1.0, 2.0, s),
    "bernoulli": lambda k, s: random.bernoulli(k, 0.3, s),
    "randint": lambda k, s: random.randint(k, s, 0, 100),
    "bits": lambda k, s: random.bits(k, s),
    "categorical": lambda k, s: random.categorical(k, fnp.zeros(5), shape=s),
    "choice": lambda k, s: random.choice(k, 100, s),
}


@pytest.mark.parametrize("name", SAMPLERS)
def test_determinism_and_shapes(name):
    sample = SAMPLERS[name]
    k1, k2 = random.split(random.key(7))
    a = np.asarray(sample(k1, (50, 3)))
    assert a.shape == (50, 3)
    np.testing.assert_array_equal(a, np.asarray(sample(k1, (50, 3))))
    assert not np.array_equal(a, np.asarray(sample(k2, (50, 3))))
    assert np.asarray(sample(k1, ())).shape == ()
    assert np.asarray(sample(k1, (0, 2))).shape == (0, 2)


@pytest.mark.parametrize("name", ["uniform", "normal", "gumbel", "exponential"])
def test_float_dtypes(name):
    fn = getattr(random, name)
    k = random.key(1)
    assert fn(k, (3,)).dtype == np.float32  # the default float dtype
    for dt in (np.float16, np.float32, np.float64):
        x = fn(k, (1000,), dt)
        assert x.dtype == dt and np.isfinite(np.asarray(x)).all()
    with pytest.raises(TypeError, match=f"random.{name}: dtype must be a float dtype"):
        fn(k, (3,), np.int32)


def test_uniform_bits_are_the_mantissa_trick():
    k = random.key(3)
    raw = np.asarray(random.bits(k, (100,)))
    want = ((raw >> U32(9)) | U32(0x3F800000)).view(np.float32) - np.float32(1.0)
    np.testing.assert_array_equal(np.asarray(random.uniform(k, (100,))), want)
    raw64 = np.asarray(random.bits(k, (100,), np.uint64))
    want64 = ((raw64 >> np.uint64(12)) | np.uint64(0x3FF0000000000000)).view(np.float64) - 1.0
    np.testing.assert_array_equal(np.asarray(random.uniform(k, (100,), np.float64)), want64)


def test_uniform_range_and_moments():
    x = np.asarray(random.uniform(random.key(0), (20000,), np.float64, -2.0, 3.0))
    assert x.min() >= -2.0 and x.max() < 3.0
    assert abs(x.mean() - 0.5) < 0.05 and abs(x.var() - 25 / 12) < 0.1


def test_uniform_broadcasts_bounds():
    lo = fnp.asarray(np.array([0.0, 10.0, 100.0], np.float32))
    x = np.asarray(random.uniform(random.key(0), (4, 3), minval=lo, maxval=lo + 1.0))
    assert ((x >= np.asarray(lo)) & (x < np.asarray(lo) + 1)).all()
    with pytest.raises(ValueError, match="random.uniform"):
        random.uniform(random.key(0), (2,), minval=lo)


def test_normal_moments():
    x = np.asarray(random.normal(random.key(0), (50000,), np.float64))
    assert abs(x.mean()) < 0.02 and abs(x.std() - 1) < 0.02
    assert abs(np.mean(x**3)) < 0.05 and abs(np.mean(x**4) - 3) < 0.15


def test_truncated_normal():
    x = np.asarray(random.truncated_normal(random.key(0), -0.5, 1.5, (20000,), np.float64))
    assert x.min() > -0.5 and x.max() < 1.5
    # mean of N(0,1) truncated to [a, b]: (phi(a) - phi(b)) / (Phi(b) - Phi(a))
    phi = lambda t: np.exp(-t * t / 2) / np.sqrt(2 * np.pi)
    mass = float(fsp.ndtr(1.5) - fsp.ndtr(-0.5))
    assert abs(x.mean() - (phi(-0.5) - phi(1.5)) / mass) < 0.02
    lo = np.array([-1.0, 0.0])
    assert random.truncated_normal(random.key(0), lo, 1.0).shape == (2,)


def test_gumbel_and_exponential_moments():
    g = np.asarray(random.gumbel(random.key(0), (40000,), np.float64))
    assert abs(g.mean() - np.euler_gamma) < 0.03 and abs(g.var() - np.pi**2 / 6) < 0.1
    e = np.asarray(random.exponential(random.key(1), (40000,), np.float64))
    assert e.min() >= 0 and abs(e.mean() - 1) < 0.03


def test_bernoulli():
    b = random.bernoulli(random.key(0), 0.3, (20000,))
    assert b.dtype == np.bool_ and abs(np.asarray(b).mean() - 0.3) < 0.02
    p = fnp.asarray(np.array([0.0, 1.0, 0.5]))
    assert random.bernoulli(random.key(0), p).shape == (3,)
    bb = np.asarray(random.bernoulli(random.key(0), p, (1000, 3)))
    assert not bb[:, 0].any() and bb[:, 1].all()


def test_randint():
    x = np.asarray(random.randint(random.key(0), (20000,), -3, 7))
    assert x.dtype == np.int32 and x.min() == -3 and x.max() == 6
    counts = np.bincount(x + 3)
    assert counts.min() > 1800 and counts.max() < 2200
    for dt, lo, hi in [(np.uint8, 0, 256), (np.int8, -128, 128), (np.int64, -(2**40), 2**40)]:
        y = np.asarray(random.randint(random.key(1), (4000,), lo, hi, dt))
        assert y.dtype == dt and y.min() >= lo and y.max() < hi
        assert y.min() < lo + (hi - lo) // 10 and y.max() > hi - (hi - lo) // 10
    np.testing.assert_array_equal(np.asarray(random.randint(random.key(0), (3,), 5, 5)), 5)
    with pytest.raises(TypeError, match="random.randint: dtype must be an integer"):
        random.randint(random.key(0), (3,), 0, 5, np.float32)


def test_permutation():
    k = random.key(0)
    p = np.asarray(random.permutation(k, 100))
    assert p.dtype == np.int32 and sorted(p) == list(range(100))
    assert not np.array_equal(p, np.arange(100))
    x = np.arange(12.0).reshape(3, 4)
    px = np.asarray(random.permutation(k, fnp.asarray(x), axis=1))
    np.testing.assert_array_equal(np.sort(px, axis=1), x)
    perm = px[0].astype(int)  # one permutation for every row
    np.testing.assert_array_equal(px, x[:, perm])
    xi = np.arange(12).reshape(3, 4)
    np.testing.assert_array_equal(np.asarray(random.permutation(k, xi, axis=1)), xi[:, perm])
    ind = np.asarray(random.permutation(k, xi, axis=1, independent=True))
    np.testing.assert_array_equal(np.sort(ind, axis=1), xi)


def test_permutation_is_differentiable():
    x = fnp.asarray(np.arange(5.0))
    g = fg.grad(lambda v: (random.permutation(random.key(0), v) * fnp.arange(5.0)).sum())(x)
    perm = np.asarray(random.permutation(random.key(0), 5))
    np.testing.assert_array_equal(np.asarray(g)[perm], np.arange(5.0))


def test_choice():
    k = random.key(0)
    c = np.asarray(random.choice(k, 10, (6,), replace=False))
    assert len(set(c.tolist())) == 6 and c.min() >= 0 and c.max() < 10
    c = np.asarray(random.choice(k, 5, (4, 5), replace=True))
    assert c.shape == (4, 5) and set(c.ravel()) <= set(range(5))
    a = np.arange(20.0).reshape(4, 5)
    rows = np.asarray(random.choice(k, a, (3,), replace=False))
    assert rows.shape == (3, 5) and len({r[0] for r in rows}) == 3
    cols = np.asarray(random.choice(k, a, (2,), axis=1))
    assert cols.shape == (4, 2)
    p = np.array([0.1, 0.0, 0.6, 0.3])
    draws = np.asarray(random.choice(k, 4, (20000,), p=p))
    np.testing.assert_allclose(np.bincount(draws, minlength=4) / 20000, p, atol=0.02)
    nr = np.asarray(random.choice(k, 4, (3,), replace=False, p=p))
    assert len(set(nr.tolist())) == 3 and 1 not in nr
    with pytest.raises(ValueError, match="without replacement"):
        random.choice(k, 3, (4,), replace=False)
    with pytest.raises(ValueError, match="p must have shape"):
        random.choice(k, 3, (2,), p=[0.5, 0.5])


def test_categorical_frequencies_match_softmax():
    logits = np.array([1.0, 2.0, 0.0, -1.0])
    s = np.asarray(random.categorical(random.key(0), logits, shape=(20000,)))
    assert s.dtype == np.int32
    freq = np.bincount(s, minlength=4) / 20000
    np.testing.assert_allclose(freq, np.asarray(fsp.softmax(logits)), atol=0.02)


def test_categorical_batches():
    logits = fnp.asarray(np.log(np.array([[0.9, 0.1], [0.1, 0.9], [0.5, 0.5]])))
    s = np.asarray(random.categorical(random.key(0), logits, shape=(4000, 3)))
    assert s.shape == (4000, 3)
    np.testing.assert_allclose(s.mean(0), [0.1, 0.9, 0.5], atol=0.03)
    cols = random.categorical(random.key(0), logits.T, axis=0)
    assert cols.shape == (3,)
    with pytest.raises(ValueError, match="must end with the batch shape"):
        random.categorical(random.key(0), logits, shape=(4, 2))


@pytest.mark.parametrize(
    "bad", [0, 1.5, np.zeros(2, np.int32), np.zeros((3,), np.uint32), fnp.zeros((2,))]
)
def test_bad_keys_are_type_errors(bad):
    with pytest.raises(
        TypeError, match=r"random.normal: expected a PRNG key.*fg.random.key\(seed\)"
    ):
        random.normal(bad, (2,))


def test_bad_seeds_and_shapes():
    with pytest.raises(TypeError, match="random.key: the seed must be an integer"):
        random.key(1.5)
    with pytest.raises(ValueError, match="negative dimension"):
        random.uniform(random.key(0), (-1,))
    with pytest.raises(TypeError, match="random.split: expected a PRNG key"):
        random.split(random.split(random.key(0)))


def test_keys_pass_through_grad():
    def loss(w, k):
        noise = random.normal(k, (3,), np.float64)
        return fnp.sum((w + noise) ** 2)

    w = fnp.asarray(np.ones(3))
    k = random.key(0)
    g = fg.grad(loss)(w, k)
    noise = np.asarray(random.normal(k, (3,), np.float64))
    np.testing.assert_allclose(np.asarray(g), 2 * (1 + noise))


def test_gradient_through_uniform_bounds():
    k = random.key(0)
    u = np.asarray(random.uniform(k, (4,), np.float64))
    g = fg.grad(lambda hi: random.uniform(k, (4,), np.float64, 0.0, hi).sum())(2.0)
    np.testing.assert_allclose(float(g), u.sum(), rtol=1e-6)


def test_a_key_gives_the_same_numbers_on_every_backend(backend):
    """Threefry is counter-based integer arithmetic: the same bits on NumPy and CuPy."""

    def draw():
        key = fg.random.key(3)
        k1, k2 = fg.random.split(key)
        return {
            "key": key,
            "bits": fg.random.bits(k1, (64,)),
            "uniform": fg.random.uniform(k2, (4, 5)),
            "randint": fg.random.randint(k1, (30,), 0, 10),
            "permutation": fg.random.permutation(k2, 12),
            "normal": fg.random.normal(fg.random.fold_in(key, 7), (50,)),
        }

    with platform("cpu"):
        expected = fg.device_get(draw())
    got = draw()
    want = "cpu" if backend == "cpu" else "gpu"
    assert got["key"].device.platform == want and got["normal"].device.platform == want
    got = fg.device_get(got)
    for name in ("key", "bits", "uniform", "randint", "permutation"):
        np.testing.assert_array_equal(got[name], expected[name], err_msg=name)
    # erfinv may come from another library (cupyx.scipy.special, or the pure formula)
    np.testing.assert_allclose(got["normal"], expected["normal"], rtol=1e-6, atol=1e-6)
