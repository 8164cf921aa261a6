"""Settings: process-wide defaults with per-thread overrides, usable as context managers."""

from __future__ import annotations

import contextlib
import os
import threading
from typing import Any

import numpy as np

_DEFAULTS: dict[str, Any] = {
    "debug_nans": False,
    "default_float_dtype": np.dtype(np.float32),
    # Virtual CPU devices (fg.devices("cpu")), for pmap; FUNCGRAD_NUM_CPU_DEVICES sets it at import.
    "num_cpu_devices": 1,
}


def _check(name: str, value: Any) -> Any:
    if name not in _DEFAULTS:
        raise AttributeError(
            f"fg.config: unknown setting {name!r}; the settings are {sorted(_DEFAULTS)}"
        )
    if name == "default_float_dtype":
        value = np.dtype(value)
        if value.kind != "f":
            raise ValueError(f"fg.config: default_float_dtype must be a float dtype, got {value}")
    if name == "debug_nans":
        value = bool(value)
    if name == "num_cpu_devices":
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise ValueError(
                f"fg.config: num_cpu_devices must be a positive int, got {value!r} "
                "(it is also read from FUNCGRAD_NUM_CPU_DEVICES at import)"
            )
        value = int(value)
    return value


def _from_environment() -> None:
    n = os.environ.get("FUNCGRAD_NUM_CPU_DEVICES")
    if n:
        try:
            value = int(n)
        except ValueError:
            value = n
        try:
            _DEFAULTS["num_cpu_devices"] = _check("num_cpu_devices", value)
        except ValueError:
            raise ValueError(
                f"FUNCGRAD_NUM_CPU_DEVICES={n!r}: expected a positive integer (the number of "
                "virtual CPU devices)"
            ) from None


_from_environment()


class Config:
    """funcgrad's settings.

    Read a setting as an attribute; set its process-wide default with ``fg.config.update`` (or by
    assignment); override it for one thread and one block with ``with fg.config(name=value):``.

    Example:
      >>> with fg.config(debug_nans=True):
      ...     fg.numpy.log(-1.0)   # raises FloatingPointError naming the primitive "log"
    """

    def __init__(self):
        object.__setattr__(self, "_values", dict(_DEFAULTS))
        object.__setattr__(self, "_local", threading.local())
        # Fast flag read by the eval hot path: true when any thread may want NaN checks.
        object.__setattr__(self, "_any_debug_nans", False)

    def _overrides(self) -> list[dict[str, Any]]:
        stack = getattr(self._local, "stack", None)
        if stack is None:
            stack = self._local.stack = []
        return stack

    def __getattr__(self, name: str) -> Any:
        if name not in _DEFAULTS:
            raise AttributeError(f"fg.config has no setting {name!r}; see {sorted(_DEFAULTS)}")
        for layer in reversed(self._overrides()):
            if name in layer:
                return layer[name]
        return self._values[name]

    def __setattr__(self, name: str, value: Any) -> None:
        self.update(name, value)

    def update(self, name: str, value: Any) -> None:
        """Sets the process-wide default of a setting."""
        self._values[name] = _check(name, value)
        self._refresh()

    def _refresh(self):
        object.__setattr__(self, "_any_debug_nans", True if self._values["debug_nans"] else False)
        if not self._values["debug_nans"]:
            # Overrides in any thread keep the flag on while they are active.
            object.__setattr__(self, "_any_debug_nans", _active_nan_overrides[0] > 0)

    @contextlib.contextmanager
    def __call__(self, **settings: Any):
        layer = {k: _check(k, v) for k, v in settings.items()}
        nan_on = bool(layer.get("debug_nans"))
        self._overrides().append(layer)
        if nan_on:
            _active_nan_overrides[0] += 1
            self._refresh()
        try:
            yield self
        finally:
            self._overrides().pop()
            if nan_on:
                _active_nan_overrides[0] -= 1
                self._refresh()

    def __repr__(self):
        return "Config(" + ", ".join(f"{k}={getattr(self, k)!r}" for k in _DEFAULTS) + ")"


_active_nan_overrides = [0]
config = Config()
