"""custom_vjp and custom_jvp: user-defined derivative rules for a Python function."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from funcgrad.core.ir import eval_program, program_eval_rules
from funcgrad.core.replay import run_program
from funcgrad.core.trace import Tracer
from funcgrad.core.tree import tree_flatten, tree_unflatten
from funcgrad.transforms.grad import _as_array, custom_jvp_call_p, custom_vjp_call_p, zeros_like

__all__ = ["custom_vjp", "custom_jvp"]


def _top_trace(flat):
    top = None
    for a in flat:
        if isinstance(a, Tracer) and (top is None or a._trace.level > top.level):
            top = a._trace
    return top


def _name(f) -> str:
    return getattr(f, "__name__", repr(f))


def _check_cotangents(fun, cts, primals, in_tree):
    """The bwd rule must return one cotangent per primal argument, of matching structure."""
    name = _name(fun)
    if not isinstance(cts, (tuple, list)):
        raise TypeError(
            f"custom_vjp {name}: bwd must return a tuple with one cotangent per primal argument, "
            f"got {type(cts).__name__}"
        )
    args_tree = in_tree
    if len(cts) != len(args_tree.children):
        raise TypeError(
            f"custom_vjp {name}: bwd returned {len(cts)} cotangent(s) but the function has "
            f"{len(args_tree.children)} primal argument(s)"
        )
    flat = []
    for i, (ct, sub) in enumerate(zip(cts, args_tree.children)):
        if ct is None:
            flat.extend([None] * sub.num_leaves)
            continue
        leaves, tree = tree_flatten(ct)
        if tree != sub:
            raise TypeError(
                f"custom_vjp {name}: bwd's cotangent for argument {i} has structure {tree}, "
                f"expected {sub} (the structure of the primal argument)"
            )
        flat.extend(leaves)
    for k, (ct, p) in enumerate(zip(flat, primals)):
        if ct is not None and tuple(getattr(ct, "shape", ())) != tuple(p.shape):
            raise ValueError(
                f"custom_vjp {name}: bwd's cotangent {k} has shape {tuple(ct.shape)}, expected "
                f"{tuple(p.shape)} (the shape of the primal input)"
            )
    return [None if ct is None else _as_array(ct) for ct in flat]


def bind_custom_vjp(fun, fwd, bwd, leaves):
    """Applies a custom_vjp function of flat leaves at the level of its highest tracer.

    ``fun(*leaves)`` and ``fwd(*leaves) -> (outs, residuals)`` return flat outputs;
    ``bwd(residuals, cts) -> cts`` maps flat cotangents. Traces that transform the call
    (vmap) re-dispatch their transformed versions of the three functions here.
    """
    top = _top_trace(leaves)
    if top is None:
        return fun(*leaves)
    return top.process_custom_vjp_call(fun, fwd, bwd, leaves)


def bind_custom_jvp(fun, rule, leaves):
    """Like ``bind_custom_vjp`` for custom_jvp: ``rule(primals, tangents) -> (outs, t_outs)``."""
    top = _top_trace(leaves)
    if top is None:
        return fun(*leaves)
    return top.process_custom_jvp_call(fun, rule, leaves)


class _FlatCall:
    """One call of a custom_vjp/custom_jvp function, seen as a function of flat array leaves.

    ``nondiff_argnums`` arguments stay static; the others are flattened to ``leaves`` (with
    structure ``in_tree``). ``fun(*leaves)`` returns flat outputs and records their structure
    in ``out_tree``, which the transforms need to rebuild the result.
    """

    def __init__(self, fun, nondiff_argnums, args):
        self.fun = fun
        self.nargs = len(args)
        self.static = {i: args[i] for i in nondiff_argnums}
        self.static_args = [args[i] for i in nondiff_argnums]
        dyn = [a for i, a in enumerate(args) if i not in self.static]
        flat, self.in_tree = tree_flatten(tuple(dyn))
        self.top = _top_trace(flat)
        self.leaves = [x if isinstance(x, Tracer) else _as_array(x) for x in flat]
        self.out_tree = None

    def full_args(self, leaves) -> list:
        """The call's arguments, with ``leaves`` in place of the non-static ones."""
        it = iter(tree_unflatten(self.in_tree, leaves))
        return [self.static[i] if i in self.static else next(it) for i in range(self.nargs)]

    def flatten_out(self, out) -> list:
        out_flat, self.out_tree = tree_flatten(out)
        return [_as_array(o) for o in out_flat]

    def __call__(self, *leaves):
        return self.flatten_out(self.fun(*self.full_args(leaves)))


