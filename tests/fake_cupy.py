"""A NumPy-backed stand-in for the parts of CuPy that funcgrad uses, for the "fake-gpu" tests.

It behaves like CuPy where that finds bugs: its arrays are their own type, ``np.asarray`` of one
raises CuPy's TypeError (``.get()`` is the way back), its functions reject NumPy arrays (NumPy
and Python scalars are fine), every array records the device it was made on and operations
refuse operands that are not on the current device (``cuda.Device(i)`` is a thread-local
context, as in CuPy), and results are made on the current device. NumPy functions called on its
arrays dispatch to it (``__array_ufunc__`` / ``__array_function__``), as they do to CuPy.

``installed(n_devices=2)`` puts it in ``sys.modules["cupy"]`` and restores what was there (and
funcgrad's backend state) afterwards.
"""

from __future__ import annotations

import contextlib
import operator
import sys
import threading
import types
from typing import Any

import numpy as np

_local = threading.local()
_config = {"n_devices": 2}


def _current() -> int:
    return getattr(_local, "device", 0)


class CUDARuntimeError(RuntimeError):
    pass


# ---------------------------------------------------------------------------------------------
# cupy.cuda


class Device:
    """``cupy.cuda.Device(i)``: a context manager making device ``i`` current (per thread)."""

    def __init__(self, device: int | None = None):
        self.id = _current() if device is None else int(device)
        self._saved: list[int] = []

    def __enter__(self) -> Device:
        if not 0 <= self.id < _config["n_devices"]:
            raise CUDARuntimeError("cudaErrorInvalidDevice: invalid device ordinal")
        self._saved.append(_current())
        _local.device = self.id
        return self

    def __exit__(self, *exc) -> None:
        _local.device = self._saved.pop()

    def use(self) -> None:
        _local.device = self.id

    def synchronize(self) -> None:
        pass

    def __eq__(self, other) -> bool:
        return isinstance(other, Device) and other.id == self.id

    def __hash__(self) -> int:
        return hash(self.id)

    def __repr__(self) -> str:
        return f"<CUDA Device {self.id}>"


class Stream:
    """``cupy.cuda.Stream``: a context manager making it the thread's current stream (no-op)."""

    null: Stream

    def __init__(self, null: bool = False, non_blocking: bool = False, ptds: bool = False):
        self.ptr = 0 if null else id(self)
        self.device_id = _current()
        self._saved: list[Stream] = []

    def __enter__(self) -> Stream:
        self._saved.append(get_current_stream())
        _local.stream = self
        return self

    def __exit__(self, *exc) -> None:
        _local.stream = self._saved.pop()

    def synchronize(self) -> None:
        pass

    def use(self) -> Stream:
        _local.stream = self
        return self


Stream.null = Stream(null=True)


def get_current_stream() -> Stream:
    return getattr(_local, "stream", Stream.null)


def _device_count() -> int:
    return _config["n_devices"]


runtime = types.SimpleNamespace(
    getDeviceCount=_device_count,
    getDevice=_current,
    CUDARuntimeError=CUDARuntimeError,
)
cuda = types.ModuleType("cupy.cuda")
cuda.Device = Device
cuda.Stream = Stream
cuda.get_current_stream = get_current_stream
cuda.runtime = runtime
cuda.is_available = lambda: _config["n_devices"] > 0


# ---------------------------------------------------------------------------------------------
# cupy.cuda.nccl (installed only when asked for): device pointers are looked up in ``_memory``,
# which ``ndarray.data`` fills.

_memory: dict[int, np.ndarray] = {}


class _Memory:
    def __init__(self, a: np.ndarray):
        self.ptr = id(a)
        _memory[self.ptr] = a


class _Group:
    def __init__(self, size: int):
        self.barrier = threading.Barrier(size)
        self.slots: list = [None] * size


