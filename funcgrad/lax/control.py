"""Control flow (JAX's ``lax.scan``, ``cond``, ``switch``, ``fori_loop``, ``while_loop``, ``map``).

Each is a higher-order primitive carrying traced programs (``core/ir.py``). Values a body closes
over (arrays, or tracers of enclosing transforms) become explicit operands, so every transform
applies its rule to them. The rules are written with these same functions, so they compose:
grad of grad through scan, vmap of grad of cond, and so on.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from funcgrad.core.array import Array
from funcgrad.core.ir import Program, Var, aval_str, eval_program, make_program
from funcgrad.core.primitive import Primitive, ShapedArray
from funcgrad.core.replay import compile_program
from funcgrad.core.tree import leaf_paths, tree_flatten, tree_unflatten
from funcgrad.lax.elementwise import clamp, convert_element_type, eq, ne, select
from funcgrad.lax.reduce import reduce_or
from funcgrad.lax.shape import reshape
from funcgrad.transforms.grad import (
    _as_array,
    defjvp_all,
    defvjp_all,
    jvp,
    vjp,
    zeros_like,
)
from funcgrad.transforms.vmap import batch_rules, batch_size, move_batch_axis, moveaxis, vmap

__all__ = ["scan", "cond", "switch", "fori_loop", "while_loop", "map"]

# --------------------------------------------------------------------------------------------
# Helpers


def _wrap(x):
    return x if isinstance(x, Array) else Array(x)


def _runner(xp, program: Program) -> Callable[[list], list]:
    """Runs ``program`` on raw NumPy/CuPy values with the replay interpreter (compiled once per
    program and array module, and cached)."""
    exe = compile_program(program, xp=xp)
    return lambda vals: exe(list(vals))


def _fun(program: Program) -> Callable[..., list]:
    """The program as a function of its flat inputs (bind at whatever level is active)."""
    return lambda *args: eval_program(program, *args)


def _inexact(x) -> bool:
    return x.dtype.kind in "fc"


def _aval(x) -> ShapedArray:
    return ShapedArray(tuple(x.shape), x.dtype)


def _check_carry(who: str, what: str, in_tree, out_tree, in_avals, out_avals, name: str):
    """The carry a body returns must match the carry it takes: structure, shapes, dtypes."""
    if in_tree != out_tree:
        raise TypeError(
            f"{who}: {what} must have the same structure as {name}, but {name} is {in_tree} "
            f"and {what} is {out_tree}"
        )
    for path, a, b in zip(leaf_paths(in_tree, name), in_avals, out_avals):
        if a != b:
            raise TypeError(
                f"{who}: {what} must have the same shapes and dtypes as {name}, but {path} is "
                f"{aval_str(a)} on input and {aval_str(b)} on output"
            )


def _trace_carry_body(who, what, name, body, init_flat, init_tree, weak, extra=()):
    """Traces ``body(carry_tree, *extra)``, whose output starts with the new carry.

    Python-scalar (weakly typed) init leaves take the dtype the body gives them, as in JAX.
    Returns (program, out_tree, init_flat) with init_flat possibly promoted.
    """
    n = len(init_flat)
    for attempt in range(2):
        program, out_tree = make_program(body, tree_unflatten(init_tree, init_flat), *extra)
        carry_tree = out_tree.children[0] if out_tree.kind is tuple else out_tree
        out_avals = program.out_avals[:n]
        in_avals = [_aval(c) for c in init_flat]
        if attempt == 0 and carry_tree == init_tree:
            promoted = [
                convert_element_type(c, b.dtype) if w and a.shape == b.shape else c
                for c, w, a, b in zip(init_flat, weak, in_avals, out_avals)
            ]
            if any(p is not c for p, c in zip(promoted, init_flat)):
                init_flat = promoted
                continue
        _check_carry(who, what, init_tree, carry_tree, in_avals, out_avals, name)
        return program, out_tree, init_flat
    raise AssertionError("unreachable")


def _flatten_init(init):
    flat, tree = tree_flatten(init)
    weak = [type(x) in (bool, int, float, complex) for x in flat]
    return [_as_array(x) for x in flat], tree, weak


# --------------------------------------------------------------------------------------------
# scan


def scan(
    f: Callable[[Any, Any], tuple[Any, Any]],
    init: Any,
    xs: Any = None,
    length: int | None = None,
    reverse: bool = False,
    unroll: int = 1,
) -> tuple[Any, Any]:
    """Loops ``f`` over the leading axis of ``xs``, threading a carry (JAX's ``lax.scan``).

    Semantically::

        def scan(f, init, xs, length=None):
            carry, ys = init, []
            for x in xs:
                carry, y = f(carry, x)
                ys.append(y)
            return carry, stack(ys)

    Args:
      f: ``f(carry, x) -> (carry, y)``; the returned carry must have the structure, shapes and
        dtypes of ``init``. ``f`` is traced once; it sees traced values, so Python control flow
        on them is an error (use ``lax.cond`` or ``fnp.where``).
      init: the initial carry, a pytree of arrays.
      xs: a pytree of arrays scanned along their leading axis (all of one length), or None.
      length: the number of iterations; required when ``xs`` is None.
      reverse: scan from the end (ys keep the order of ``xs``).
      unroll: accepted for JAX compatibility and ignored (funcgrad runs the loop in Python).

    Returns:
      ``(final_carry, ys)`` with ys stacked along a new leading axis.

    Example:
      >>> cumsum = lambda xs: lax.scan(lambda c, x: (c + x, c + x), 0.0, xs)[1]
      >>> cumsum(fnp.arange(4.0))
      Array([0., 1., 3., 6.], dtype=float32)
    """
    init_flat, init_tree, weak = _flatten_init(init)
    xs_flat, xs_tree = tree_flatten(xs)
    xs_flat = [_as_array(x) for x in xs_flat]
    length = _scan_length(xs_flat, xs_tree, length)
    x_avals = tree_unflatten(xs_tree, [ShapedArray(tuple(x.shape[1:]), x.dtype) for x in xs_flat])

    def body(carry, x):
        out = f(carry, x)
        if not isinstance(out, (tuple, list)) or len(out) != 2:
            raise TypeError(
                f"lax.scan: f must return a pair (carry, y), got {type(out).__name__}"
                + (f" of length {len(out)}" if isinstance(out, (tuple, list)) else "")
            )
        return tuple(out)

    program, out_tree, init_flat = _trace_carry_body(
        "lax.scan", "the carry returned by f", "init", body, init_flat, init_tree, weak, (x_avals,)
    )
    n = len(init_flat)
    outs = scan_p.bind(
        *program.consts,
        *init_flat,
        *xs_flat,
        program=program.consts_as_inputs(),
        num_consts=len(program.consts),
        num_carry=n,
        length=length,
        reverse=bool(reverse),
    )
    return tree_unflatten(init_tree, outs[:n]), tree_unflatten(out_tree.children[1], outs[n:])


def _scan_length(xs_flat, xs_tree, length) -> int:
    paths = leaf_paths(xs_tree, "xs")
    for path, x in zip(paths, xs_flat):
        if not x.shape:
            raise TypeError(
                f"lax.scan: {path} is a scalar; scanned arrays need a leading axis to scan over"
            )
    if length is not None:
        length = int(length)
        for path, x in zip(paths, xs_flat):
            if x.shape[0] != length:
                raise TypeError(
                    f"lax.scan: length={length} but {path} has leading axis size {x.shape[0]} "
                    f"(shape {tuple(x.shape)})"
                )
        return length
    if not xs_flat:
        raise ValueError("lax.scan: xs is None (or has no arrays), so pass length=")
    length = xs_flat[0].shape[0]
    for path, x in zip(paths, xs_flat):
        if x.shape[0] != length:
            raise TypeError(
                f"lax.scan: all xs must have the same leading axis size, but {paths[0]} has "
                f"{length} (shape {tuple(xs_flat[0].shape)}) and {path} has {x.shape[0]} "
                f"(shape {tuple(x.shape)})"
            )
    return length


class _Shown(str):
    """A string shown without quotes inside a container's repr (avals in error messages)."""

    __repr__ = str.__str__


def _split(seq, *sizes):
    out, i = [], 0
    for n in sizes:
        out.append(list(seq[i : i + n]))
        i += n
    out.append(list(seq[i:]))
    return out


def _scan_impl(xp, *args, program, num_consts, num_carry, length, reverse):
    consts, carry, xs = _split(list(args), num_consts, num_carry)
    run = _runner(xp, program)
    ys = []
    for i in reversed(range(length)) if reverse else range(length):
        outs = run([*consts, *carry, *[x[i] for x in xs]])
        carry = outs[:num_carry]
        ys.append(outs[num_carry:])
    if reverse:
        ys.reverse()
    y_avals = program.out_avals[num_carry:]
    if length == 0:
        stacked = [xp.zeros((0,) + a.shape, a.dtype) for a in y_avals]
    else:
        # A body output may be a scalar (a literal): CuPy's stack takes only its arrays.
        conv = (lambda v: v) if xp is np else xp.asarray
        stacked = [xp.stack([conv(row[j]) for row in ys]) for j in range(len(y_avals))]
    return list(carry) + stacked


def _scan_abstract_eval(*avals, program, num_consts, num_carry, length, reverse):
    outs = program.out_avals
    ys = [ShapedArray((length,) + a.shape, a.dtype) for a in outs[num_carry:]]
    return outs[:num_carry] + ys


def _scan_jvp(primals, tangents, *, program, num_consts, num_carry, length, reverse):
    # A scan over (primal, tangent) carries and xs whose body is the jvp of the body.
    tangents = [zeros_like(p) if t is None else t for p, t in zip(primals, tangents)]
    consts, init, xs = _split(primals, num_consts, num_carry)
    consts_t, init_t, xs_t = _split(tangents, num_consts, num_carry)
    n = num_carry
    body = _fun(program)

    def jvp_body(carry, x):
        x, x_t = x
        outs, outs_t = jvp(
            lambda c, cr, xx: body(*c, *cr, *xx), (consts, carry[:n], x), (consts_t, carry[n:], x_t)
        )
        return outs[:n] + outs_t[:n], (outs[n:], outs_t[n:])

    carry, (ys, ys_t) = scan(jvp_body, init + init_t, (xs, xs_t), length=length, reverse=reverse)
    out, out_t = carry[:n] + ys, carry[n:] + ys_t
    return out, [t if _inexact(o) else None for o, t in zip(out, out_t)]


def _scan_vjp(g, ans, *args, program, num_consts, num_carry, length, reverse):
    consts, init, xs = _split(args, num_consts, num_carry)
    n = num_carry
    body = _fun(program)

    # (a) A forward scan that emits the carry entering each iteration (the residuals).
    def fwd(carry, x):
        return body(*consts, *carry, *x)[:n], list(carry)

    _, carries = scan(fwd, init, xs, length=length, reverse=reverse)

    # (b) A reverse scan whose body is the vjp of the body at (consts, carry_i, x_i); the
    # consts' cotangents accumulate in the carry.
    def bwd(carry, x):
        ct_consts, ct_carry = carry
        carry_i, x_i, ct_y = x
        _, pullback = vjp(lambda c, cr, xx: body(*c, *cr, *xx), consts, carry_i, x_i)
        d_consts, d_carry, d_x = pullback(list(ct_carry) + list(ct_y))
        return ([a + b for a, b in zip(ct_consts, d_consts)], list(d_carry)), list(d_x)

    init_ct = ([zeros_like(c) for c in consts], list(g[:n]))
    (ct_consts, ct_init), ct_xs = scan(
        bwd, init_ct, (carries, xs, list(g[n:])), length=length, reverse=not reverse
    )
    cts = ct_consts + ct_init + ct_xs
    return tuple(c if _inexact(a) else None for a, c in zip(args, cts))


def _scan_batch(args, dims, *, program, num_consts, num_carry, length, reverse):
    # A carry is batched if its init is or the body makes it so (a fixed point, as in JAX), so
    # that values independent of the batch stay unbatched (jacfwd needs its primal unbatched).
    # Batched carries have their batch axis at 0; batched xs at 1 (0 is scanned), so each x
    # slice has it at 0; batched ys come out with it at 1.
    size = batch_size(args, dims)
    consts, init, xs = _split(args, num_consts, num_carry)
    const_dims, init_dims, xs_dims = _split(dims, num_consts, num_carry)
    n = num_carry
    carry_b = [d is not None for d in init_dims]
    while True:
        marked = [d is not None for d in const_dims] + carry_b + [d is not None for d in xs_dims]
        out_b = _batched_outputs(program, marked)
        new = [a or b for a, b in zip(carry_b, out_b[:n])]
        if new == carry_b:
            break
        carry_b = new
    init = [move_batch_axis(c, d, size, 0) if b else c for c, d, b in zip(init, init_dims, carry_b)]
    xs = [x if d is None else moveaxis(x, d, 1) for x, d in zip(xs, xs_dims)]
    carry_axes = [0 if b else None for b in carry_b]
    y_axes = [0 if b else None for b in out_b[n:]]
    body_b = vmap(
        lambda c, cr, xx: _fun(program)(*c, *cr, *xx),
        in_axes=(const_dims, carry_axes, [None if d is None else 0 for d in xs_dims]),
        out_axes=carry_axes + y_axes,
        axis_size=size,
    )

    def batched_body(carry, x):
        outs = body_b(consts, carry, x)
        return outs[:n], outs[n:]

    carry, ys = scan(batched_body, init, xs, length=length, reverse=reverse)
    return carry + ys, carry_axes + [None if a is None else 1 for a in y_axes]


def _batched_outputs(program: Program, marked: Sequence[bool]) -> list[bool]:
    """Which outputs depend on a marked input: under vmap, the others are surely unbatched."""
    dep = {v for v, m in zip(program.invars, marked) if m}
    for eqn in program.eqns:
        if any(type(x) is Var and x in dep for x in eqn.inputs):
            dep.update(eqn.outputs)
    return [type(v) is Var and v in dep for v in program.outvars]


scan_p = Primitive("scan", multiple_results=True)
scan_p.def_impl(_scan_impl)
scan_p.def_abstract_eval(_scan_abstract_eval)
defjvp_all(scan_p, _scan_jvp)
defvjp_all(scan_p, _scan_vjp)
batch_rules[scan_p] = _scan_batch


def map(f: Callable[[Any], Any], xs: Any) -> Any:  # noqa: A001 - lax's name
    """``f`` applied to each slice of ``xs`` along its leading axis, stacked (a scan, no carry).

    Example:
      >>> lax.map(lambda x: x @ x, fnp.ones((4, 3)))
      Array([3., 3., 3., 3.], dtype=float32)
    """
    return scan(lambda _, x: ((), f(x)), (), xs)[1]


# --------------------------------------------------------------------------------------------
# cond / switch


def cond(pred: Any, true_fun: Callable[..., Any], false_fun: Callable[..., Any], *operands: Any):
    """``true_fun(*operands)`` if ``pred`` else ``false_fun(*operands)`` (JAX's ``lax.cond``).

    Both branches are traced; they must return the same structure, shapes and dtypes. Only the
    selected branch runs, except under vmap with a batched ``pred``, where both run and the
    results are selected per member (as in JAX).

    Args:
      pred: a scalar boolean (or number: nonzero is true).
      true_fun, false_fun: functions of ``*operands``.
      operands: pytrees of arrays passed to the branch.

    Example:
      >>> lax.cond(x > 0, lambda x: x, lambda x: -x, x)   # |x|, differentiable, batchable
    """
    pred = _as_array(pred)
    if pred.shape != ():
        raise TypeError(f"lax.cond: pred must be a scalar, got shape {tuple(pred.shape)}")
    if pred.dtype.kind not in "biuf":
        raise TypeError(f"lax.cond: pred must be a boolean or a number, got {pred.dtype}")
    if pred.dtype.kind != "b":
        pred = ne(pred, 0)
    index = convert_element_type(pred, np.int32)
    return _cond(index, [false_fun, true_fun], operands, ("false_fun", "true_fun"))


def switch(index: Any, branches: Sequence[Callable[..., Any]], *operands: Any):
    """``branches[index](*operands)``, with ``index`` clamped to ``[0, len(branches) - 1]``.

    Example:
      >>> lax.switch(i, [fnp.sin, fnp.cos, fnp.tanh], x)
    """
    branches = list(branches)
    if not branches:
        raise ValueError("lax.switch: branches must be a non-empty sequence of functions")
    index = _as_array(index)
    if index.shape != () or index.dtype.kind not in "iub":
        raise TypeError(
            f"lax.switch: index must be an integer scalar, got {aval_str(_aval(index))}"
        )
    index = clamp(0, convert_element_type(index, np.int32), len(branches) - 1)
    names = tuple(f"branch {i}" for i in range(len(branches)))
    return _cond(index, branches, operands, names)


def _cond(index, funs, operands, names=None):
    """Traces the branches on the operands (a tuple of pytrees) and binds ``cond_p``."""
    flat, in_tree = tree_flatten(tuple(operands))
    flat = [_as_array(x) for x in flat]
    traced = [make_program(lambda *a, f=f: f(*tree_unflatten(in_tree, a)), *flat) for f in funs]
    names = names or tuple(f"branch {i}" for i in range(len(funs)))
    (p0, t0), name0 = traced[0], names[0]
    for (p, t), name in zip(traced[1:], names[1:]):
        if t != t0 or p.out_avals != p0.out_avals:
            show = lambda p, t: tree_unflatten(t, [_Shown(aval_str(a)) for a in p.out_avals])  # noqa: E731
            raise TypeError(
                f"lax.cond: the branches must return the same structure, shapes and dtypes, "
                f"but {name0} returns {show(p0, t0)} and {name} returns {show(p, t)}"
            )
    # One signature for all branches: the consts of every branch (once each), then the operands.
    consts, where = [], {}
    for p, _ in traced:
        for c in p.consts:
            if id(c) not in where:
                where[id(c)] = len(consts)
                consts.append(c)
    joined = []
    for p, _ in traced:
        constvars = [Var(_aval(c)) for c in consts]
        for v, c in zip(p.constvars, p.consts):
            constvars[where[id(c)]] = v
        joined.append(Program(constvars + p.invars, [], [], p.eqns, p.outvars))
    outs = cond_p.bind(index, *consts, *flat, branches=tuple(joined))
    return tree_unflatten(t0, outs)


def _cond_impl(xp, index, *args, branches):
    i = min(max(int(index), 0), len(branches) - 1)
    return _runner(xp, branches[i])(args)


def _cond_abstract_eval(index, *avals, branches):
    return branches[0].out_avals


def _cond_jvp(primals, tangents, *, branches):
    index, args = primals[0], list(primals[1:])
    ts = [zeros_like(a) if t is None else t for a, t in zip(args, tangents[1:])]
    n = len(args)

    def jvp_branch(b):
        def f(*a):
            outs, outs_t = jvp(_fun(b), a[:n], a[n:])
            return list(outs), list(outs_t)

        return f

    out, out_t = _cond(index, [jvp_branch(b) for b in branches], args + ts)
    return out, [t if _inexact(o) else None for o, t in zip(out, out_t)]


def _cond_vjp(g, ans, index, *args, branches):
    # A cond over the vjps of the branches: the selected one recomputes its forward pass.
    n = len(args)

    def vjp_branch(b):
        def f(*a):
            _, pullback = vjp(_fun(b), *a[:n])
            return list(pullback(list(a[n:])))

        return f

    cts = _cond(index, [vjp_branch(b) for b in branches], list(args) + list(g))
    return (None,) + tuple(c if _inexact(a) else None for a, c in zip(args, cts))


def _cond_batch(args, dims, *, branches):
    size = batch_size(args, dims)
    index, ops = args[0], list(args[1:])
    if dims[0] is None:
        # Outputs that no branch computes from a batched operand stay unbatched.
        marked = [d is not None for d in dims[1:]]
        out_b = [any(bs) for bs in zip(*[_batched_outputs(b, marked) for b in branches])]
        out_axes = [0 if b else None for b in out_b]
        funs = [
            vmap(_fun(b), in_axes=tuple(dims[1:]), out_axes=out_axes, axis_size=size)
            for b in branches
        ]
        return _cond(index, funs, ops), out_axes
    # A batched index: every branch runs on the whole batch, then each member takes its own.
    funs = [vmap(_fun(b), in_axes=tuple(dims[1:]), axis_size=size) for b in branches]
    results = [f(*ops) for f in funs]
    index = moveaxis(index, dims[0], 0)
    out = results[0]
    for k, res in enumerate(results[1:], 1):
        pick = eq(index, k)
        out = [
            select(reshape(pick, (size,) + (1,) * (len(o.shape) - 1)), r, o)
            for r, o in zip(res, out)
        ]
    return out, [0] * len(out)


cond_p = Primitive("cond", multiple_results=True)
cond_p.def_impl(_cond_impl)
cond_p.def_abstract_eval(_cond_abstract_eval)
defjvp_all(cond_p, _cond_jvp)
defvjp_all(cond_p, _cond_vjp)
batch_rules[cond_p] = _cond_batch


# --------------------------------------------------------------------------------------------
# while_loop / fori_loop


def while_loop(cond_fun: Callable[[Any], Any], body_fun: Callable[[Any], Any], init_val: Any):
    """``while cond_fun(val): val = body_fun(val)``, as one primitive (JAX's ``lax.while_loop``).

    Forward mode (``jvp``) and ``vmap`` work; reverse mode does not (the number of iterations is
    not known ahead): use ``lax.scan``, or ``lax.fori_loop`` with Python-int bounds.

    Example:
      >>> lax.while_loop(lambda x: x < 10, lambda x: x * 2, 1)
      Array(16, dtype=int64)
    """
    init_flat, init_tree, weak = _flatten_init(init_val)
    body, init_flat = _trace_while_body(body_fun, init_flat, init_tree, weak)
    cond_prog, cond_tree = make_program(cond_fun, tree_unflatten(init_tree, init_flat))
    avals = cond_prog.out_avals
    if cond_tree.num_leaves != 1 or avals[0].shape != () or avals[0].dtype.kind != "b":
        shown = tree_unflatten(cond_tree, [_Shown(aval_str(a)) for a in avals])
        raise TypeError(f"lax.while_loop: cond_fun must return a boolean scalar, got {shown}")
    outs = while_p.bind(
        *cond_prog.consts,
        *body.consts,
        *init_flat,
        cond_program=cond_prog.consts_as_inputs(),
        body_program=body.consts_as_inputs(),
        cond_nconsts=len(cond_prog.consts),
        body_nconsts=len(body.consts),
    )
    return tree_unflatten(init_tree, outs)


def _trace_while_body(body_fun, init_flat, init_tree, weak):
    def body(carry):
        return (body_fun(carry),)

    what = "the value returned by body_fun"
    program, _, init_flat = _trace_carry_body(
        "lax.while_loop", what, "init_val", body, init_flat, init_tree, weak
    )
    return program, init_flat


def _while_impl(xp, *args, cond_program, body_program, cond_nconsts, body_nconsts):
    cc, bc, carry = _split(list(args), cond_nconsts, body_nconsts)
    test, body = _runner(xp, cond_program), _runner(xp, body_program)
    while bool(test([*cc, *carry])[0]):
        carry = body([*bc, *carry])
    return list(carry)


def _while_abstract_eval(*avals, cond_program, body_program, cond_nconsts, body_nconsts):
    return body_program.out_avals


def _while_jvp(primals, tangents, *, cond_program, body_program, cond_nconsts, body_nconsts):
    # A while over (primal, tangent) carries; the predicate sees the primals only.
    cc, bc, init = _split(primals, cond_nconsts, body_nconsts)
    _, bc_t, init_t = _split(tangents, cond_nconsts, body_nconsts)
    bc_t = [zeros_like(c) if t is None else t for c, t in zip(bc, bc_t)]
    init_t = [zeros_like(c) if t is None else t for c, t in zip(init, init_t)]
    n = len(init)

    def cond_fun(carry):
        return _fun(cond_program)(*cc, *carry[:n])[0]

    def body_fun(carry):
        body = lambda b, c: _fun(body_program)(*b, *c)  # noqa: E731
        outs, outs_t = jvp(body, (bc, carry[:n]), (bc_t, carry[n:]))
        return list(outs) + list(outs_t)

    out = while_loop(cond_fun, body_fun, init + init_t)
    return out[:n], [t if _inexact(o) else None for o, t in zip(out[:n], out[n:])]


def _while_vjp(g, ans, *args, **params):
    raise TypeError(
        "lax.while_loop: reverse-mode differentiation (grad/vjp) of while_loop is not supported, "
        "since its number of iterations is only known at run time. Use lax.scan, or "
        "lax.fori_loop with static (Python int) bounds, which is a scan; forward mode (jvp, "
        "jacfwd) does work through while_loop."
    )


def _while_batch(args, dims, *, cond_program, body_program, cond_nconsts, body_nconsts):
    size = batch_size(args, dims)
    cc, bc, init = _split(args, cond_nconsts, body_nconsts)
    cc_dims, bc_dims, init_dims = _split(dims, cond_nconsts, body_nconsts)
    n = len(init)
    carry_b = [d is not None for d in init_dims]  # the batched carries: a fixed point
    while True:
        marked = [d is not None for d in bc_dims] + carry_b
        new = [a or b for a, b in zip(carry_b, _batched_outputs(body_program, marked))]
        if new == carry_b:
            break
        carry_b = new
    pred_b = _batched_outputs(cond_program, [d is not None for d in cc_dims] + carry_b)[0]
    if pred_b:  # members stop at different steps: every carry becomes batched
        carry_b = [True] * n
    carry = [
        move_batch_axis(c, d, size, 0) if b else c for c, d, b in zip(init, init_dims, carry_b)
    ]
    carry_axes = [0 if b else None for b in carry_b]
    batched_body = vmap(
        lambda b, c: _fun(body_program)(*b, *c),
        in_axes=(bc_dims, carry_axes),
        out_axes=carry_axes,
        axis_size=size,
    )
    batched_cond = vmap(
        lambda a, c: _fun(cond_program)(*a, *c)[0],
        in_axes=(cc_dims, carry_axes),
        out_axes=0 if pred_b else None,
        axis_size=size,
    )
    if not pred_b:  # one predicate for the whole batch: one loop of the batched body
        out = while_loop(lambda c: batched_cond(cc, c), lambda c: batched_body(bc, c), carry)
        return out, carry_axes

    # A batched predicate: loop while any member continues; finished members keep their value.
    def body_fun(c):
        keep_going = batched_cond(cc, c)
        new = batched_body(bc, c)
        return [
            select(reshape(keep_going, (size,) + (1,) * (len(x.shape) - 1)), y, x)
            for y, x in zip(new, c)
        ]

    out = while_loop(lambda c: reduce_or(batched_cond(cc, c), (0,)), body_fun, carry)
    return out, carry_axes


while_p = Primitive("while", multiple_results=True)
while_p.def_impl(_while_impl)
while_p.def_abstract_eval(_while_abstract_eval)
defjvp_all(while_p, _while_jvp)
defvjp_all(while_p, _while_vjp)
batch_rules[while_p] = _while_batch


def fori_loop(lower: Any, upper: Any, body_fun: Callable[[Any, Any], Any], init_val: Any):
    """``for i in range(lower, upper): val = body_fun(i, val)`` (JAX's ``lax.fori_loop``).

    With concrete bounds (Python ints, or arrays that are not traced) it is a ``lax.scan``, so
    reverse mode works; with traced bounds it is a ``while_loop`` (forward mode and vmap only).
    ``i`` is an int32 scalar for Python-int bounds (as in JAX), else the bounds' dtype.

    Example:
      >>> lax.fori_loop(0, 5, lambda i, x: x * 2.0, 1.0)
      Array(32., dtype=float32)
    """
    lo, hi = _concrete_int(lower), _concrete_int(upper)
    if type(lower) is int and type(upper) is int:
        dtype = np.dtype(np.int32)
    else:
        dtype = np.result_type(*[getattr(b, "dtype", np.int32) for b in (lower, upper)])
    if lo is not None and hi is not None:
        idx = Array(np.arange(lo, hi, dtype=dtype))
        return scan(lambda val, i: (body_fun(i, val), None), init_val, idx)[0]
    lower = convert_element_type(_as_array(lower), dtype)
    upper = convert_element_type(_as_array(upper), dtype)

    def body(c):
        i, hi, val = c
        return i + 1, hi, body_fun(i, val)

    return while_loop(lambda c: c[0] < c[1], body, (lower, upper, init_val))[2]


def _concrete_int(x) -> int | None:
    if isinstance(x, (int, np.integer)) and not isinstance(x, bool):
        return int(x)
    if isinstance(x, (np.ndarray, Array)) and x.shape == () and x.dtype.kind in "iu":
        return int(x)
    return None
