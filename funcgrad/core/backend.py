"""Array backends (NumPy; CuPy when installed and asked for) and the devices they run on."""

from __future__ import annotations

import ctypes
import importlib.util
import os
import sys
from dataclasses import dataclass
from typing import Any

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
    """``gpu`` turns true once a CuPy array may exist; until then every value is NumPy's (the
    eager fast path checks only this flag). ``gpu_count`` caches the GPU probe (None: not
    probed yet; -1: no CuPy), ``default`` the default platform for the ``env`` it was read
    from."""

    gpu = "cupy" in sys.modules
    gpu_count: int | None = None
    env: str | None = None
    default: str | None = None


state = _State()


def reset() -> None:
    """Forgets the GPU probe and the default platform (for tests that install or remove a
    ``cupy`` module)."""
    state.gpu = sys.modules.get("cupy") is not None
    state.gpu_count = None
    state.env = state.default = None
    _streams.clear()


def gpu_loaded() -> bool:
    return state.gpu


def cupy_module():
    """The ``cupy`` module (imported on first use); None if it is not installed."""
    cp = sys.modules.get("cupy")
    if cp is not None:
        return cp
    if importlib.util.find_spec("cupy") is None:
        return None
    try:
        import cupy
    except Exception:  # a broken install counts as none
        return None
    return cupy


def xp_of(value) -> object:
    """The array module (numpy or cupy) that owns ``value``."""
    cp = sys.modules.get("cupy")
    if cp is not None and isinstance(value, cp.ndarray):
        return cp
    return np


def device_of(value) -> Device:
    """The device ``value`` (a NumPy/CuPy buffer) lives on or is committed to (a ``Sharded``
    value: its first shard's)."""
    if type(value) is _OnDevice:
        return value.fg_device
    if type(value) is Sharded:
        return value.devices[0]
    cp = sys.modules.get("cupy")
    if cp is not None and isinstance(value, cp.ndarray):
        return Device("gpu", value.device.id)
    return CPU


# ---------------------------------------------------------------------------------------------
# Platforms and devices

_PLATFORMS = ("cpu", "gpu")


def _gpu_count() -> int:
    """The number of GPUs CuPy sees (probed once): -1 without CuPy, 0 without a GPU."""
    if state.gpu_count is None:
        cp = cupy_module()
        if cp is None:
            n = -1
        else:
            try:
                n = int(cp.cuda.runtime.getDeviceCount())
            except Exception:  # CuPy installed but no driver/GPU
                n = 0
        state.gpu_count = n
    return state.gpu_count


def _no_gpu_error(who: str) -> RuntimeError:
    n = _gpu_count()
    why = "CuPy is not installed" if n < 0 else "CuPy finds no GPU on this machine"
    return RuntimeError(
        f"{who}: the 'gpu' platform is not available: {why}. Install funcgrad[cuda] on a machine "
        "with an NVIDIA GPU, or use the CPU (unset FUNCGRAD_PLATFORM or set it to 'cpu'; "
        "FUNCGRAD_NUM_CPU_DEVICES=N gives N virtual CPU devices)"
    )


def default_backend() -> str:
    """The default platform: ``"gpu"`` when CuPy is installed and finds a GPU, else ``"cpu"``.

    ``FUNCGRAD_PLATFORM=cpu|gpu`` forces it (``gpu`` is an error where no GPU is usable).
    Arrays made from host data (``fnp.asarray``, ``fnp.zeros``, ``fg.random.key``, data
    loaders' batches) are placed on the default platform's first device.

    Example:
      >>> fg.default_backend()   # on a machine without CuPy
      'cpu'
    """
    env = os.environ.get("FUNCGRAD_PLATFORM")
    if env == state.env and state.default is not None:
        return state.default
    platform = (env or "").strip().lower()
    if not platform:
        platform = "gpu" if _gpu_count() > 0 else "cpu"
    elif platform not in _PLATFORMS:
        raise ValueError(f"FUNCGRAD_PLATFORM={platform!r}: expected one of {', '.join(_PLATFORMS)}")
    elif platform == "gpu" and _gpu_count() <= 0:
        raise _no_gpu_error("FUNCGRAD_PLATFORM=gpu")
    if platform == "gpu":
        state.gpu = True
    state.env, state.default = env, platform
    return platform


