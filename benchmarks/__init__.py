"""Benchmarks: funcgrad timed side by side with hand-written NumPy (``python -m benchmarks``).

A workload is a module listed in ``WORKLOADS`` that defines ``NAME``, ``DESCRIPTION`` and
``setup() -> {variant name: Variant or zero-argument callable}``; the ``"numpy"`` variant is the
baseline the others are compared with (a workload may name another in its ``BASELINE``). ``setup``
checks that all variants compute the same numbers, and raises ``Skip`` where it cannot run.
A workload may also define ``report() -> list[str]``: figures that are not per-call times (time to
a first result, peak memory), printed under the table.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import numpy as np

# Module names under benchmarks/, in the order they run. Add a workload here.
WORKLOADS = (
    "linreg",
    "chain",
    "mlp",
    "per_example",
    "batched_matvec",
    "pool",
    "conv",
    "cnn",
    "pmap_mlp",
    "cnn_gpu",
)
BASELINE = "numpy"


class Skip(Exception):
    """Raised by a workload's ``setup`` when it cannot run here (e.g. no GPU): the runner reports
    it as skipped, with the reason, rather than failed."""


def baseline(module: ModuleType) -> str:
    """The variant a workload's ratios are taken against (``BASELINE`` unless it names one)."""
    return getattr(module, "BASELINE", BASELINE)


@dataclass(frozen=True)
class Variant:
    """One implementation of a workload.

    Args:
      fn: runs the workload once; returns its result (blocked on before the clock stops).
      unit: the unit times are reported in.
      scale: multiplies seconds per call to give ``unit`` (1e3 for ms; 1e6 / 300 for µs per
        primitive over 300 primitives).
      target: the median (in ``unit``) this variant aims to stay under, if any.
      target_ratio: the ratio of its median to the baseline's it aims to stay under, if any.
    """

    fn: Callable[[], Any]
    unit: str = "ms"
    scale: float = 1e3
    target: float | None = None
    target_ratio: float | None = None


def load(name: str) -> ModuleType:
    """The workload module ``benchmarks.<name>``."""
    if name not in WORKLOADS:
        raise ValueError(f"unknown benchmark {name!r}; the benchmarks are {', '.join(WORKLOADS)}")
    return importlib.import_module(f"benchmarks.{name}")


def variants(module: ModuleType) -> dict[str, Variant]:
    """Runs a workload's setup; plain callables become ``Variant``s with default units."""
    return {k: v if isinstance(v, Variant) else Variant(v) for k, v in module.setup().items()}


def assert_close(actual: Any, expected: Any, what: str, rtol=1e-4, atol=1e-6) -> None:
    """Checks that two results (pytrees of arrays or scalars) agree; names the workload if not."""
    from funcgrad.tree_util import tree_flatten

    la, ta = tree_flatten(actual)
    le, te = tree_flatten(expected)
    if ta != te:
        raise AssertionError(f"{what}: result structures differ: {ta} vs {te}")
    for i, (a, e) in enumerate(zip(la, le)):
        np.testing.assert_allclose(
            np.asarray(a), np.asarray(e), rtol=rtol, atol=atol, err_msg=f"{what}: leaf {i}"
        )
