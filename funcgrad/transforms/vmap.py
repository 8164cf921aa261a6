"""vmap: the batch rule table, BatchTrace, and ``fg.vmap`` with JAX's in_axes/out_axes."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from funcgrad.core.array import Array
from funcgrad.core.primitive import Primitive
from funcgrad.core.trace import Trace, Tracer, _state, new_trace
from funcgrad.core.tree import leaf_paths, tree_flatten, tree_structure, tree_unflatten

__all__ = ["vmap", "batch_rules", "collective_rules", "axis_names_in_scope"]

# batch_rules[prim](args, dims, **params) -> (out, out_dim): ``args`` are the primitive's
# operands with their batch axes (``dims[i]`` an int, or None for an unbatched operand); the
# rule returns the batched result and where its batch axis is (None: the same for every member).
# multiple_results primitives return (outs, out_dims). Every rule makes one batched call, never
# a Python loop over the batch.
batch_rules: dict[Primitive, Callable[..., Any]] = {}

# collective_rules[prim](trace, x, dim, **params) -> (out, out_dim): named-axis collectives
# (psum, all_gather, ...) applied over the mapped axis of ``trace`` when the axis names match.
collective_rules: dict[Primitive, Callable[..., Any]] = {}


def moveaxis(x, src: int, dst: int):
    """``x`` with axis ``src`` moved to position ``dst`` (a transpose; none if equal)."""
    from funcgrad.lax.shape import transpose

    if src == dst:
        return x
    perm = [i for i in range(len(x.shape)) if i != src]
    perm.insert(dst, src)
    return transpose(x, perm)


def move_batch_axis(x, dim: int | None, size: int, to: int = 0):
    """``x`` with its batch axis at ``to``; an unbatched ``x`` is broadcast to ``size`` there."""
    from funcgrad.lax.shape import broadcast_to, expand_dims

    if dim is None:
        x = expand_dims(x, (0,)) if hasattr(x, "shape") else np.asarray(x)[None]
        x = broadcast_to(x, (size,) + tuple(x.shape[1:]))
        return moveaxis(x, 0, to)
    return moveaxis(x, dim, to)


def batch_size(args, dims) -> int:
    for a, d in zip(args, dims):
        if d is not None:
            return a.shape[d]
    raise AssertionError("batch rule called without a batched operand")


def broadcasting_batch_rule(prim: Primitive) -> Callable[..., Any]:
    """The rule of a primitive that broadcasts its operands like NumPy (elementwise ops).

    Batch axes move to the front and batched operands get size-1 axes so that every operand
    right-aligns under the batch axis; one call of the primitive does the whole batch.
    """

    def rule(args, dims, **params):
        from funcgrad.lax.shape import reshape

        if len(args) == 1:  # unary: the batch axis stays where it is
            return prim.bind(args[0], **params), dims[0]
        rank = 0  # the largest logical rank among the operands
        for a, d in zip(args, dims):
            r = len(a.shape) - (d is not None) if hasattr(a, "shape") else 0
            if r > rank:
                rank = r
        new = list(args)
        for i, d in enumerate(dims):
            if d is not None:
                a = new[i] if d == 0 else moveaxis(new[i], d, 0)
                k = len(a.shape) - 1
                if k < rank:
                    a = reshape(a, (a.shape[0],) + (1,) * (rank - k) + tuple(a.shape[1:]))
                new[i] = a
        return prim.bind(*new, **params), 0

    return rule


def defbroadcasting(*prims: Primitive) -> None:
    for prim in prims:
        batch_rules[prim] = broadcasting_batch_rule(prim)


def shift_axes(axes, dim: int) -> tuple:
    """Logical axes of an operand, as axes of its batched value with the batch axis at ``dim``."""
    return tuple(a + (a >= dim) for a in axes)


class BatchTracer(Tracer):
    __slots__ = ("val", "batch_dim")

    def __init__(self, trace: BatchTrace, val: Any, batch_dim: int):
        self._trace = trace
        self.val = val
        self.batch_dim = batch_dim

    @property
    def shape(self):
        s = self.val.shape
        d = self.batch_dim
        return tuple(s[:d]) + tuple(s[d + 1 :])

    @property
    def dtype(self):
        return self.val.dtype

    def concrete_value(self):
        raise TypeError(
            f"vmap: a batched value (shape {self.shape}, dtype {self.dtype}) was converted to a "
            "Python value (bool(), int(), float(), `if`, or NumPy), but it differs across the "
            "batch. Use fnp.where(cond, x, y) or lax.cond / lax.select for data-dependent "
            "choices, or compute the value outside vmap."
        )


class BatchTrace(Trace):
    __slots__ = ("axis_name", "axis_size")

    def __init__(self, level, axis_name, axis_size):
        super().__init__(level)
        self.axis_name = axis_name
        self.axis_size = axis_size

    def pure(self, value):
        return value

    def lift(self, tracer):
        return tracer

    def process_primitive(self, prim, args, params):
        vals, dims = [], []
        batched = False
        for a in args:
            if type(a) is BatchTracer and a._trace is self:
                vals.append(a.val)
                dims.append(a.batch_dim)
                batched = True
            else:
                vals.append(a)
                dims.append(None)
        collective = collective_rules.get(prim)
        if collective is not None and params.get("axis_name") == self.axis_name:
            x, d = (vals[0], dims[0]) if vals else (None, None)  # axis_index has no operand
            out, out_dim = collective(self, x, d, **params)
        elif not batched:
            return prim.bind(*vals, **params)
        elif collective is not None and prim not in batch_rules:
            # Another axis: every member's collective, as one call on the batched value.
            out, out_dim = prim.bind(*vals, **params), dims[0]
        else:
            rule = batch_rules.get(prim)
            if rule is None:
                raise NotImplementedError(f"vmap: primitive '{prim.name}' has no batch rule")
            out, out_dim = rule(vals, dims, **params)
        if prim.multiple_results:
            return [o if d is None else BatchTracer(self, o, d) for o, d in zip(out, out_dim)]
        return out if out_dim is None else BatchTracer(self, out, out_dim)

    def _unbox(self, args):
        vals, axes = [], []
        for a in args:
            if type(a) is BatchTracer and a._trace is self:
                vals.append(moveaxis(a.val, a.batch_dim, 0))
                axes.append(0)
            else:
                vals.append(a)
                axes.append(None)
        return vals, axes

    def process_custom_vjp_call(self, fun, fwd, bwd, args):
        # The batched call keeps its custom rule: fun, fwd and bwd are vmapped and the call is
        # re-dispatched one level down, where an enclosing grad sees one custom_vjp call.
        from funcgrad.transforms.custom import bind_custom_vjp

        vals, axes = self._unbox(args)
        name, size = self.axis_name, self.axis_size
        fun_b = vmap(
            lambda *xs: list(fun(*xs)), in_axes=tuple(axes), axis_name=name, axis_size=size
        )
        fwd_b = vmap(
            lambda *xs: tuple(fwd(*xs)), in_axes=tuple(axes), axis_name=name, axis_size=size
        )

        def bwd_b(res, cts):
            out = vmap(lambda r, c: list(bwd(r, c)), axis_name=name, axis_size=size)(res, cts)
            # Arguments that were not batched get the sum of their per-member cotangents.
            return [c if ax is not None or c is None else c.sum(0) for c, ax in zip(out, axes)]

        outs = bind_custom_vjp(fun_b, fwd_b, bwd_b, vals)
        return [BatchTracer(self, o, 0) for o in outs]

    def process_custom_jvp_call(self, fun, rule, args):
        from funcgrad.transforms.custom import bind_custom_jvp

        vals, axes = self._unbox(args)
        name, size = self.axis_name, self.axis_size
        fun_b = vmap(
            lambda *xs: list(fun(*xs)), in_axes=tuple(axes), axis_name=name, axis_size=size
        )

        def rule_b(primals, tangents):
            return vmap(
                lambda p, t: tuple(list(r) for r in rule(p, t)),
                in_axes=(list(axes), list(axes)),
                axis_name=name,
                axis_size=size,
            )(list(primals), list(tangents))

        outs = bind_custom_jvp(fun_b, rule_b, vals)
        return [BatchTracer(self, o, 0) for o in outs]


def axis_names_in_scope() -> list:
    """The named axes of the active vmap/pmap transforms, innermost last."""
    return [t.axis_name for t in _state.stack if getattr(t, "axis_name", None) is not None]


def _axis_spec_error(what: str, detail: str) -> ValueError:
    return ValueError(f"vmap: {what}: {detail}")


def _expand_prefix(axes, tree, out: list, what: str, path: str = "") -> None:
    """Walks ``tree`` (a PyTreeDef) and ``axes`` (a prefix of it) together."""
    if axes is None or isinstance(axes, int):
        out.extend([axes] * tree.num_leaves)
        return
    if tree.kind is None:
        raise _axis_spec_error(
            what,
            f"{type(axes).__name__} given at {path or 'the root'}, where the argument is a leaf",
        )
    if tree.kind is dict:
        if not isinstance(axes, dict) or sorted(axes) != sorted(tree.aux):
            raise _axis_spec_error(
                what,
                f"at {path or 'the root'} the axes {axes!r} do not match the argument's dict keys "
                f"{list(tree.aux)}",
            )
        for k, sub in zip(tree.aux, tree.children):
            _expand_prefix(axes[k], sub, out, what, f"{path}[{k!r}]")
        return
    if not isinstance(axes, (tuple, list)) or len(axes) != len(tree.children):
        n = len(axes) if isinstance(axes, (tuple, list)) else type(axes).__name__
        raise _axis_spec_error(
            what,
            f"at {path or 'the root'} the axes have {n} entries but the argument has "
            f"{len(tree.children)}",
        )
    for i, (a, sub) in enumerate(zip(axes, tree.children)):
        _expand_prefix(a, sub, out, what, f"{path}[{i}]")


def vmap(
    fun: Callable[..., Any],
    in_axes: Any = 0,
    out_axes: Any = 0,
    axis_name: Any = None,
    axis_size: int | None = None,
) -> Callable[..., Any]:
    """Vectorizes ``fun`` over an axis of its inputs, with JAX's semantics.

    Args:
      fun: a function of pytrees of arrays.
      in_axes: for each positional argument, the axis to map over: an int (negative allowed),
        None (not mapped), or a pytree prefix of the arguments (a tuple with one entry per
        argument, dicts for dict arguments, ...). Keyword arguments are mapped over axis 0.
      out_axes: where the mapped axis goes in each output (same forms); outputs that do not
        depend on a mapped input are broadcast.
      axis_name: a name for the mapped axis, for collectives (``lax.psum(x, "i")``).
      axis_size: the size of the mapped axis; required when no argument is mapped.

    Example:
      >>> fg.vmap(fnp.dot, in_axes=(0, None))(fnp.ones((5, 3)), fnp.ones(3)).shape
      (5,)
      >>> per_example = fg.vmap(fg.grad(loss), in_axes=(None, 0, 0))(params, xs, ys)
    """
    name = getattr(fun, "__name__", "fun")
    if not (in_axes is None or isinstance(in_axes, (int, tuple, list, dict))):
        raise ValueError(f"vmap of {name}: in_axes must be an int, None, or a tuple/list/dict")

    def vmapped(*args, **kwargs):
        if isinstance(in_axes, list) and len(args) != 1:
            axes_args = tuple(in_axes)
        else:
            axes_args = in_axes
        if isinstance(axes_args, tuple) and len(axes_args) != len(args):
            raise ValueError(
                f"vmap of {name}: in_axes has {len(axes_args)} entries but the function was "
                f"called with {len(args)} positional argument(s)"
            )
        flat, tree = tree_flatten(args)
        axes = []
        if isinstance(axes_args, tuple):
            for i, (a, sub) in enumerate(zip(axes_args, tree.children)):
                _expand_prefix(a, sub, axes, "in_axes", f"argument {i}")
        else:
            _expand_prefix(axes_args, tree, axes, "in_axes")
        if kwargs:  # keyword arguments are mapped over axis 0
            kw_flat, kw_tree = tree_flatten(kwargs)
            flat = flat + kw_flat
            axes = axes + [0] * len(kw_flat)
        else:
            kw_tree = None
        # Validate and find the axis size (leaf paths are only worked out for error messages).
        sizes = {}
        norm_axes = []
        for i, (leaf, ax) in enumerate(zip(flat, axes)):
            if ax is None:
                norm_axes.append(None)
                continue
            shape = np.shape(leaf) if not hasattr(leaf, "shape") else tuple(leaf.shape)
            nd = len(shape)
            if not -nd <= ax < nd:
                path = _leaf_paths(args, kwargs)[i]
                raise ValueError(
                    f"vmap of {name}: in_axes {ax} is out of range for {path} of shape {shape} "
                    f"(rank {nd})"
                )
            ax %= nd
            norm_axes.append(ax)
            sizes[i] = shape[ax]
        if len(set(sizes.values())) > 1:
            paths = _leaf_paths(args, kwargs)
            listing = ", ".join(f"{paths[i]}: {s}" for i, s in sizes.items())
            raise ValueError(
                f"vmap of {name}: mapped arguments have different sizes along the mapped axis: "
                f"{listing}"
            )
        if sizes:
            size = next(iter(sizes.values()))
            if axis_size is not None and axis_size != size:
                raise ValueError(
                    f"vmap of {name}: axis_size={axis_size} but the mapped axes have size {size}"
                )
        elif axis_size is None:
            raise ValueError(
                f"vmap of {name}: no argument is mapped (all in_axes are None); pass axis_size"
            )
        else:
            size = axis_size
        with new_trace(BatchTrace, axis_name, size) as trace:
            tracers = [
                leaf if ax is None else BatchTracer(trace, _as_value(leaf), ax)
                for leaf, ax in zip(flat, norm_axes)
            ]
            n_pos = tree.num_leaves
            in_args = tree_unflatten(tree, tracers[:n_pos])
            in_kwargs = tree_unflatten(kw_tree, tracers[n_pos:]) if kw_tree is not None else {}
            out = fun(*in_args, **in_kwargs)
            out_flat, out_tree = tree_flatten(out)
            if out_axes is None or isinstance(out_axes, int):
                o_axes = [out_axes] * len(out_flat)
            else:
                o_axes = []
                _expand_prefix(out_axes, out_tree, o_axes, "out_axes")
            results = []
            for o, ax in zip(out_flat, o_axes):
                results.append(_out_value(o, trace, ax, size, name))
        return tree_unflatten(out_tree, results)

    vmapped.__name__ = f"vmap({name})"
    vmapped.__wrapped__ = fun
    return vmapped


def _as_value(x):
    if isinstance(x, (Array, Tracer)):
        return x
    from funcgrad.numpy import asarray

    return asarray(x)


def _out_value(o, trace, ax, size, name):
    from funcgrad.lax.shape import broadcast_to, expand_dims

    if type(o) is BatchTracer and o._trace is trace:
        val, dim = o.val, o.batch_dim
        if dim == ax:
            return val
        if ax is None:
            raise ValueError(
                f"vmap of {name}: out_axes is None for an output that depends on the mapped "
                "input; give it an axis"
            )
    else:
        if ax is None:
            return o
        val = _as_value(o)
        val = broadcast_to(expand_dims(val, (0,)), (size,) + tuple(val.shape))
        dim = 0
    nd = len(val.shape)
    if not -nd <= ax < nd:
        raise ValueError(
            f"vmap of {name}: out_axes {ax} is out of range for an output of rank {nd - 1}"
        )
    return moveaxis(val, dim, ax % nd)


def _leaf_paths(args, kwargs) -> list[str]:
    """The leaves' names for errors: ``argument 0['w']``, ``keyword 'x'``."""
    paths: list[str] = []
    for i, a in enumerate(args):
        paths += leaf_paths(tree_structure(a), f"argument {i}")
    for k in sorted(kwargs):
        paths += leaf_paths(tree_structure(kwargs[k]), f"keyword {k!r}")
    return paths