class NcclCommunicator:
    """``cupy.cuda.nccl.NcclCommunicator`` made by ``initAll``: ranks of one process, one per
    device, meeting at a barrier (NCCL's all-gather of bytes)."""

    def __init__(self, group: _Group, rank: int, device: int):
        self._group, self._rank, self._device = group, rank, device

    @staticmethod
    def initAll(devices) -> list:  # noqa: N802 - CuPy's name
        devices = list(range(devices)) if isinstance(devices, int) else list(devices)
        group = _Group(len(devices))
        return [NcclCommunicator(group, r, d) for r, d in enumerate(devices)]

    def allGather(self, sendbuf, recvbuf, count, datatype, stream) -> None:  # noqa: N802
        if datatype != nccl.NCCL_UINT8:
            raise NotImplementedError("the fake NCCL moves bytes only")
        if _current() != self._device:
            raise RuntimeError("NCCL: the communicator's device is not the current device")
        send, recv = _memory.pop(sendbuf), _memory.pop(recvbuf)
        g = self._group
        g.slots[self._rank] = send.reshape(-1).view(np.uint8)[:count].copy()
        g.barrier.wait()
        recv.reshape(-1)[:] = np.concatenate(g.slots)
        g.barrier.wait()  # every rank has read the slots before the next all-gather writes

    def abort(self) -> None:
        self._group.barrier.abort()

    def device_id(self) -> int:
        return self._device


nccl = types.ModuleType("cupy.cuda.nccl")
nccl.NcclCommunicator = NcclCommunicator
nccl.NCCL_UINT8 = 1
nccl.available = True


# ---------------------------------------------------------------------------------------------
# Arrays


def _unsupported(x) -> TypeError:
    return TypeError(f"Unsupported type {type(x)}")


def _unwrap(x: Any, who: str) -> Any:
    """The NumPy value inside ``x``; CuPy's errors for NumPy arrays and foreign devices."""
    if type(x) is ndarray:
        if x._dev != _current():
            raise ValueError(
                f"{who}: the device where the array resides ({x._dev}) is different from the "
                f"current device ({_current()}). Peer access is unavailable between these devices."
            )
        return x._a
    if isinstance(x, np.ndarray):
        raise _unsupported(x)
    if isinstance(x, (list, tuple)):
        return type(x)(_unwrap(v, who) for v in x)
    return x


def _wrap(x: Any) -> Any:
    if isinstance(x, (np.ndarray, np.generic)) and not isinstance(x, np.dtype):
        return ndarray._make(np.asarray(x))
    if isinstance(x, tuple):
        return type(x)(*map(_wrap, x)) if hasattr(x, "_fields") else tuple(map(_wrap, x))
    if isinstance(x, list):
        return [_wrap(v) for v in x]
    return x


_BINARY = {
    "add": operator.add,
    "sub": operator.sub,
    "mul": operator.mul,
    "truediv": operator.truediv,
    "floordiv": operator.floordiv,
    "mod": operator.mod,
    "pow": operator.pow,
    "matmul": operator.matmul,
    "and": operator.and_,
    "or": operator.or_,
    "xor": operator.xor,
    "lshift": operator.lshift,
    "rshift": operator.rshift,
}
_COMPARE = {
    "eq": operator.eq,
    "ne": operator.ne,
    "lt": operator.lt,
    "le": operator.le,
    "gt": operator.gt,
    "ge": operator.ge,
}
_INPLACE_UFUNC = {
    "add": np.add,
    "sub": np.subtract,
    "mul": np.multiply,
    "truediv": np.true_divide,
    "and": np.bitwise_and,
    "or": np.bitwise_or,
    "xor": np.bitwise_xor,
    "lshift": np.left_shift,
    "rshift": np.right_shift,
}
# Methods that work on an array of another device (no kernel on the current one).
_ANY_DEVICE = frozenset({"get", "copy", "item", "tolist", "view", "reshape", "transpose"})