def devices(platform: str | None = None) -> list[Device]:
    """The devices of ``platform`` (default: ``fg.default_backend()``), in id order.

    The CPU has ``fg.config.num_cpu_devices`` virtual devices (``FUNCGRAD_NUM_CPU_DEVICES=N`` at
    import, or ``fg.config.update("num_cpu_devices", N)``); they share the host's memory and
    give ``pmap`` one shard thread each. The GPUs are those CuPy sees.

    Example:
      >>> with fg.config(num_cpu_devices=2):
      ...     fg.devices("cpu")
      [cpu:0, cpu:1]
    """
    if platform is None:
        platform = default_backend()
    if platform == "cpu":
        from funcgrad.core.config import config

        return [Device("cpu", i) for i in range(config.num_cpu_devices)]
    if platform == "gpu":
        n = _gpu_count()
        if n <= 0:
            raise _no_gpu_error(f"fg.devices({platform!r})")
        return [Device("gpu", i) for i in range(n)]
    raise ValueError(
        f"fg.devices: unknown platform {platform!r}; the platforms are {', '.join(_PLATFORMS)}"
    )


def local_devices(platform: str | None = None) -> list[Device]:
    """The devices of this process (all of ``fg.devices``: multi-process runs come later)."""
    return devices(platform)


def device_count(platform: str | None = None) -> int:
    """The number of devices of ``platform`` (default: the default platform).

    Example:
      >>> fg.device_count("cpu")
      1
    """
    return len(devices(platform))


# ---------------------------------------------------------------------------------------------
# GPU buffers (CuPy)

# CuPy arrays always count as committed to their GPU: an operation runs on its operands' GPU,
# inside that device's context, and uncommitted host operands (plain NumPy buffers) are copied
# there first, as uncommitted data follows committed data in JAX.

_streams: dict[int, object] = {}


def to_gpu(value: Any, device_id: int) -> Any:
    """``value`` (a NumPy/CuPy buffer or scalar) as a CuPy array on GPU ``device_id``."""
    cp = cupy_module()
    state.gpu = True
    if isinstance(value, cp.ndarray):
        if value.device.id == device_id:
            return value
        with cp.cuda.Device(device_id):
            return value.copy()  # CuPy copies across devices into the current one
    with cp.cuda.Device(device_id):
        return cp.asarray(np.asarray(value).view(np.ndarray))


def on_default_device(value: Any) -> Any:
    """A host value just made from user data, placed on the default device (the first GPU when
    that is the default platform; else it stays as it is, an uncommitted host buffer)."""
    if default_backend() == "cpu":
        return value
    return to_gpu(value, 0)


def like_device(value: Any, like: Any) -> Any:
    """``value`` (a host buffer or scalar) on the device of ``like``: a GPU, a committed CPU
    device, or (for an uncommitted host ``like``) unchanged. Used for values the framework makes
    for a computation, such as the cotangent seed of ``grad``, so they do not follow the default
    device away from the computation's."""
    if type(like) is _OnDevice:
        return commit(value, like.fg_device)
    cp = sys.modules.get("cupy")
    if cp is not None and isinstance(like, cp.ndarray):
        return to_gpu(value, like.device.id)
    return value


def gpu_context(device_id: int) -> Any:
    """``cupy.cuda.Device(device_id)``: operations inside run on that GPU."""
    return sys.modules["cupy"].cuda.Device(device_id)


def shard_stream(device_id: int) -> Any:
    """The CuPy stream pmap's shards run on, one per GPU (made on first use)."""
    stream = _streams.get(device_id)
    if stream is None:
        cp = sys.modules["cupy"]
        with cp.cuda.Device(device_id):
            stream = _streams[device_id] = cp.cuda.Stream(non_blocking=True)
    return stream


# ---------------------------------------------------------------------------------------------
# Sharded values: pmap's outputs on GPUs

# A pmap over GPUs leaves each mapped output as one CuPy buffer per device (JAX's sharded
# arrays): an Array whose ``_value`` is a ``Sharded``. A pmap over the same devices that maps
# the same axis takes the shards as they are; anything else reads the value through ``gather``
# (stacked on the first shard's GPU, once) or ``Sharded.host`` (stacked on the host, once).


