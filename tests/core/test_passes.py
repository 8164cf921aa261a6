"""Each optimisation pass on hand-written programs: what it must remove and what it must keep."""

from __future__ import annotations

import numpy as np

import funcgrad as fg
import funcgrad.numpy as fnp
from funcgrad.core.array import Array
from funcgrad.core.ir import Eqn, Literal, Program, Var
from funcgrad.core.passes import (
    eliminate_common_subexpressions,
    eliminate_dead_code,
    fold_constants,
    forward_trivial,
    inline_calls,
    optimize,
)
from funcgrad.core.primitive import ShapedArray
from funcgrad.core.replay import compile_program, run_program
from funcgrad.debug import debug_callback_p
from funcgrad.lax.elementwise import add_p, exp_p, mul_p, sin_p, sub_p
from funcgrad.lax.shape import reshape_p, transpose_p
from funcgrad.transforms.jit import jit_p

F3 = ShapedArray((3,), np.dtype(np.float32))
F22 = ShapedArray((2, 2), np.dtype(np.float32))


def v(aval=F3):
    return Var(aval)


def names(p: Program) -> list[str]:
    return [e.prim.name for e in p.eqns]


def run(p: Program, *args):
    return run_program(p, *[np.asarray(a, np.float32) for a in args])


# ---------------------------------------------------------------------------------------------
# Dead code


def test_dce_removes_unused_equations_and_constants():
    x, a, b, c, k = v(), v(), v(), v(), v()
    p = Program(
        [x],
        [k],
        [Array(np.ones(3, np.float32))],
        [
            Eqn(sin_p, [x], {}, [a]),
            Eqn(exp_p, [x], {}, [b]),  # unused
            Eqn(add_p, [b, k], {}, [c]),  # unused, and the only user of k
        ],
        [a],
    )
    out = eliminate_dead_code(p)
    assert names(out) == ["sin"] and out.constvars == []
    assert out.outvars == [a] and out.invars == [x]


def test_dce_keeps_returned_values_and_effects():
    x, a, b = v(), v(), v()
    p = Program(
        [x],
        [],
        [],
        [
            Eqn(debug_callback_p, [x], {"callback": print}, []),  # no outputs, an effect
            Eqn(sin_p, [x], {}, [a]),
            Eqn(exp_p, [a], {}, [b]),
        ],
        [a, b],
    )
    assert names(eliminate_dead_code(p)) == ["debug_callback", "sin", "exp"]


# ---------------------------------------------------------------------------------------------
# Common subexpressions


def test_cse_merges_identical_equations_only():
    x, y, a, b, c, d, e = v(), v(), v(), v(), v(), v(), v()
    p = Program(
        [x, y],
        [],
        [],
        [
            Eqn(sin_p, [x], {}, [a]),
            Eqn(sin_p, [x], {}, [b]),  # the same as a
            Eqn(sin_p, [y], {}, [c]),  # another input: kept
            Eqn(mul_p, [a, Literal(2.0)], {}, [d]),
            Eqn(mul_p, [b, Literal(2)], {}, [e]),  # a weak int literal is another literal
        ],
        [d, e, c],
    )
    out = eliminate_common_subexpressions(p)
    assert names(out) == ["sin", "sin", "mul", "mul"]
    assert out.eqns[3].inputs[0] is a  # b was replaced by a
    np.testing.assert_allclose(run(out, [1, 2, 3], [0, 0, 0])[0], np.sin([1, 2, 3]) * 2, 1e-6)


def test_cse_keeps_repeated_effects():
    x = v()
    cb = {"callback": print}
    p = Program([x], [], [], [Eqn(debug_callback_p, [x], cb, [])] * 2, [x])
    assert len(eliminate_common_subexpressions(p).eqns) == 2


def test_cse_distinguishes_parameters():
    x, a, b = v(F22), v(F22), v(F22)
    p = Program(
        [x],
        [],
        [],
        [
            Eqn(transpose_p, [x], {"permutation": (1, 0)}, [a]),
            Eqn(transpose_p, [x], {"permutation": (0, 1)}, [b]),
        ],
        [a, b],
    )
    assert len(eliminate_common_subexpressions(p).eqns) == 2


# ---------------------------------------------------------------------------------------------
# Constant folding


def test_fold_constants_precomputes_what_depends_only_on_constants():
    x, k, a, b, c = v(), v(), v(), v(), v()
    p = Program(
        [x],
        [k],
        [Array(np.arange(3, dtype=np.float32))],
        [
            Eqn(sin_p, [k], {}, [a]),  # constant
            Eqn(mul_p, [a, Literal(2.0)], {}, [b]),  # constant
            Eqn(add_p, [x, b], {}, [c]),  # depends on the input: kept
        ],
        [c],
    )
    out = optimize(p)
    assert names(out) == ["add"]
    np.testing.assert_allclose(run(out, [1, 1, 1])[0], 1 + 2 * np.sin(np.arange(3)), 1e-6)


