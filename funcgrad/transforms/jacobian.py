"""The Jacobian family: jacfwd, jacrev (= jacobian) and hessian, built from vmap over jvp/vjp."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from funcgrad.core.array import Array
from funcgrad.core.tree import tree_flatten, tree_unflatten
from funcgrad.transforms.grad import _as_array, jvp, vjp
from funcgrad.transforms.vmap import vmap

__all__ = ["jacfwd", "jacrev", "jacobian", "hessian"]


def _dyn_args(name: str, who: str, args: tuple, argnums: int | Sequence[int]):
    """The differentiated arguments (one, or a tuple for a tuple ``argnums``) and their slots."""
    single = isinstance(argnums, int)
    nums = (argnums,) if single else tuple(argnums)
    nargs = len(args)
    for n in nums:
        if not isinstance(n, int) or not -nargs <= n < nargs:
            raise TypeError(
                f"{who} of {name}: argnums={argnums!r} is out of range for {nargs} positional "
                "argument(s)"
            )
    pos = [n % nargs for n in nums]
    return (args[pos[0]] if single else tuple(args[n] for n in pos)), pos, single


def _flat_fun(f, args, kwargs, pos, single, in_tree):
    """``f`` as a function of the flat leaves of the differentiated arguments."""

    def flat_f(*leaves):
        dyn = tree_unflatten(in_tree, list(leaves))
        full = list(args)
        for n, d in zip(pos, (dyn,) if single else dyn):
            full[n] = d
        return f(*full, **kwargs)

    return flat_f


def _check_inexact(leaves, who: str, name: str, what: str) -> None:
    for x in leaves:
        if x.dtype.kind not in "fc":
            raise TypeError(
                f"{who} of {name}: {what} has dtype {x.dtype}, but {who} needs float "
                "values; convert it (e.g. x.astype('float32'))"
            )


def _std_basis(leaves) -> list:
    """For leaves of total size n, per-leaf slices of the n x n identity: leaf k's is shaped
    ``(n,) + leaf.shape`` in its own dtype, one-hot on its rows of the flattened identity."""
    sizes = [int(np.prod(x.shape, dtype=np.int64)) for x in leaves]
    total = sum(sizes)
    out, start = [], 0
    for x, size in zip(leaves, sizes):
        block = np.zeros((total, size), dtype=x.dtype)
        block[start : start + size] = np.eye(size, dtype=x.dtype)
        out.append(Array(block.reshape((total,) + tuple(x.shape))))
        start += size
    return out


def _split_rows(jac, leaves, axis: int) -> list:
    """Splits axis ``axis`` (size sum of the leaves' sizes) of ``jac`` into one block per leaf,
    each reshaped so that the leaf's shape replaces that axis."""
    from funcgrad.lax.shape import reshape, slice_in_dim

    blocks, start = [], 0
    nd = len(jac.shape)
    axis %= nd
    for x in leaves:
        size = int(np.prod(x.shape, dtype=np.int64))
        b = slice_in_dim(jac, start, start + size, axis=axis)
        shape = tuple(b.shape)
        blocks.append(reshape(b, shape[:axis] + tuple(x.shape) + shape[axis + 1 :]))
        start += size
    return blocks


def jacfwd(
    f: Callable[..., Any], argnums: int | Sequence[int] = 0, has_aux: bool = False
) -> Callable[..., Any]:
    """The Jacobian of ``f`` by forward mode: one batched jvp over the input basis.

    Best when the inputs are smaller than the outputs. The result has JAX's layout: for each
    output leaf, the structure of the differentiated argument(s), each leaf an array shaped
    ``out.shape + in.shape`` (a tuple over arguments when ``argnums`` is a tuple).

    Args:
      f: a function of pytrees of arrays returning a pytree of arrays.
      argnums: an int or a tuple of ints: the argument(s) to differentiate.
      has_aux: ``f`` returns ``(out, aux)``; the Jacobian comes back as ``(jac, aux)``.

    Example:
      >>> fg.jacfwd(lambda x: x ** 2)(fnp.array([1.0, 2.0]))
      Array([[2., 0.],
             [0., 4.]], dtype=float32)
    """
    name = getattr(f, "__name__", "f")

    def jacfwd_f(*args, **kwargs):
        dyn, pos, single = _dyn_args(name, "jacfwd", args, argnums)
        in_flat, in_tree = tree_flatten(dyn)
        leaves = [_as_array(x) for x in in_flat]
        _check_inexact(leaves, "jacfwd", name, "a differentiated argument")
        flat_f = _flat_fun(f, args, kwargs, pos, single, in_tree)

        def push(*tangents):
            return jvp(flat_f, leaves, list(tangents), has_aux=has_aux)

        out_axes = (None, -1, None) if has_aux else (None, -1)
        res = vmap(push, out_axes=out_axes, axis_size=_total(leaves))(*_std_basis(leaves))
        out, jac = res[0], res[1]
        out_flat, out_tree = tree_flatten(out)
        jac_flat = tree_flatten(jac)[0]
        rows = []
        for j in jac_flat:
            blocks = _split_rows(j, leaves, -1)
            rows.append(tree_unflatten(in_tree, blocks))
        result = tree_unflatten(out_tree, rows)
        return (result, res[2]) if has_aux else result

    jacfwd_f.__name__ = f"jacfwd({name})"
    return jacfwd_f


def jacrev(
    f: Callable[..., Any], argnums: int | Sequence[int] = 0, has_aux: bool = False
) -> Callable[..., Any]:
    """The Jacobian of ``f`` by reverse mode: one batched vjp over the output basis.

    Best when the outputs are smaller than the inputs. Same arguments and output layout as
    ``jacfwd``.

    Example:
      >>> fg.jacrev(lambda x: fnp.sum(x ** 2))(fnp.array([1.0, 2.0]))
      Array([2., 4.], dtype=float32)
    """
    name = getattr(f, "__name__", "f")

    def jacrev_f(*args, **kwargs):
        dyn, pos, single = _dyn_args(name, "jacrev", args, argnums)
        in_flat, in_tree = tree_flatten(dyn)
        leaves = [_as_array(x) for x in in_flat]
        _check_inexact(leaves, "jacrev", name, "a differentiated argument")
        flat_f = _flat_fun(f, args, kwargs, pos, single, in_tree)
        if has_aux:
            out, pullback, aux = vjp(flat_f, *leaves, has_aux=True)
        else:
            out, pullback = vjp(flat_f, *leaves)
        out_flat, out_tree = tree_flatten(out)
        _check_inexact(out_flat, "jacrev", name, "an output")
        basis = tree_unflatten(out_tree, _std_basis(out_flat))
        cts = vmap(pullback, axis_size=_total(out_flat))(basis)  # one row per output element
        # cts[k] has shape (n_out,) + leaves[k].shape; split its rows by output leaf.
        per_in = [_split_rows(ct, out_flat, 0) for ct in cts]
        rows = [
            tree_unflatten(in_tree, [per_in[k][i] for k in range(len(leaves))])
            for i in range(len(out_flat))
        ]
        result = tree_unflatten(out_tree, rows)
        return (result, aux) if has_aux else result

    jacrev_f.__name__ = f"jacrev({name})"
    return jacrev_f


jacobian = jacrev


def hessian(
    f: Callable[..., Any], argnums: int | Sequence[int] = 0, has_aux: bool = False
) -> Callable[..., Any]:
    """The Hessian of a scalar function: ``jacfwd(jacrev(f))`` (forward over reverse).

    The result is shaped ``in.shape + in.shape`` per pair of differentiated leaves (nested
    as the argument's structure twice, as in JAX).

    Example:
      >>> fg.hessian(lambda x: fnp.sum(x ** 3))(fnp.array([1.0, 2.0]))
      Array([[ 6.,  0.],
             [ 0., 12.]], dtype=float32)
    """
    return jacfwd(jacrev(f, argnums, has_aux), argnums, has_aux)


def _total(leaves) -> int:
    return sum(int(np.prod(x.shape, dtype=np.int64)) for x in leaves)