class ndarray:  # noqa: N801 - CuPy's name
    """A device array: a NumPy buffer and the id of the device it lives on."""

    __slots__ = ("_a", "_dev")
    __hash__ = None  # type: ignore[assignment]

    @classmethod
    def _make(cls, a: np.ndarray, dev: int | None = None) -> ndarray:
        self = object.__new__(cls)
        self._a = a
        self._dev = _current() if dev is None else dev
        return self

    # -- what CuPy refuses
    def __array__(self, dtype=None, copy=None):
        raise TypeError(
            "Implicit conversion to a NumPy array is not allowed. Please use `.get()` to "
            "construct a NumPy array explicitly."
        )

    # -- the way back
    def get(self, stream=None, order="C", out=None) -> np.ndarray:
        return np.array(self._a, order=order)

    def copy(self, order="C") -> ndarray:
        # CuPy: a copy on the current device, even from another device.
        return ndarray._make(np.array(self._a, order=order))

    # -- attributes
    shape = property(lambda self: self._a.shape)
    dtype = property(lambda self: self._a.dtype)
    ndim = property(lambda self: self._a.ndim)
    size = property(lambda self: self._a.size)
    strides = property(lambda self: self._a.strides)
    itemsize = property(lambda self: self._a.itemsize)
    nbytes = property(lambda self: self._a.nbytes)
    flags = property(lambda self: self._a.flags)
    device = property(lambda self: Device(self._dev))
    data = property(lambda self: _Memory(self._a))
    T = property(lambda self: ndarray._make(self._a.T, self._dev))
    real = property(
        lambda self: ndarray._make(self._a.real, self._dev),
        lambda self, v: setattr(_unwrap(self, "real"), "real", _unwrap(v, "real")),
    )
    imag = property(
        lambda self: ndarray._make(self._a.imag, self._dev),
        lambda self, v: setattr(_unwrap(self, "imag"), "imag", _unwrap(v, "imag")),
    )

    def __getattr__(self, name: str):
        if name.startswith("__"):  # no __array_interface__ & co: NumPy must not see the buffer
            raise AttributeError(name)
        attr = getattr(self._a, name)  # an AttributeError for what NumPy lacks too
        if not callable(attr):
            return attr

        def method(*args, **kwargs):
            if name not in _ANY_DEVICE:
                _unwrap(self, f"ndarray.{name}")
            args = _unwrap(args, name)
            kwargs = {k: _unwrap(v, name) for k, v in kwargs.items()}
            out = _wrap(attr(*args, **kwargs))
            if type(out) is ndarray and name in _ANY_DEVICE and name != "copy":
                out._dev = self._dev  # a view stays where its base is
            return out

        return method

    def __len__(self) -> int:
        return len(self._a)

    def __iter__(self):
        return (self[i] for i in range(len(self)))

    def __repr__(self) -> str:
        return repr(self._a)

    def __str__(self) -> str:
        return str(self._a)

    def __bool__(self) -> bool:
        return bool(self._a)

    def __int__(self) -> int:
        return int(self._a)

    def __float__(self) -> float:
        return float(self._a)

    def __complex__(self) -> complex:
        return complex(self._a)

    def __index__(self) -> int:
        return operator.index(self._a)

    def __getitem__(self, idx):
        basic = all(
            i is None or i is Ellipsis or isinstance(i, (int, np.integer, slice))
            for i in (idx if isinstance(idx, tuple) else (idx,))
        )
        if basic:  # a view: no kernel, any device
            return ndarray._make(np.asarray(self._a[idx]), self._dev)
        a = _unwrap(self, "__getitem__")
        return _wrap(a[_unwrap(idx, "__getitem__")])

    def __setitem__(self, idx, value):
        a = _unwrap(self, "__setitem__")
        a[_unwrap(idx, "__setitem__")] = _unwrap(value, "__setitem__")

    def __neg__(self):
        return _wrap(-_unwrap(self, "negative"))

    def __pos__(self):
        return _wrap(+_unwrap(self, "positive"))

    def __abs__(self):
        return _wrap(abs(_unwrap(self, "absolute")))

    def __invert__(self):
        return _wrap(~_unwrap(self, "invert"))

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        fn = getattr(module, ufunc.__name__, None)
        if fn is None:
            return NotImplemented
        return (
            getattr(fn, method)(*inputs, **kwargs)
            if method != "__call__"
            else fn(*inputs, **kwargs)
        )

    def __array_function__(self, func, types, args, kwargs):
        sub = func.__module__.replace("numpy", "", 1).strip(".").split(".")
        target: Any = module
        for part in sub:
            if part and part not in ("core", "_core", "lib", "fromnumeric", "multiarray"):
                target = getattr(target, part.lstrip("_"), None)
                if target is None:
                    return NotImplemented
        fn = getattr(target, func.__name__, None)
        return NotImplemented if fn is None else fn(*args, **kwargs)