def test_fold_constants_keeps_effects():
    k = v()
    p = Program(
        [],
        [k],
        [Array(np.ones(3, np.float32))],
        [Eqn(debug_callback_p, [k], {"callback": print}, [])],
        [k],
    )
    assert names(fold_constants(p)) == ["debug_callback"]


# ---------------------------------------------------------------------------------------------
# Forwarding


def test_forwarding_removes_identities():
    x, a, b, c, d, e, z = v(), v(), v(), v(), v(), v(), v()
    p = Program(
        [x],
        [z],
        [Array(np.zeros(3, np.float32))],
        [
            Eqn(mul_p, [x, Literal(1.0)], {}, [a]),  # x * 1
            Eqn(add_p, [z, a], {}, [b]),  # 0 + a: zeros from an unused cotangent
            Eqn(sub_p, [b, Literal(0)], {}, [c]),  # b - 0
            Eqn(reshape_p, [c], {"new_sizes": (3,)}, [d]),  # to the same shape
            Eqn(sin_p, [d], {}, [e]),
        ],
        [e],
    )
    out = forward_trivial(p)
    assert names(out) == ["sin"] and out.eqns[0].inputs == [x]


def test_forwarding_collapses_a_reshape_of_a_reshape():
    x = v(ShapedArray((4,), F3.dtype))
    a, b = v(F22), v(ShapedArray((1, 4), F3.dtype))
    p = Program(
        [x],
        [],
        [],
        [
            Eqn(reshape_p, [x], {"new_sizes": (2, 2)}, [a]),
            Eqn(reshape_p, [a], {"new_sizes": (1, 4)}, [b]),
        ],
        [b],
    )
    out = eliminate_dead_code(forward_trivial(p))
    assert names(out) == ["reshape"] and out.eqns[0].inputs == [x]


def test_forwarding_keeps_a_transpose_that_permutes():
    x, a = v(F22), v(F22)
    p = Program([x], [], [], [Eqn(transpose_p, [x], {"permutation": (1, 0)}, [a])], [a])
    assert names(forward_trivial(p)) == ["transpose"]


def test_forwarding_keeps_a_dtype_changing_multiply():
    x = Var(ShapedArray((3,), np.dtype(np.int32)))
    a = v()  # float32: int32 * 1.0 is not x
    p = Program([x], [], [], [Eqn(mul_p, [x, Literal(1.0)], {}, [a])], [a])
    assert names(forward_trivial(p)) == ["mul"]


# ---------------------------------------------------------------------------------------------
# Inlining and the interpreter


def test_inline_calls_splices_nested_programs():
    inner = fg.jit(lambda a: fnp.sin(a) * 2.0)
    outer = fg.make_ir(lambda a: inner(a) + inner(a + 1.0))(fnp.ones(3))
    assert names(outer) == ["jit", "add", "jit", "add"]
    flat = inline_calls(outer)
    assert names(flat) == ["sin", "mul", "add", "sin", "mul", "add"]
    x = np.arange(3, dtype=np.float32)
    expected = np.sin(x) * 2 + np.sin(x + 1) * 2
    np.testing.assert_allclose(run(flat, x)[0], expected, rtol=1e-6)
    np.testing.assert_allclose(run(outer, x)[0], expected, rtol=1e-6)
    assert jit_p.name == "jit"


def test_replay_frees_dead_values_and_reuses_their_buffers():
    x, a, b, c = v(), v(), v(), v()
    p = Program(
        [x],
        [],
        [],
        [Eqn(sin_p, [x], {}, [a]), Eqn(exp_p, [a], {}, [b]), Eqn(add_p, [b, a], {}, [c])],
        [c],
    )
    exe = compile_program(p)
    # exp cannot take a's buffer (a is read again by add); add can take b's.
    assert [s.reuse for s in exe.steps] == [None, None, exe.steps[1].outs[0]]
    assert "del" in exe.source and "out=" in exe.source
    xv = np.arange(3, dtype=np.float32)
    kept = xv.copy()
    np.testing.assert_allclose(exe([xv])[0], np.exp(np.sin(kept)) + np.sin(kept), rtol=1e-6)
    np.testing.assert_array_equal(xv, kept)  # the caller's array is never written


def test_replay_on_another_array_module_calls_the_impls_with_it():
    """The GPU path compiles for cupy; any module that is not numpy gets the impls (with xp)
    and no NumPy fast paths or in-place writes."""
    import types

    calls = []
    fake = types.ModuleType("fakenp")

    def sin(x):
        calls.append("sin")
        return np.sin(x)

    fake.sin = sin
    x, a, b = v(), v(), v()
    p = Program([x], [], [], [Eqn(sin_p, [x], {}, [a]), Eqn(exp_p, [a], {}, [b])], [b])
    fake.exp = lambda y: (calls.append("exp"), np.exp(y))[1]
    exe = compile_program(p, xp=fake)
    assert exe.num_inplace == 0
    out = exe([np.arange(3, dtype=np.float32)])
    np.testing.assert_allclose(out[0], np.exp(np.sin(np.arange(3))), rtol=1e-6)
    assert calls == ["sin", "exp"]
