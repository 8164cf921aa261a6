"""PyTorch-style flat state dicts, parameter counts and a model summary."""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import numpy as np

import funcgrad as fg
import funcgrad.numpy as fnp
from funcgrad.nn.module import Module

__all__ = ["IncompatibleKeys", "load_state_dict", "num_params", "state_dict", "summary"]


def _flatten(tree: Any, prefix: str, out: dict) -> dict:
    if isinstance(tree, dict):
        for k, v in tree.items():
            _flatten(v, f"{prefix}{k}.", out)
    else:
        out[prefix[:-1]] = tree
    return out


def state_dict(params: dict, state: dict | None = None) -> dict:
    """Flat PyTorch-style names: ``{'conv1.weight': ..., 'bn.running_mean': ...}``.

    Parameters come first, then buffers, as nested in ``params`` and ``state``.

    Example:
      >>> sd = nn.state_dict(params, state)
      >>> torch_model.load_state_dict({k: torch.tensor(np.asarray(v)) for k, v in sd.items()})
    """
    out = _flatten(params, "", {})
    if state:
        for k, v in _flatten(state, "", {}).items():
            if k in out:
                raise ValueError(f"state_dict: {k!r} is both a parameter and a buffer")
            out[k] = v
    return out


class IncompatibleKeys(NamedTuple):
    """What ``load_state_dict(..., strict=False)`` could not load."""

    missing_keys: list[str]
    unexpected_keys: list[str]
    mismatched_keys: list[str]  # 'name: expected (shape), got (shape)'


def _unflatten_like(template: dict, prefix: str, flat: dict, report: IncompatibleKeys) -> dict:
    out = {}
    for k, v in template.items():
        name = f"{prefix}{k}"
        if isinstance(v, dict):
            out[k] = _unflatten_like(v, name + ".", flat, report)
        elif name not in flat:
            report.missing_keys.append(name)
            out[k] = v
        else:
            value = np.asarray(flat[name])
            if value.shape != tuple(v.shape):
                report.mismatched_keys.append(
                    f"{name}: expected shape {tuple(v.shape)}, got {value.shape}"
                )
                out[k] = v
            else:
                out[k] = fnp.asarray(value.astype(np.asarray(v).dtype, copy=False))
    return out


def load_state_dict(template: Any, flat: dict, strict: bool = True) -> Any:
    """A tree like ``template`` filled from the flat dict ``flat`` (``state_dict``'s names).

    Args:
      template: ``params``, or ``(params, state)`` to load both from one flat dict.
      flat: name -> array (funcgrad, NumPy, or anything ``np.asarray`` takes, e.g. CPU torch
        tensors); values are cast to the template's dtypes.
      strict: raise a ValueError listing missing, unexpected and mis-shaped entries. With
        ``strict=False``, return ``(tree, IncompatibleKeys(...))`` instead, keeping the
        template's values where nothing fits.

    Example:
      >>> params = nn.load_state_dict(model.init(key), torch_model.state_dict())
    """
    report = IncompatibleKeys([], [], [])
    pair = isinstance(template, tuple)
    trees = template if pair else (template,)
    loaded = tuple(_unflatten_like(t, "", flat, report) for t in trees)
    known = set()
    for t in trees:
        known.update(_flatten(t, "", {}))
    report.unexpected_keys.extend(k for k in flat if k not in known)
    result = loaded if pair else loaded[0]
    if not strict:
        return result, report
    if report.missing_keys or report.unexpected_keys or report.mismatched_keys:
        parts = []
        if report.missing_keys:
            parts.append(f"missing keys: {', '.join(report.missing_keys)}")
        if report.unexpected_keys:
            parts.append(f"unexpected keys: {', '.join(report.unexpected_keys)}")
        if report.mismatched_keys:
            parts.append(f"mis-shaped: {'; '.join(report.mismatched_keys)}")
        raise ValueError(
            "load_state_dict: the entries do not match the template (" + "; ".join(parts) + "); "
            "pass strict=False to load what fits and get this report back"
        )
    return result


def num_params(params: Any) -> int:
    """The number of scalars in a parameter pytree."""
    return sum(math.prod(np.shape(leaf)) for leaf in fg.tree_util.tree_leaves(params))


def summary(
    model: Module,
    example_input: Any,
    params: dict | None = None,
    state: dict | None = None,
    print_fn: Any = print,
) -> str:
    """Prints (and returns) a table of the layers, their output shapes and parameter counts.

    Runs ``model.apply`` once in evaluation mode on ``example_input`` (with ``params`` and
    ``state``, or fresh ones from ``key(0)``). Layers are named by attribute path.

    Example:
      >>> nn.summary(model, fnp.zeros((1, 3, 32, 32)))
    """
    params = model.init(fg.random.key(0)) if params is None else params
    state = model.init_state() if state is None else state
    record: list = []
    model._apply(params, (example_input,), {}, state, None, False, record)

    def count(path):
        node = params
        for name in path:
            node = node.get(name, {}) if isinstance(node, dict) else {}
        own = {k: v for k, v in node.items() if not isinstance(v, dict)} if path else node
        return num_params(own) if path else num_params(params)

    def shape(out):
        leaves = fg.tree_util.tree_leaves(out)
        shapes = [tuple(np.shape(x)) for x in leaves]
        return str(shapes[0]) if len(shapes) == 1 else str(shapes)

    rows = [("layer", "type", "output shape", "params")]
    for path, module, out in record:
        if not path:
            continue
        rows.append((".".join(path), type(module).__name__, shape(out), f"{count(path):,}"))
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    line = "-" * (sum(widths) + 6)
    fmt = "{{:<{}}}  {{:<{}}}  {{:<{}}}  {{:>{}}}".format(*widths)
    lines = [fmt.format(*rows[0]), line] + [fmt.format(*r) for r in rows[1:]] + [line]
    top_out = record[0][2] if record else None
    lines.append(f"output: {shape(top_out)}    total params: {num_params(params):,}")
    text = "\n".join(lines)
    if print_fn is not None:
        print_fn(text)
    return text