def _binary_method(op):
    def forward(self, other):
        return _wrap(op(_unwrap(self, op.__name__), _unwrap(other, op.__name__)))

    def reflected(self, other):
        return _wrap(op(_unwrap(other, op.__name__), _unwrap(self, op.__name__)))

    return forward, reflected


for _name, _op in _BINARY.items():
    _f, _r = _binary_method(_op)
    setattr(ndarray, f"__{_name}__", _f)
    setattr(ndarray, f"__r{_name}__", _r)
for _name, _op in _COMPARE.items():
    setattr(ndarray, f"__{_name}__", _binary_method(_op)[0])


def _inplace(ufunc):
    def method(self, other):
        a = _unwrap(self, ufunc.__name__)
        ufunc(a, _unwrap(other, ufunc.__name__), out=a)
        return self

    return method


for _name, _uf in _INPLACE_UFUNC.items():
    setattr(ndarray, f"__i{_name}__", _inplace(_uf))


# ---------------------------------------------------------------------------------------------
# Functions: NumPy's, behind CuPy's argument checks


# CuPy's functions other than these (and ufuncs) take a cupy.ndarray (or a sequence of them) as
# their first argument: they call its methods, so a Python or NumPy scalar fails there.
_SCALAR_FIRST_OK = frozenset(
    "array asarray asanyarray zeros ones empty full arange eye identity linspace logspace "
    "result_type can_cast promote_types dtype iinfo finfo isscalar broadcast_shapes "
    "issubdtype ndim shape size einsum".split()
)


def _check_first(name: str, args: tuple) -> None:
    if name in _SCALAR_FIRST_OK or not args:
        return
    a = args[0]
    if isinstance(a, (list, tuple)) and a and all(type(v) is ndarray for v in a):
        return
    if type(a) is not ndarray:
        raise AttributeError(
            f"cupy.{name}: its first argument must be a cupy.ndarray, got {type(a).__name__} "
            "(CuPy calls its methods)"
        )


def _function(fn, name: str, host_ok: bool = False):
    def wrapper(*args, **kwargs):
        if host_ok:
            return _to_device(name, *args, **kwargs)
        _check_first(name, args)
        args = _unwrap(args, name)
        kwargs = {k: _unwrap(v, name) for k, v in kwargs.items()}
        return _wrap(fn(*args, **kwargs))

    wrapper.__name__ = name
    return wrapper


def _to_device(name: str, a, dtype=None, copy=None, order="K", **kwargs):
    """cupy.array / asarray: host data is copied to the current device; a device array is
    returned as is by asarray, copied (across devices too) by array."""
    if copy is None:
        copy = name == "array"
    if type(a) is ndarray:
        if not copy and a._dev == _current() and (dtype is None or np.dtype(dtype) == a.dtype):
            return a
        if not copy and a._dev != _current() and dtype is None:
            return a  # CuPy's asarray does not move an array between devices
        return ndarray._make(np.array(a._a, dtype=dtype))
    if isinstance(a, (list, tuple)):
        a = _unwrap(a, name)  # device arrays inside a list must be on the current device
    return ndarray._make(np.array(a, dtype=dtype))