class Sharded:
    """A value split over GPUs along ``axis``: ``shards[k]`` (a CuPy array on GPU
    ``devices[k].id``) is the value's index ``k`` along ``axis``, so ``shape`` is the shards'
    shape with ``len(shards)`` inserted at ``axis``.

    Example:
      >>> s = Sharded([a0, a1], axis=0)   # a0 on GPU 0, a1 on GPU 1, each of shape (3,)
      >>> s.shape, s.devices
      ((2, 3), (gpu:0, gpu:1))
    """

    __slots__ = ("shards", "axis", "shape", "dtype", "devices", "_gathered", "_host")

    def __init__(self, shards: list, axis: int):
        first = shards[0]
        self.shards = tuple(shards)
        self.axis = axis
        inner = tuple(first.shape)
        self.shape = inner[:axis] + (len(shards),) + inner[axis:]
        self.dtype = first.dtype
        self.devices = tuple(Device("gpu", s.device.id) for s in shards)
        self._gathered = None  # the value stacked on the first GPU, made on first use
        self._host = None  # the value stacked on the host, made on first use

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def size(self) -> int:
        n = 1
        for d in self.shape:
            n *= d
        return n

    def gather(self) -> Any:
        """The whole value as one CuPy array on the first shard's GPU (made once, then
        reused: the shards are immutable)."""
        g = self._gathered
        if g is None:
            g = self._gathered = self.stack_on(self.devices[0].id)
        return g

    def stack_on(self, device_id: int) -> Any:
        """The whole value as one CuPy array on GPU ``device_id`` (a new buffer)."""
        cp = sys.modules["cupy"]
        with cp.cuda.Device(device_id):
            parts = [to_gpu(s, device_id) for s in self.shards]
            return cp.stack(parts, axis=self.axis)

    def host(self) -> np.ndarray:
        """The whole value as a NumPy array on the host (made once; read-only)."""
        h = self._host
        if h is None:
            if self._gathered is not None:
                h = self._gathered.get()
            else:
                h = np.stack([s.get() for s in self.shards], axis=self.axis)
            h.flags.writeable = False
            self._host = h
        return h

    def synchronize(self) -> None:
        """Waits for every shard's device."""
        for s in self.shards:
            s.device.synchronize()

    def __array__(self, dtype=None, copy=None):
        # Reading a Sharded as an array is a funcgrad bug: it must go through gather or host.
        raise TypeError(
            f"internal: a sharded value {self!r} was read as an array without gathering it; "
            "use backend.gather(value) (on the first GPU) or value.host()"
        )

    __array_ufunc__ = None  # NumPy's ufuncs raise TypeError instead of making object arrays

    def __repr__(self) -> str:
        return (
            f"Sharded({self.dtype}{list(self.shape)}, axis={self.axis}, "
            f"devices={list(self.devices)})"
        )


def gather(value: Any) -> Any:
    """``value`` (a buffer, scalar or ``Sharded``) as one buffer: a ``Sharded`` stacked on its
    first GPU (made once, then reused); anything else as it is. Every reader of an Array's
    ``_value`` that is not pmap goes through this (or ``Sharded.host``).

    Example:
      >>> gather(sharded).device.id   # shards on GPUs 0 and 1: stacked on GPU 0
      0
    """
    return value.gather() if type(value) is Sharded else value


def _mixed_error(who: str, a: Device, b: Device) -> ValueError:
    return ValueError(
        f"{who}: operands are committed to different devices, {a} and {b}; an operation runs "
        "on one device: move the operands to the same device first with "
        "fg.device_put(x, device)"
    )


def place(who: str, values: list) -> tuple[Any, list, int | str | None]:
    """For an operation ``who`` on ``values`` (buffers and scalars): ``(xp, values, gpu)``, where
    ``gpu`` is the id of the GPU that holds CuPy operands (None: run on the host; ``"commit"``:
    on the host, with results committed to the CPU device of the committed operands) and
    ``values`` have their host buffers copied there (and sharded values, pmap's outputs, are
    gathered onto their first GPU first: ``gather``). Host operands alone run on the default
    device (the first GPU where that is the default, unless one is committed to a CPU device).
    Operands on two GPUs, or on a GPU and a committed CPU device, are an error naming both."""
    cp = sys.modules.get("cupy")
    if cp is None:
        return np, values, None
    gpu = None
    copied = False
    for i, v in enumerate(values):
        if type(v) is Sharded:  # pmap's output: stacked on its first GPU (once)
            if not copied:
                values, copied = list(values), True  # the caller's list stays as it was
            v = values[i] = v.gather()
        if isinstance(v, cp.ndarray):
            d = v.device.id
            if gpu is None:
                gpu = d
            elif d != gpu:
                raise _mixed_error(who, Device("gpu", gpu), Device("gpu", d))
    if gpu is None:
        if any(type(v) is _OnDevice for v in values):
            return np, values, "commit"  # the results stay on that CPU device
        if any(isinstance(v, np.ndarray) for v in values) and default_backend() == "gpu":
            gpu = 0
        else:
            return np, values, None
    moved = []
    for v in values:
        # NumPy scalars too: an impl's method call on one (reshape, astype) gives a NumPy array.
        if isinstance(v, (np.ndarray, np.generic)):
            if type(v) is _OnDevice:
                raise _mixed_error(who, Device("gpu", gpu), v.fg_device)
            with cp.cuda.Device(gpu):
                v = cp.asarray(v)
        moved.append(v)
    return cp, moved, gpu


