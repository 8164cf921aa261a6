"""funcgrad.numpy.fft and lax.fft against numpy.fft: values, dtypes, n/s/axes/norm, odd and even
lengths, derivatives of real and complex inputs (both modes, second order), vmap, errors."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

import funcgrad as fg
import funcgrad.numpy as fnp
from funcgrad import lax
from tests.helpers import check_grads, check_vmap

rng = np.random.default_rng(0)
X = rng.standard_normal((3, 5, 4))
Z = X + 1j * rng.standard_normal(X.shape)
NORMS = [None, "backward", "ortho", "forward"]
ONE_AXIS = ["fft", "ifft", "rfft", "irfft", "hfft", "ihfft"]
N_AXES = ["fftn", "ifftn", "rfftn", "irfftn"]
REAL_ONLY = {"rfft", "ihfft", "rfftn", "rfft2"}


def _inputs(name):
    return [X] if name in REAL_ONLY else [X, Z]


def _check(got, want, tol=1e-10):
    got = np.asarray(got)
    assert got.shape == want.shape, (got.shape, want.shape)
    assert got.dtype == want.dtype, (got.dtype, want.dtype)
    np.testing.assert_allclose(got, want, atol=tol, rtol=tol)


@pytest.mark.parametrize("name", ONE_AXIS)
def test_one_axis_transforms_match_numpy(name):
    for a, n, axis, norm in itertools.product(
        _inputs(name), [None, 1, 3, 4, 7, 8], [-1, 0, 1], NORMS
    ):
        want = getattr(np.fft, name)(a, n, axis, norm)
        _check(getattr(fnp.fft, name)(a, n, axis, norm), want)
        _check(getattr(fnp.fft, name)(a, n=n, axis=axis, norm=norm), want)


@pytest.mark.parametrize("name", N_AXES)
@pytest.mark.parametrize(
    "s, axes",
    [(None, None), ((3, 6), (0, 1)), (None, (0, 2)), ((2, 5), (2, 0)), ((4,), (1,)),
     ((3, 4, 5), (0, 1, 2)), (None, (1, 1)), ((2, 3, 4), (0, 1, 0))],
)  # fmt: skip
def test_n_axes_transforms_match_numpy(name, s, axes):
    for a, norm in itertools.product(_inputs(name), NORMS):
        want = getattr(np.fft, name)(a, s=s, axes=axes, norm=norm)
        _check(getattr(fnp.fft, name)(a, s=s, axes=axes, norm=norm), want)


@pytest.mark.parametrize("name", ["fft2", "ifft2", "rfft2", "irfft2"])
def test_two_axis_transforms_match_numpy(name):
    for a, norm, (s, axes) in itertools.product(
        _inputs(name), NORMS, [(None, (-2, -1)), ((4, 3), (-2, -1)), ((3, 7), (2, 0))]
    ):
        want = getattr(np.fft, name)(a, s=s, axes=axes, norm=norm)
        _check(getattr(fnp.fft, name)(a, s=s, axes=axes, norm=norm), want)


@pytest.mark.parametrize("dtype", [np.float32, np.complex64, np.int32, np.float16, np.bool_])
@pytest.mark.parametrize("name", ["fft", "ifft", "rfft", "irfft", "fft2", "irfftn", "hfft"])
def test_dtypes_follow_numpy(name, dtype):
    if name in REAL_ONLY and np.dtype(dtype).kind == "c":
        return
    a = (X[0] * 3).astype(dtype)
    want = getattr(np.fft, name)(a)
    tol = 1e-10 if want.dtype in (np.float64, np.complex128) else 2e-2 if a.dtype == "f2" else 1e-5
    _check(getattr(fnp.fft, name)(a), want, tol)


@pytest.mark.parametrize("name", ["fftshift", "ifftshift"])
def test_shifts_match_numpy(name):
    for a, axes in itertools.product([X, np.arange(7)], [None, 0, -1, (0,), (0, -1)]):
        if a.ndim == 1 and axes not in (None, 0, -1, (0,)):
            continue
        _check(getattr(fnp.fft, name)(a, axes), getattr(np.fft, name)(a, axes))
    check_grads(lambda x: getattr(fnp.fft, name)(x, axes=(0, 2)), (X,))


def test_frequencies_match_numpy():
    _check(fnp.fft.fftfreq(5, 0.1, dtype=np.float64), np.fft.fftfreq(5, 0.1))
    _check(fnp.fft.rfftfreq(6, 0.5, dtype=np.float64), np.fft.rfftfreq(6, 0.5))
    assert fnp.fft.fftfreq(4).dtype == np.float32


def test_round_trips():
    for n in (4, 5):
        x = X[..., :n] if n <= 4 else rng.standard_normal((3, n))
        _check(fnp.fft.irfft(fnp.fft.rfft(x), n=n), x)
        _check(fnp.fft.ifft(fnp.fft.fft(x)), x.astype(complex))
    _check(fnp.fft.irfftn(fnp.fft.rfftn(X), s=X.shape), X)


# ---------------------------------------------------------------------------- derivatives


def _real_loss(f):
    """A real scalar of a complex result, non-holomorphic (so a wrong conjugation shows)."""
    return lambda *a: fnp.sum(fnp.abs(f(*a)) ** 2 + 0.3 * fnp.real(f(*a)) * fnp.imag(f(*a)))


@pytest.mark.parametrize("name", ONE_AXIS)
@pytest.mark.parametrize("n", [None, 3, 4, 6, 7])
def test_one_axis_grads_even_and_odd(name, n):
    for a, norm in itertools.product(_inputs(name), ["backward", "ortho", "forward"]):
        f = lambda x: getattr(fnp.fft, name)(x, n=n, axis=1, norm=norm)  # noqa: B023
        check_grads(f, (a,))
        if name not in ("fft", "ifft") or a is X:
            check_grads(_real_loss(f), (a,), atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize("name", N_AXES + ["fft2", "ifft2", "rfft2", "irfft2"])
@pytest.mark.parametrize("s", [None, (3, 4), (4, 5), (2, 7)])
def test_n_axes_grads(name, s):
    for a in _inputs(name):
        f = lambda x: getattr(fnp.fft, name)(x, s=s, axes=(0, 2), norm="ortho")  # noqa: B023
        check_grads(f, (a,))
        g = lambda x: getattr(fnp.fft, name)(x, s=s, axes=(2, 0))  # noqa: B023
        check_grads(g, (a,), order=1)


def test_grad_of_spectral_loss_matches_closed_form():
    # d/dx sum |fft(x)|^2 = 2 n x (Parseval), and through rfft the doubled bins count twice.
    x = rng.standard_normal(6)
    g = fg.grad(lambda v: fnp.sum(fnp.abs(fnp.fft.fft(v)) ** 2))(x)
    np.testing.assert_allclose(np.asarray(g), 2 * 6 * x, rtol=1e-12)
    w = np.array([1.0, 2, 2, 1])  # bins 0 and 3 (Nyquist) once, the others twice
    g = fg.grad(lambda v: fnp.sum(fnp.asarray(w) * fnp.abs(fnp.fft.rfft(v)) ** 2))(x)
    np.testing.assert_allclose(np.asarray(g), 2 * 6 * x, rtol=1e-12)


def test_grad_of_complex_input_follows_jax_convention():
    # For real L(z), fg.grad gives conj(dL/dz*) (JAX's convention): for L = |fft(z)[k]|^2 the
    # gradient is 2 * conj(fft(z)[k]) * conj(e^{-2 pi i j k / n}) conjugated back: check by
    # central differences on the real and imaginary parts.
    z = Z[0, 0]
    L = lambda v: fnp.abs(fnp.fft.fft(v)[1]) ** 2
    g = np.asarray(fg.grad(L)(z))
    eps = 1e-6
    for j in range(len(z)):
        dz = np.zeros_like(z)
        dz[j] = eps
        dre = (float(L(z + dz)) - float(L(z - dz))) / (2 * eps)
        dim = (float(L(z + 1j * dz)) - float(L(z - 1j * dz))) / (2 * eps)
        np.testing.assert_allclose(g[j], dre - 1j * dim, rtol=1e-6, atol=1e-8)


def test_composed_transforms_of_complex_values():
    c = fnp.asarray(np.exp(1j * np.arange(4.0)))
    f = lambda x: fnp.real(fnp.fft.ifft(fnp.fft.fft(x) * c))
    check_grads(f, (X,))
    check_grads(lambda z: fnp.fft.irfft(fnp.fft.fft(z)[..., :3] * c[:3], n=5), (Z,))


def test_jit_and_vmap_of_grad():
    f = lambda x: fnp.sum(fnp.abs(fnp.fft.rfft2(x, s=(4, 5), norm="ortho")) ** 2)
    g = fg.grad(f)
    want = np.stack([np.asarray(g(x)) for x in X])
    np.testing.assert_allclose(np.asarray(fg.vmap(g)(X)), want, rtol=1e-12)
    if hasattr(fg, "jit"):
        np.testing.assert_allclose(np.asarray(fg.jit(g)(X[0])), want[0], rtol=1e-12)


@pytest.mark.parametrize("name", ONE_AXIS + N_AXES)
def test_vmap_matches_a_loop(name):
    f = getattr(fnp.fft, name)
    for a, ax in itertools.product(_inputs(name), [0, 1, -1]):
        check_vmap(lambda x: f(x), (a,), [ax])  # noqa: B023
        if name in ONE_AXIS:
            check_vmap(lambda x: f(x, n=5, axis=0, norm="ortho"), (a,), [ax])  # noqa: B023


def test_lax_fft_types_and_lengths():
    a = lax.fft(X, "FFT", (5, 4))
    _check(a, np.fft.fftn(X, axes=(1, 2)))
    _check(lax.fft(X, lax.FftType.RFFT, (4,)), np.fft.rfft(X))
    h = np.fft.rfft(X[..., :3])
    _check(lax.fft(h, "IRFFT", (5, 3)), np.fft.irfftn(h, s=(5, 3), axes=(1, 2)))
    _check(lax.fft(Z, "IFFT", ()), Z)
    assert lax.fft(np.float32(X), "FFT", (4,)).dtype == np.complex64


# ---------------------------------------------------------------------------- errors


@pytest.mark.parametrize("name", ["fft", "ifft", "rfft", "irfft", "hfft", "ihfft"])
def test_non_positive_n_is_a_value_error(name):
    for n in (0, -2):
        with pytest.raises(ValueError, match=rf"fnp\.fft\.{name}: invalid number of FFT data"):
            getattr(fnp.fft, name)(X, n=n)
    with pytest.raises(ValueError):  # NumPy agrees
        getattr(np.fft, name)(X, n=0)


def test_irfft_impossible_default_length():
    with pytest.raises(ValueError, match=r"fnp\.fft\.irfft: .*\(0\).*m >= 2"):
        fnp.fft.irfft(np.ones((3, 1)))
    with pytest.raises(ValueError, match=r"fnp\.fft\.irfftn: invalid number of FFT data points"):
        fnp.fft.irfftn(np.ones((3, 1)))
    with pytest.raises(ValueError):
        np.fft.irfft(np.ones((3, 1)))
    _check(fnp.fft.irfft(np.ones((3, 1)), n=1), np.fft.irfft(np.ones((3, 1)), n=1))


def test_empty_axis_is_a_value_error():
    with pytest.raises(ValueError, match=r"fnp\.fft\.fft: invalid number of FFT data points"):
        fnp.fft.fft(np.ones((2, 0)))


def test_other_errors_name_the_function():
    with pytest.raises(ValueError, match=r"fnp\.fft\.fft: invalid norm value 'x'"):
        fnp.fft.fft(X, norm="x")
    with pytest.raises(TypeError, match=r"fnp\.fft\.rfft: the input must be real.*complex128"):
        fnp.fft.rfft(Z)
    with pytest.raises(ValueError, match=r"fnp\.fft\.fftn: s \(3,\) and axes \(0, 1\) have"):
        fnp.fft.fftn(X, s=(3,), axes=(0, 1))
    with pytest.raises(IndexError, match=r"fnp\.fft\.fft: axis 3 is out of bounds.*\(3, 5, 4\)"):
        fnp.fft.fft(X, axis=3)
    with pytest.raises(ValueError, match=r"fnp\.fft\.ifft: axis -1 is out of bounds.*\(\)"):
        fnp.fft.ifft(1.0)
    with pytest.raises(ValueError, match=r"fnp\.fft\.rfftn: needs at least one axis"):
        fnp.fft.rfftn(X, axes=())


def test_lax_fft_errors():
    with pytest.raises(ValueError, match=r"fft: unknown fft_type 'FOO'"):
        lax.fft(Z, "FOO", (4,))
    with pytest.raises(ValueError, match=r"fft: FFT with fft_lengths=\(3,\) needs trailing"):
        lax.fft(Z, "FFT", (3,))
    with pytest.raises(ValueError, match=r"fft: IRFFT with fft_lengths=\(4,\) needs trailing"):
        lax.fft(Z, "IRFFT", (4,))
    with pytest.raises(ValueError, match=r"fft: RFFT over 4 axes"):
        lax.fft(X, "RFFT", (1, 3, 5, 4))
    with pytest.raises(TypeError, match=r"fft: RFFT needs a real operand, got dtype complex128"):
        lax.fft(Z, "RFFT", (4,))