class custom_vjp:
    """A function with a user-defined reverse-mode derivative (JAX's ``jax.custom_vjp``).

    Define ``fwd(*args) -> (out, residuals)`` and ``bwd(residuals, g) -> tuple`` (one cotangent
    per argument, None for zero) and attach them with ``f.defvjp(fwd, bwd)``. Forward mode
    (``jvp``) is not available for custom_vjp functions, as in JAX.

    Example:
      >>> @fg.custom_vjp
      ... def clip_gradient(x):
      ...     return x
      >>> clip_gradient.defvjp(lambda x: (x, None), lambda _, g: (fnp.clip(g, -1.0, 1.0),))
      >>> fg.grad(lambda x: 5.0 * clip_gradient(x))(2.0)
      Array(1., dtype=float32)
    """

    def __init__(self, fun: Callable[..., Any], nondiff_argnums: tuple[int, ...] = ()):
        functools.update_wrapper(self, fun)
        self.fun = fun
        self.nondiff_argnums = tuple(nondiff_argnums)
        self.fwd = None
        self.bwd = None

    def defvjp(self, fwd: Callable[..., Any], bwd: Callable[..., Any]) -> None:
        self.fwd = fwd
        self.bwd = bwd

    def __call__(self, *args: Any) -> Any:
        if self.fwd is None:
            raise AttributeError(
                f"custom_vjp {_name(self.fun)}: no rule defined; call .defvjp(fwd, bwd) first"
            )
        call = _FlatCall(self.fun, self.nondiff_argnums, args)
        if call.top is None:
            return self.fun(*args)
        fun, fwd, bwd = self.fun, self.fwd, self.bwd

        def flat_fwd(*leaves):
            res = fwd(*call.full_args(leaves))
            if not isinstance(res, (tuple, list)) or len(res) != 2:
                raise TypeError(
                    f"custom_vjp {_name(fun)}: fwd must return a pair (output, residuals)"
                )
            out, residuals = res
            return call.flatten_out(out), (residuals, leaves)

        def flat_bwd(res, gs):
            residuals, leaves = res
            cts = bwd(*call.static_args, residuals, tree_unflatten(call.out_tree, gs))
            return _check_cotangents(fun, cts, leaves, call.in_tree)

        out = bind_custom_vjp(call, flat_fwd, flat_bwd, call.leaves)
        return tree_unflatten(call.out_tree, out)


