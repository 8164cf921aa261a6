"""conv_general_dilated against a loop reference (1-3 spatial dims, layouts, strides, padding, both
dilations, feature and batch groups); its derivatives to second order, vmap, shape errors, and
conv_transpose against a scatter reference and as the gradient of conv."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

import funcgrad as fg
import funcgrad.numpy as fnp
from funcgrad import lax
from funcgrad.core.primitive import ShapedArray
from funcgrad.lax.conv import _conv_general_dilated_abstract_eval, conv_general_dilated_p
from tests.helpers import check_close, check_grads, check_vmap

SPATIAL = "HWD"


def ref_conv(lhs, rhs, strides, padding, lhs_dil, rhs_dil, groups=1, batch_groups=1):
    """Loops over output positions: lhs (N, C, *S), rhs (O, C // groups, *K) -> (N', O, *P)."""
    n, s = lhs.shape[0], lhs.shape[2:]
    (o, cg), k = rhs.shape[:2], rhs.shape[2:]
    s_dil = [0 if a == 0 else (a - 1) * d + 1 for a, d in zip(s, lhs_dil)]
    k_dil = [(a - 1) * d + 1 for a, d in zip(k, rhs_dil)]
    p = [(a + lo + hi - b) // st + 1 for a, (lo, hi), b, st in zip(s_dil, padding, k_dil, strides)]
    nb = n // batch_groups
    out = np.zeros((nb, o, *p), np.result_type(lhs, rhs))
    for i, j in itertools.product(range(nb), range(o)):
        g, b = j // (o // groups), j // (o // batch_groups)
        chans = slice(g * cg, (g + 1) * cg)
        for pos in itertools.product(*map(range, p)):
            acc = 0.0
            for kpos in itertools.product(*map(range, k)):
                idx = []
                for d in range(len(k)):
                    q = pos[d] * strides[d] + kpos[d] * rhs_dil[d] - padding[d][0]
                    if q < 0 or q % lhs_dil[d] or q // lhs_dil[d] >= s[d]:
                        break  # a padding or dilation hole: contributes zero
                    idx.append(q // lhs_dil[d])
                else:
                    acc += lhs[(b * nb + i, chans, *idx)] @ rhs[(j, slice(None), *kpos)]
            out[(i, j, *pos)] = acc
    return out


def ref_conv_transpose(x, w, strides, padding, rhs_dil):
    """Scatter form: input position i and kernel tap k feed output i * stride + lo - k * dil."""
    s, k = x.shape[2:], w.shape[2:]
    k_dil = [(a - 1) * d + 1 for a, d in zip(k, rhs_dil)]
    size = [
        (a - 1) * st + lo + hi - b + 2 for a, st, (lo, hi), b in zip(s, strides, padding, k_dil)
    ]
    out = np.zeros(x.shape[:1] + w.shape[:1] + tuple(size))
    for i in itertools.product(*map(range, s)):
        for kpos in itertools.product(*map(range, k)):
            p = [
                a * st + lo - b * d
                for a, st, (lo, _), b, d in zip(i, strides, padding, kpos, rhs_dil)
            ]
            if all(0 <= a < m for a, m in zip(p, size)):
                out[(slice(None), slice(None), *p)] += x[(..., *i)] @ w[(..., *kpos)].T
    return out


def layouts(nsp, kind):
    """Dimension numbers of a kind, with the permutations from canonical (NC.., OI.., NC..)."""
    sp = SPATIAL[:nsp]
    if kind == "default":
        return None, None
    if kind == "channels_last":
        specs = ("N" + sp + "C", sp + "IO", "N" + sp + "C")
    elif kind == "mixed":
        specs = ("C" + sp[::-1] + "N", "I" + sp + "O", sp + "NC")
    else:  # ConvDimensionNumbers
        specs = ("N" + sp + "C", "O" + sp + "I", "NC" + sp)
        return lax.conv_dimension_numbers((0,) * (nsp + 2), (0,) * (nsp + 2), specs), specs
    return specs, specs


def to_layout(x, spec, canonical):
    """x in canonical order (e.g. 'NCHW' letters) transposed into ``spec``'s order."""
    return np.transpose(x, [canonical.index(c) for c in spec])


def conv_args(lhs, rhs, specs):
    """Canonical-layout operands moved into the layouts ``specs`` (None: unchanged)."""
    if specs is None:
        return lhs, rhs
    sp = SPATIAL[: lhs.ndim - 2]
    return to_layout(lhs, specs[0], "NC" + sp), to_layout(rhs, specs[1], "OI" + sp)


def from_out_layout(out, specs):
    if specs is None:
        return out
    sp = SPATIAL[: out.ndim - 2]
    return np.transpose(out, [specs[2].index(c) for c in "NC" + sp])


@st.composite
def conv_case(draw):
    nsp = draw(st.integers(1, 3))
    max_s, max_k = (5, 3) if nsp < 3 else (3, 2)
    s = tuple(draw(st.lists(st.integers(1, max_s), min_size=nsp, max_size=nsp)))
    k = tuple(draw(st.lists(st.integers(1, max_k), min_size=nsp, max_size=nsp)))
    strides = tuple(draw(st.lists(st.integers(1, 2), min_size=nsp, max_size=nsp)))
    rhs_dil = tuple(draw(st.lists(st.integers(1, 2), min_size=nsp, max_size=nsp)))
    padding = draw(
        st.one_of(
            st.sampled_from(["SAME", "VALID"]),
            st.lists(st.tuples(st.integers(-1, 2), st.integers(-1, 2)), min_size=nsp, max_size=nsp),
        )
    )
    if isinstance(padding, str):
        lhs_dil = (1,) * nsp
    else:
        lhs_dil = tuple(draw(st.lists(st.integers(1, 2), min_size=nsp, max_size=nsp)))
    group_kind = draw(st.sampled_from(["none", "feature", "batch"]))
    groups = 2 if group_kind == "feature" else 1
    batch_groups = 2 if group_kind == "batch" else 1
    n = draw(st.integers(1, 2)) * batch_groups
    cg, og = draw(st.integers(1, 2)), draw(st.integers(1, 2))
    kind = draw(st.sampled_from(["default", "channels_last", "mixed", "dnums"]))
    seed = draw(st.integers(0, 2**16))
    explicit = padding
    if isinstance(padding, str):
        k_dil = [(a - 1) * d + 1 for a, d in zip(k, rhs_dil)]
        explicit = lax.padtype_to_pads(s, k_dil, strides, padding)
    for a, b, (lo, hi), ld, rd in zip(s, k, explicit, lhs_dil, rhs_dil):
        assume((a - 1) * ld + 1 + lo + hi >= (b - 1) * rd + 1)
    return dict(
        lhs_shape=(n, cg * groups) + s,
        rhs_shape=(og * groups * batch_groups, cg) + k,
        strides=strides,
        padding=padding,
        explicit=tuple(explicit),
        lhs_dil=lhs_dil,
        rhs_dil=rhs_dil,
        groups=groups,
        batch_groups=batch_groups,
        kind=kind,
        rng=np.random.default_rng(seed),
    )


@given(conv_case())
def test_matches_loop_reference(c):
    rng = c["rng"]
    lhs = rng.standard_normal(c["lhs_shape"])
    rhs = rng.standard_normal(c["rhs_shape"])
    dn, specs = layouts(len(c["strides"]), c["kind"])
    lhs_l, rhs_l = conv_args(lhs, rhs, specs)
    out = lax.conv_general_dilated(
        fnp.asarray(lhs_l),
        fnp.asarray(rhs_l),
        c["strides"],
        c["padding"],
        c["lhs_dil"],
        c["rhs_dil"],
        dn,
        feature_group_count=c["groups"],
        batch_group_count=c["batch_groups"],
    )
    expected = ref_conv(
        lhs,
        rhs,
        c["strides"],
        c["explicit"],
        c["lhs_dil"],
        c["rhs_dil"],
        c["groups"],
        c["batch_groups"],
    )
    assert out.dtype == np.float64
    check_close(from_out_layout(np.asarray(out), specs), expected, atol=1e-10, rtol=1e-10)
    # abstract_eval (what jit sees) agrees with the computed shape
    aval = _conv_general_dilated_abstract_eval(
        ShapedArray(lhs_l.shape, lhs_l.dtype),
        ShapedArray(rhs_l.shape, rhs_l.dtype),
        window_strides=c["strides"],
        padding=c["explicit"],
        lhs_dilation=c["lhs_dil"],
        rhs_dilation=c["rhs_dil"],
        dimension_numbers=lax.conv_dimension_numbers(lhs_l.shape, rhs_l.shape, dn),
        feature_group_count=c["groups"],
        batch_group_count=c["batch_groups"],
    )
    assert aval.shape == out.shape


def test_float32_fast_paths_match_reference():
    # Shapes that take each impl path: im2col with P >= K, im2col with P < K (kernel-gradient
    # shape), and matmul-first (many channels in, few out), with groups and strides.
    rng = np.random.default_rng(0)
    cases = [
        ((2, 3, 9, 8), (5, 3, 3, 3), (1, 1), ((1, 1), (1, 1)), (1, 1), (1, 1), 1),
        ((3, 2, 9, 9), (4, 2, 7, 6), (1, 1), ((0, 0), (0, 0)), (1, 1), (1, 1), 1),
        ((2, 8, 6, 7), (2, 8, 3, 3), (1, 1), ((2, 2), (2, 2)), (1, 1), (1, 1), 1),
        ((2, 16, 6, 7), (4, 4, 3, 3), (1, 1), ((2, 1), (2, -1)), (2, 1), (1, 2), 4),
    ]
    for ls, rs, st_, pad, ld, rd, g in cases:
        lhs = rng.standard_normal(ls).astype(np.float32)
        rhs = rng.standard_normal(rs).astype(np.float32)
        out = lax.conv_general_dilated(lhs, rhs, st_, pad, ld, rd, feature_group_count=g)
        assert out.dtype == np.float32
        check_close(out, ref_conv(lhs, rhs, st_, pad, ld, rd, g), atol=1e-4, rtol=1e-4)


def test_conv_and_preferred_element_type():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((2, 3, 6, 6)).astype(np.float32)
    w = rng.standard_normal((4, 3, 3, 3)).astype(np.float32)
    check_close(
        lax.conv(x, w, (2, 2), "SAME"), lax.conv_general_dilated(x, w, (2, 2), "SAME"), atol=0
    )
    out = lax.conv_general_dilated(x, w, (1, 1), "VALID", preferred_element_type=np.float64)
    assert out.dtype == np.float64 and out.shape == (2, 4, 4, 4)
    nhwc = lax.conv_general_dilated(
        x.transpose(0, 2, 3, 1),
        w.transpose(2, 3, 1, 0),
        (1, 1),
        "SAME",
        None,
        None,
        ("NHWC", "HWIO", "NHWC"),
    )
    check_close(np.asarray(nhwc).transpose(0, 3, 1, 2), lax.conv(x, w, (1, 1), "SAME"), atol=1e-5)


# (lhs shape, rhs shape, strides, padding, lhs_dilation, rhs_dilation, dnums, groups, batch groups)
GRAD_CASES = [
    ((2, 2, 5), (3, 2, 2), (2,), ((1, 0),), (1,), (2,), None, 1, 1),
    ((1, 4, 3, 4), (2, 2, 2, 4), (1, 2), "SAME", (1, 1), (1, 1), ("NHWC", "HWIO", "NHWC"), 2, 1),
    ((2, 2, 4, 3), (2, 2, 2, 2), (2, 1), ((0, 1), (1, -1)), (2, 1), (1, 1), None, 1, 1),
    ((4, 2, 4, 3), (4, 2, 2, 2), (1, 1), "VALID", (1, 1), (1, 1), None, 1, 2),
    (
        (1, 2, 3, 3, 2),
        (2, 1, 2, 1, 2),
        (1, 2, 1),
        ((1, 0), (0, 1), (0, 0)),
        (1, 1, 1),
        (1, 1, 1),
        None,
        2,
        1,
    ),
]


def _case_fn(case):
    _, _, strides, padding, ld, rd, dn, g, b = case
    return lambda x, w: lax.conv_general_dilated(
        x, w, strides, padding, ld, rd, dn, feature_group_count=g, batch_group_count=b
    )


@pytest.mark.parametrize("case", GRAD_CASES, ids=range(len(GRAD_CASES)))
def test_grads_second_order(case):
    rng = np.random.default_rng(2)
    x, w = rng.standard_normal(case[0]), rng.standard_normal(case[1])
    check_grads(_case_fn(case), (x, w), order=2, atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize("case", GRAD_CASES, ids=range(len(GRAD_CASES)))
@pytest.mark.parametrize("axes", [(0, None), (None, 1), (2, 0), (-1, -1)])
def test_vmap(case, axes):
    rng = np.random.default_rng(3)
    f = _case_fn(case)
    args = []
    for shape, ax in zip(case[:2], axes):
        if ax is not None:
            pos = ax % (len(shape) + 1)
            shape = shape[:pos] + (3,) + shape[pos:]
        args.append(rng.standard_normal(shape))
    check_vmap(f, args, axes, atol=1e-10, rtol=1e-10)


def test_vmap_of_grad_and_empty_batch():
    rng = np.random.default_rng(4)
    x, w = rng.standard_normal((3, 1, 2, 5, 5)), rng.standard_normal((4, 2, 3, 3))

    def loss(x, w):
        return fnp.sum(fnp.tanh(lax.conv(x, w, (1, 1), "SAME")))

    check_vmap(fg.grad(loss, argnums=(0, 1)), [x, w], (0, None), atol=1e-10, rtol=1e-10)
    f = _case_fn(GRAD_CASES[1])
    check_vmap(f, [np.zeros((0, 1, 4, 3, 4)), rng.standard_normal((0, 2, 2, 2, 4))], (0, 0))


def _raises(lhs_shape, rhs_shape, match, **kw):
    lhs, rhs = np.zeros(lhs_shape), np.zeros(rhs_shape)
    args = dict(window_strides=(1, 1), padding="VALID")
    args.update(kw)
    with pytest.raises(ValueError, match=match) as e:
        lax.conv_general_dilated(lhs, rhs, **args)
    msg = str(e.value)
    assert str(lhs_shape) in msg and str(rhs_shape) in msg and "dimension_numbers" in msg, msg
    return msg


def test_shape_errors():
    _raises((1, 3, 5, 5), (4, 2, 3, 3), "lhs feature dimension 3 .* rhs input feature dimension 2")
    _raises((1, 2, 3, 3), (4, 2, 4, 4), "larger than the padded input")
    _raises((1, 2, 2, 2), (4, 2, 2, 2), "larger than the padded input", rhs_dilation=(2, 1))
    msg = _raises((1, 6, 5, 5), (4, 2, 3, 3), "does not divide", feature_group_count=4)
    assert "feature_group_count 4" in msg
    _raises(
        (1, 6, 5, 5),
        (3, 3, 3, 3),
        "feature_group_count 2 does not divide the rhs output",
        feature_group_count=2,
    )
    _raises((3, 2, 5, 5), (4, 2, 3, 3), "batch_group_count 2 does not divide", batch_group_count=2)
    msg = _raises(
        (1, 5, 5, 3),
        (3, 3, 2, 4),
        "lhs feature dimension 3",
        dimension_numbers=("NHWC", "HWIO", "NHWC"),
    )
    assert "(0, 3, 1, 2)" in msg
    # jit and other tracers see the same check through abstract_eval
    with pytest.raises(ValueError, match="rhs input feature dimension 2"):
        _conv_general_dilated_abstract_eval(
            ShapedArray((1, 3, 5, 5), np.dtype("float32")),
            ShapedArray((4, 2, 3, 3), np.dtype("float32")),
            window_strides=(1, 1),
            padding=((0, 0), (0, 0)),
            lhs_dilation=(1, 1),
            rhs_dilation=(1, 1),
            dimension_numbers=lax.ConvDimensionNumbers((0, 1, 2, 3), (0, 1, 2, 3), (0, 1, 2, 3)),
            feature_group_count=1,
            batch_group_count=1,
        )
    with pytest.raises(TypeError, match="must contain 'N' and 'C'"):
        lax.conv_general_dilated(
            np.zeros((1, 2, 3)),
            np.zeros((1, 2, 1)),
            (1,),
            "VALID",
            dimension_numbers=("NHW", "OIH", "NCH"),
        )
    with pytest.raises(ValueError, match="window_strides"):
        lax.conv_general_dilated(np.zeros((1, 2, 3)), np.zeros((1, 2, 1)), (1, 1), "VALID")
    with pytest.raises(ValueError, match="lhs_dilation"):
        lax.conv_general_dilated(np.zeros((1, 2, 3)), np.zeros((1, 2, 1)), (1,), "SAME", (2,))


def test_params_are_hashable_tuples(monkeypatch):
    seen = {}

    def recording(xp, *args, _impl=conv_general_dilated_p.impl, **params):
        seen.update(params)
        hash(tuple(params.items()))
        return _impl(xp, *args, **params)

    monkeypatch.setattr(conv_general_dilated_p, "impl", recording)
    lax.conv_general_dilated(
        np.zeros((1, 5, 5, 2)),
        np.zeros((3, 3, 2, 4)),
        [1, 1],
        [[1, 1], [0, 0]],
        [1, 1],
        [1, 1],
        ["NHWC", "HWIO", "NHWC"],
    )
    assert seen["padding"] == ((1, 1), (0, 0)) and seen["window_strides"] == (1, 1)
    assert seen["dimension_numbers"] == ((0, 3, 1, 2), (3, 2, 0, 1), (0, 3, 1, 2))


@pytest.mark.parametrize(
    "nsp, strides, padding, rhs_dil",
    [
        (1, (2,), ((1, 0),), (1,)),
        (2, (2, 1), ((0, 1), (2, 1)), (1, 2)),
        (2, (3, 2), "SAME", (1, 1)),
    ],
)
def test_conv_transpose_matches_scatter_reference(nsp, strides, padding, rhs_dil):
    rng = np.random.default_rng(5)
    sp = SPATIAL[:nsp]
    x = rng.standard_normal((2, 3) + (3,) * nsp)  # canonical (N, C, *S)
    w = rng.standard_normal((4, 3) + (2,) * nsp)  # (O, I, *K)
    specs = ("N" + sp + "C", sp + "IO", "N" + sp + "C")
    out = lax.conv_transpose(
        to_layout(x, specs[0], "NC" + sp),
        to_layout(w, specs[1], "OI" + sp),
        strides,
        padding,
        rhs_dil,
    )  # default layouts are channels-last, as in JAX
    if isinstance(padding, str):
        k_dil = [(2 - 1) * d + 1 for d in rhs_dil]
        padding = [
            (k - 1, s - 1) if s > k - 1 else (-(-(k + s - 2) // 2), (k + s - 2) // 2)
            for k, s in zip(k_dil, strides)
        ]
    expected = ref_conv_transpose(x, w, strides, padding, rhs_dil)
    check_close(from_out_layout(np.asarray(out), specs), expected, atol=1e-10, rtol=1e-10)


@pytest.mark.parametrize("padding", ["SAME", "VALID"])
@pytest.mark.parametrize("strides, k", [((2, 2), (3, 3)), ((1, 2), (2, 3)), ((3, 1), (2, 2))])
def test_conv_transpose_is_the_gradient_of_conv(padding, strides, k):
    rng = np.random.default_rng(6)
    dn = ("NHWC", "HWIO", "NHWC")
    i = (3, 2)  # the conv's output size = conv_transpose's input size
    if padding == "SAME":
        size = tuple(a * s for a, s in zip(i, strides))
    else:
        size = tuple(a * s + max(b - s, 0) for a, s, b in zip(i, strides, k))
    x = rng.standard_normal((2,) + size + (3,))
    w = rng.standard_normal(k + (3, 4))
    ct = rng.standard_normal((2,) + i + (4,))
    out, f_vjp = fg.vjp(
        lambda x: lax.conv_general_dilated(x, w, strides, padding, None, None, dn), x
    )
    assert out.shape == ct.shape
    expected = f_vjp(fnp.asarray(ct))[0]
    got = lax.conv_transpose(ct, w, strides, padding, dimension_numbers=dn, transpose_kernel=True)
    check_close(got, expected, atol=1e-10, rtol=1e-10)
