"""core/ir.py: tracing functions into programs, evaluating them, printing, closure conversion."""

import numpy as np
import pytest

import funcgrad as fg
import funcgrad.numpy as fnp
from funcgrad import lax
from funcgrad.core.ir import Literal, Program, ProgramTracer, Var, eval_program, make_program
from funcgrad.core.primitive import ShapedArray
from funcgrad.core.tree import tree_structure
from funcgrad.transforms.grad import VJPTracer
from funcgrad.transforms.vmap import BatchTracer
from tests.helpers import check_close

F32 = np.dtype(np.float32)


def test_print_one_equation_per_line():
    program, _ = make_program(lambda x, y: fnp.sin(x) * y + 2.0, ShapedArray((3,), F32), 1.0)
    assert str(program) == (
        "{ lambda ; a:f32[3] b:f32[] . let\n"
        "    c:f32[3] = sin a\n"
        "    d:f32[3] = mul c b\n"
        "    e:f32[3] = add d 2.0\n"
        "  in (e) }"
    )


def test_program_structure_literals_and_consts():
    w = fnp.asarray(np.arange(3.0))
    program, out_tree = make_program(lambda x: {"y": x * w, "s": (x * 3).sum()}, np.ones(3))
    assert out_tree == tree_structure({"y": 0, "s": 0})
    assert [v.aval for v in program.invars] == [ShapedArray((3,), np.dtype(np.float64))]
    assert program.consts == [w] and len(program.constvars) == 1
    assert any(type(x) is Literal and x.val == 3 for e in program.eqns for x in e.inputs)
    assert [e.prim.name for e in program.eqns] == ["mul", "mul", "reduce_sum"]
    assert program.out_avals == [ShapedArray((), np.dtype(np.float64)), program.invars[0].aval]
    opened = program.consts_as_inputs()
    assert opened.invars == program.constvars + program.invars and opened.consts == []
    # Programs are hashable static parameters, compared by identity.
    assert program == program and program != opened and hash(program) == hash(program)


def test_eval_program_matches_the_function_and_applies_transforms():
    def f(x, y):
        return fnp.tanh(x * y).sum() + (x**2).mean()

    x, y = np.array([0.3, -1.2, 2.0]), np.array([1.5, 0.5, -0.7])
    program, _ = make_program(f, x, y)
    run = lambda x, y: eval_program(program, x, y)[0]  # noqa: E731
    check_close(run(fnp.asarray(x), fnp.asarray(y)), f(fnp.asarray(x), fnp.asarray(y)))
    check_close(fg.grad(run, (0, 1))(x, y), fg.grad(f, (0, 1))(x, y))
    xs = np.stack([x, y, x * 2])
    check_close(fg.vmap(run, (0, None))(xs, y), fg.vmap(f, (0, None))(xs, y))
    with pytest.raises(TypeError, match="takes 2 inputs, got 1"):
        eval_program(program, x)


def test_nested_programs_are_indented():
    def f(c, xs):
        return lax.scan(lambda c, x: (c * x, c), c, xs)

    program, _ = make_program(f, ShapedArray((), F32), ShapedArray((4,), F32))
    text = str(program)
    assert "= scan[num_consts=0 num_carry=1 length=4 reverse=False] a b" in text
    assert "\n      program=\n        { lambda ; e:f32[] f:f32[] . let\n" in text
    assert "            g:f32[] = mul e f\n" in text
    assert text.endswith("  in (c d) }")


def test_tracers_carry_only_avals():
    def f(x):
        assert type(x) is ProgramTracer and x.shape == (2,) and x.dtype == F32
        return x if x.sum() > 0 else -x

    with pytest.raises(TypeError, match="lax.cond or fnp.where"):
        make_program(f, ShapedArray((2,), F32))


def test_closure_conversion_of_lower_level_tracers():
    seen = {}

    def outer(w):
        program, _ = make_program(lambda x: x * w + fnp.sin(w), ShapedArray((3,), w.dtype))
        seen[type(w)] = [type(c) for c in program.consts]
        return eval_program(program, w)[0].sum()

    w = np.array([0.1, 0.2, 0.3])
    g = fg.grad(outer)(w)
    # w and sin(w) (computed at w's own level while tracing) are consts holding grad tracers.
    assert seen[VJPTracer] == [VJPTracer, VJPTracer]
    check_close(g, 2 * w + np.cos(w))
    fg.vmap(outer)(np.stack([w, w]))
    assert seen[BatchTracer] == [BatchTracer, BatchTracer]


def test_var_and_literal_repr():
    assert repr(Var(ShapedArray((2, 3), np.dtype(np.int32)))) == "Var(i32[2,3])"
    assert repr(Literal(2.0)) == "2.0"
    assert isinstance(make_program(lambda: 1.0)[0], Program)