# ---------------------------------------------------------------------------------------------
# Committed buffers

# Virtual CPU devices share the host's memory: an array put on one by ``device_put`` keeps its
# NumPy buffer, viewed as ``_OnDevice``, which records the device. Plain NumPy buffers (every
# array not put anywhere) are uncommitted and pay nothing; operations on committed buffers check
# that their operands agree and commit their results to the same device.


class _OnDevice(np.ndarray):
    """A NumPy buffer committed to one virtual CPU device (made by ``fg.device_put``)."""

    fg_device = CPU

    def __array_finalize__(self, obj):
        if obj is not None:
            self.fg_device = getattr(obj, "fg_device", CPU)

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        out = kwargs.get("out")
        device = committed_device(ufunc.__name__, inputs + (out or ()))
        inputs = tuple(_plain(x) for x in inputs)
        if out:
            kwargs["out"] = tuple(_plain(o) for o in out)
        result = getattr(ufunc, method)(*inputs, **kwargs)
        if out:
            return out[0] if len(out) == 1 else out
        return _commit(result, device)

    def __array_function__(self, func, types, args, kwargs):
        flat = [a for x in list(args) + list(kwargs.values()) for a in _items(x)]
        device = committed_device(func.__name__, flat)
        args = tuple(_unwrap(a) for a in args)
        kwargs = {k: _unwrap(v) for k, v in kwargs.items()}
        return _commit(func(*args, **kwargs), device)


def _plain(x):
    return x.view(np.ndarray) if isinstance(x, _OnDevice) else x


def _items(x):
    return x if isinstance(x, (list, tuple)) else (x,)


def _unwrap(x):
    if isinstance(x, (list, tuple)):
        return type(x)(_plain(v) for v in x)
    return _plain(x)


def _commit(result, device: Device):
    if type(result) is np.ndarray:
        result = result.view(_OnDevice)
        result.fg_device = device
        return result
    if isinstance(result, tuple):
        return tuple(_commit(r, device) for r in result)
    if isinstance(result, list):
        return [_commit(r, device) for r in result]
    return result


def recommit(who: str, values: list, out: Any, multiple: bool) -> Any:
    """``out`` (an impl's result on ``values``) committed to their CPU device: an impl may build
    its result with plain NumPy (``as_strided``, ``np.ndarray(...)``) and lose the commitment."""
    device = committed_device(who, values)
    if multiple:
        return [_recommit_one(o, device) for o in out]
    return _recommit_one(out, device)


def _recommit_one(out: Any, device: Device) -> Any:
    # NumPy scalars (0-d results) too, as 0-d buffers: a scalar cannot record a device, and an
    # uncommitted value would run on the default device (a GPU) in the next operation.
    if type(out) is np.ndarray or isinstance(out, np.generic):
        return commit(out, device)
    return out


def commit(value, device: Device):
    """``value`` (a NumPy buffer) committed to the CPU ``device`` (a view, no copy)."""
    return _commit(np.asarray(value).view(np.ndarray), device)


def committed_device(who: str, values) -> Device | None:
    """The device the committed buffers among ``values`` are on (None if there are none); an
    error naming both devices if they are on different ones. CuPy arrays count as committed to
    their GPU."""
    device = None
    cp = sys.modules.get("cupy") if state.gpu else None
    for v in values:
        if type(v) is _OnDevice:
            d = v.fg_device
        elif cp is not None and isinstance(v, cp.ndarray):
            d = Device("gpu", v.device.id)
        else:
            continue
        if device is None:
            device = d
        elif d != device:
            raise _mixed_error(who, device, d)
    return device


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