class custom_jvp:
    """A function with a user-defined forward-mode derivative (JAX's ``jax.custom_jvp``).

    Attach ``rule(primals, tangents) -> (primal_out, tangent_out)`` with ``f.defjvp(rule)``.
    Reverse mode uses the same rule: its tangent map is linear, and funcgrad transposes it by
    taking that map's vjp.

    Example:
      >>> @fg.custom_jvp
      ... def log1pexp(x):
      ...     return fnp.log1p(fnp.exp(x))
      >>> @log1pexp.defjvp
      ... def _(primals, tangents):
      ...     (x,), (t,) = primals, tangents
      ...     return log1pexp(x), t * fg.scipy.special.expit(x)
      >>> fg.grad(log1pexp)(100.0)   # 1.0, where the naive rule gives nan
    """

    def __init__(self, fun: Callable[..., Any], nondiff_argnums: tuple[int, ...] = ()):
        functools.update_wrapper(self, fun)
        self.fun = fun
        self.nondiff_argnums = tuple(nondiff_argnums)
        self.jvp = None

    def defjvp(self, rule: Callable[..., Any]) -> Callable[..., Any]:
        self.jvp = rule
        return rule

    def defjvps(self, *per_arg_rules: Callable[..., Any] | None) -> None:
        """One rule per argument, ``rule(t, ans, *args) -> tangent contribution``."""

        def rule(primals, tangents):
            ans = self.fun(*primals)
            t_out = None
            for r, t in zip(per_arg_rules, tangents):
                if r is not None and t is not None:
                    c = r(t, ans, *primals)
                    t_out = c if t_out is None else t_out + c
            return ans, t_out if t_out is not None else zeros_like(_as_array(ans))

        self.jvp = rule

    def __call__(self, *args: Any) -> Any:
        if self.jvp is None:
            raise AttributeError(
                f"custom_jvp {_name(self.fun)}: no rule defined; call .defjvp(rule) first"
            )
        call = _FlatCall(self.fun, self.nondiff_argnums, args)
        if call.top is None:
            return self.fun(*args)
        fun, user_rule = self.fun, self.jvp

        def flat_rule(primals, tangents):
            p = tree_unflatten(call.in_tree, primals)
            t = tree_unflatten(call.in_tree, tangents)
            res = user_rule(*call.static_args, p, t)
            if not isinstance(res, (tuple, list)) or len(res) != 2:
                raise TypeError(
                    f"custom_jvp {_name(fun)}: the rule must return (primal_out, tangent_out)"
                )
            out, t_out = res
            out_flat, out_tree = tree_flatten(out)
            t_flat, t_tree = tree_flatten(t_out)
            if t_tree != out_tree:
                raise TypeError(
                    f"custom_jvp {_name(fun)}: the rule's tangent output has structure {t_tree}, "
                    f"expected {out_tree} (the primal output's)"
                )
            call.out_tree = out_tree
            out_flat = [_as_array(o) for o in out_flat]
            t_flat = [_as_array(t) for t in t_flat]
            for o, tt in zip(out_flat, t_flat):
                if tuple(o.shape) != tuple(tt.shape):
                    raise ValueError(
                        f"custom_jvp {_name(fun)}: tangent output shape {tuple(tt.shape)} differs "
                        f"from the primal output shape {tuple(o.shape)}"
                    )
            return out_flat, t_flat

        out = bind_custom_jvp(call, flat_rule, call.leaves)
        return tree_unflatten(call.out_tree, out)


# --------------------------------------------------------------------------------------------
# custom_vjp/custom_jvp calls inside traced programs (jit, scan/cond/while bodies)
#
# A traced call is one equation whose ``program`` is the traced function (its closed-over
# values are the first ``num_consts`` inputs). Running the program runs the function; any
# transform of the program re-dispatches the call with its rules, so they are never lost.


def _custom_call_impl(xp, *args, program, num_consts, **rules):
    return run_program(program, *args, xp=xp)


def _custom_call_abstract_eval(*avals, program, num_consts, **rules):
    return program.out_avals


def _custom_vjp_call_eval(ins, *, program, num_consts, fwd, bwd):
    consts = ins[:num_consts]
    return bind_custom_vjp(
        lambda *leaves: eval_program(program, *consts, *leaves), fwd, bwd, ins[num_consts:]
    )


def _custom_jvp_call_eval(ins, *, program, num_consts, rule):
    consts = ins[:num_consts]
    return bind_custom_jvp(
        lambda *leaves: eval_program(program, *consts, *leaves), rule, ins[num_consts:]
    )


for _prim, _eval in (
    (custom_vjp_call_p, _custom_vjp_call_eval),
    (custom_jvp_call_p, _custom_jvp_call_eval),
):
    _prim.def_impl(_custom_call_impl)
    _prim.def_abstract_eval(_custom_call_abstract_eval)
    program_eval_rules[_prim] = _eval