class _Ufunc:
    def __init__(self, ufunc: np.ufunc):
        self._u = ufunc
        self.__name__ = ufunc.__name__
        self.nin, self.nout = ufunc.nin, ufunc.nout

    def _call(self, method, *args, **kwargs):
        fn = getattr(self._u, method) if method else self._u
        args = _unwrap(args, self.__name__)
        kwargs = {k: _unwrap(v, self.__name__) for k, v in kwargs.items()}
        return _wrap(fn(*args, **kwargs))

    def __call__(self, *args, **kwargs):
        return self._call(None, *args, **kwargs)

    def at(self, *args, **kwargs):
        return self._call("at", *args, **kwargs)

    def reduce(self, *args, **kwargs):
        return self._call("reduce", *args, **kwargs)

    def accumulate(self, *args, **kwargs):
        return self._call("accumulate", *args, **kwargs)

    def outer(self, *args, **kwargs):
        return self._call("outer", *args, **kwargs)


class _Module(types.ModuleType):
    """Attributes come from the NumPy module ``source``, wrapped."""

    def __init__(self, name: str, source: Any):
        super().__init__(name)
        self._source = source

    def __getattr__(self, name: str):
        if name.startswith("__"):
            raise AttributeError(name)
        attr = getattr(self._source, name)
        if isinstance(attr, np.ufunc):
            attr = _Ufunc(attr)
        elif isinstance(attr, types.ModuleType):
            attr = _Module(f"{self.__name__}.{name}", attr)
        elif callable(attr) and not isinstance(attr, type):
            attr = _function(attr, name, host_ok=name in ("array", "asarray", "asanyarray"))
        setattr(self, name, attr)
        return attr


def _sort_function(name: str):
    fn = getattr(np, name)

    def sort(a, axis=-1, kind=None):
        if kind is not None:  # CuPy: always stable, "any other options are not accepted"
            raise NotImplementedError(f"cupy.{name}: kind={kind!r} is not supported")
        return _wrap(fn(_unwrap(a, name), axis=axis, kind="stable"))

    return sort


def lexsort(keys):
    """CuPy's lexsort: keys one (k, N) device array; no ``axis``."""
    if type(keys) is not ndarray or keys.ndim not in (1, 2):
        raise TypeError("cupy.lexsort: keys must be a cupy.ndarray of rank 1 or 2")
    return _wrap(np.lexsort(_unwrap(keys, "lexsort")))


def asnumpy(a, stream=None, order="C", out=None) -> np.ndarray:
    if type(a) is ndarray:
        return a.get(order=order)
    return np.asarray(a, order=order)


def get_array_module(*args):
    return module if any(type(a) is ndarray for a in args) else np


module = _Module("cupy", np)
module.__file__ = __file__
module.ndarray = ndarray
module.sort = _sort_function("sort")
module.argsort = _sort_function("argsort")
module.lexsort = lexsort
module.cuda = cuda
module.asnumpy = asnumpy
module.get_array_module = get_array_module
module.fake = True


# ---------------------------------------------------------------------------------------------
# Installing it


@contextlib.contextmanager
def installed(n_devices: int = 2, with_nccl: bool = False):
    """``sys.modules["cupy"]`` is this fake (``n_devices`` GPUs) inside the block; funcgrad's
    backend state is reset on the way in and out. ``with_nccl`` adds ``cupy.cuda.nccl``
    (without it, ``from cupy.cuda import nccl`` fails, as where CuPy has no NCCL)."""
    from funcgrad.core import backend

    names = ("cupy", "cupyx", "cupy.cuda", "cupy.cuda.nccl")
    saved = {k: sys.modules.get(k) for k in names}
    _config["n_devices"] = n_devices
    sys.modules["cupy"] = module
    sys.modules["cupyx"] = None  # type: ignore[assignment] - no cupyx.scipy: the pure paths
    sys.modules["cupy.cuda"] = cuda
    if with_nccl:
        sys.modules["cupy.cuda.nccl"] = cuda.nccl = nccl
    else:
        sys.modules.pop("cupy.cuda.nccl", None)
        cuda.__dict__.pop("nccl", None)
    backend.reset()
    try:
        yield module
    finally:
        for k, v in saved.items():
            if v is None:
                sys.modules.pop(k, None)
            else:
                sys.modules[k] = v
        backend.reset()
