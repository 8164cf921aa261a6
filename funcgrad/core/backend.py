"""Array backends (NumPy; CuPy when installed and asked for) and the devices they run on."""

from __future__ import annotations

import ctypes
import os
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


def _tune_allocator() -> None:
    """Keeps freed array memory in glibc's heap for reuse.

    funcgrad arrays are immutable, so every operation allocates its result. glibc serves
    allocations of 128 KiB and more with fresh mmap'ed pages, which the kernel must fault in and
    zero on first touch: hundreds of page faults per training step, which made an MLP step twice as
    slow as the same NumPy code working in place. Raising the mmap and trim thresholds makes such
    buffers come from (and return to) the heap. Linux/glibc only; set FUNCGRAD_MALLOC_TUNING=0 to
    leave the allocator alone.
    """
    if os.environ.get("FUNCGRAD_MALLOC_TUNING", "1") == "0" or not sys.platform.startswith("linux"):
        return
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:  # not glibc (e.g. musl)
        return
    m_trim_threshold, m_mmap_threshold = -1, -3
    libc.mallopt(m_mmap_threshold, 32 << 20)  # glibc's maximum on 64-bit systems
    libc.mallopt(m_trim_threshold, 256 << 20)


_tune_allocator()
