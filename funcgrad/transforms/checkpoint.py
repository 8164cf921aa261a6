"""checkpoint (remat): keep only a function's inputs, recompute its forward pass when needed."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from funcgrad.transforms.custom import custom_vjp
from funcgrad.transforms.grad import vjp

__all__ = ["checkpoint", "remat"]


def checkpoint(
    fun: Callable[..., Any], *, prevent_cse: bool = True, static_argnums: tuple[int, ...] = ()
) -> Callable[..., Any]:
    """Wraps ``fun`` so reverse mode saves only its inputs and re-runs it in the backward pass.

    Trades compute for memory: the residuals of ``fun``'s internals are not kept on the tape
    between the forward and backward passes. Values and derivatives are unchanged.

    Args:
      fun: the function to rematerialise.
      prevent_cse: accepted for JAX compatibility (funcgrad's jit never merges remat calls).
      static_argnums: arguments that are not arrays (passed through unchanged).

    Example:
      >>> layer = fg.checkpoint(lambda w, x: fnp.tanh(x @ w))
      >>> fg.grad(lambda w: layer(w, x).sum())(w)
    """
    static_argnums = tuple(static_argnums)

    def fwd(*args):
        return remat_fun(*args), args

    def bwd(*rest):
        *static, args, g = rest
        dyn = [a for i, a in enumerate(args) if i not in static_argnums]

        def dyn_fun(*d):
            it = iter(d)
            full = [args[i] if i in static_argnums else next(it) for i in range(len(args))]
            return fun(*full)

        return vjp(dyn_fun, *dyn)[1](g)

    remat_fun = custom_vjp(fun, nondiff_argnums=static_argnums)
    remat_fun.defvjp(fwd, bwd)

    @functools.wraps(fun)
    def wrapped(*args):
        return remat_fun(*args)

    return wrapped


remat = checkpoint
