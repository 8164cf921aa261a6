"""Array backends (NumPy; CuPy when installed and asked for) and the devices they run on."""

from __future__ import annotations

import sys
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Device:
    """A place where arrays live: ``platform`` is ``"cpu"`` or ``"gpu"``."""

    platform: str
    id: int = 0

    def __repr__(self):
        return f"{self.platform}:{self.id}"


CPU = Device("cpu", 0)


class _State:
    """``gpu`` turns true once a CuPy array may exist; until then every value is NumPy's."""

    gpu = "cupy" in sys.modules


state = _State()


def gpu_loaded() -> bool:
    return state.gpu


def xp_of(value) -> object:
    """The array module (numpy or cupy) that owns ``value``."""
    cp = sys.modules.get("cupy")
    if cp is not None and isinstance(value, cp.ndarray):
        return cp
    return np


def device_of(value) -> Device:
    cp = sys.modules.get("cupy")
    if cp is not None and isinstance(value, cp.ndarray):
        return Device("gpu", value.device.id)
    return CPU


def devices(platform: str | None = None) -> list[Device]:
    """The devices of a platform (default: the CPU)."""
    if platform in (None, "cpu"):
        return [CPU]
    raise RuntimeError(
        f"fg.devices: platform {platform!r} is not available; install funcgrad[cuda] on a GPU "
        "machine for 'gpu'"
    )
