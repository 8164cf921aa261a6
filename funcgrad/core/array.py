"""fg.Array: an immutable wrapper around one NumPy (or CuPy) buffer, and the shared array API."""

from __future__ import annotations

from typing import Any

import numpy as np

from funcgrad.core import backend, tree


class ArrayBase:
    """What ``fg.Array`` and every tracer share: shape queries and the operator methods.

    The operators and NumPy-named methods (``__add__``, ``sum``, ``reshape``, ``at``, ...) are
    installed by ``funcgrad.numpy`` so that ``core`` does not import the layers above it.
    """

    __slots__ = ()
    __array_priority__ = 100
    __hash__ = None  # arrays compare elementwise, so they are not hashable (as in NumPy and JAX)

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def size(self) -> int:
        n = 1
        for d in self.shape:
            n *= d
        return n

    def __len__(self) -> int:
        if not self.shape:
            raise TypeError("len() of a 0-d array; use .shape or .size instead")
        return self.shape[0]


class Array(ArrayBase):
    """An immutable n-dimensional array on one device.

    Build one with ``fg.numpy.asarray`` (or any funcgrad operation). Arrays are never written in
    place: use ``x.at[idx].set(y)`` for a functional update, which returns a new array.

    Example:
      >>> x = fnp.asarray([1.0, 2.0, 3.0])
      >>> (x * 2).sum()
      Array(12., dtype=float32)
    """

    __slots__ = ("_value", "__weakref__")

    def __init__(self, value: Any):
        # Internal: ``value`` must be a NumPy/CuPy array or scalar that nobody else writes.
        self._value = value

    @property
    def shape(self) -> tuple[int, ...]:
        return self._value.shape

    @property
    def dtype(self) -> np.dtype:
        return self._value.dtype

    @property
    def device(self) -> backend.Device:
        """The device the array lives on: its GPU (``gpu:i``), the CPU device ``fg.device_put``
        committed it to, else the CPU's first device (an uncommitted host array).

        Example:
          >>> fnp.ones(3).device
          cpu:0
        """
        return backend.device_of(self._value)

    def devices(self) -> list[backend.Device]:
        """The devices holding the array, in order: one for most arrays; for a ``pmap``
        output on GPUs, which stays sharded (one buffer per GPU along its mapped axis), each
        shard's GPU.

        Example:
          >>> fnp.ones(3).devices()
          [cpu:0]
          >>> fg.pmap(lambda x: x + 1)(np.ones((2, 3))).devices()   # on 2 GPUs
          [gpu:0, gpu:1]
        """
        v = self._value
        if type(v) is backend.Sharded:
            return list(v.devices)
        return [backend.device_of(v)]

    def __array__(self, dtype=None, copy=None):
        v = self._value
        if not isinstance(v, np.ndarray):
            if type(v) is backend.Sharded:
                v = v.host()  # gathered from the GPUs once
            elif backend.xp_of(v) is not np:
                v = v.get()
            else:
                v = np.asarray(v)
        if dtype is not None and np.dtype(dtype) != v.dtype:
            if copy is False:
                raise ValueError("Array.__array__: a dtype change needs a copy; copy=False given")
            return v.astype(dtype)
        if copy:
            return v.copy()
        # Lock the buffer itself, and hand out a locked view: a view cannot be made writable
        # again while its base is read-only.
        v.flags.writeable = False
        view = v.view()
        view.flags.writeable = False
        return view

    def block_until_ready(self) -> Array:
        """Waits until the array's value is computed (a no-op on the CPU; on GPUs, every
        device holding a shard); returns ``self``.

        Example:
          >>> (fnp.ones(3) * 2).block_until_ready()
          Array([2., 2., 2.], dtype=float32)
        """
        v = self._value
        if type(v) is backend.Sharded:
            v.synchronize()
        elif backend.xp_of(v) is not np:
            v.device.synchronize()
        return self

    def __setitem__(self, idx, value):
        raise TypeError(
            "fg.Array is immutable and does not support item assignment; "
            "use x = x.at[idx].set(value) (or .add/.multiply/...) for a functional update"
        )

    def __repr__(self) -> str:
        v = np.asarray(self)
        body = np.array2string(v, separator=", ", prefix="Array(")
        return f"Array({body}, dtype={v.dtype})"

    def __str__(self) -> str:
        return str(np.asarray(self))

    def _scalar_source(self) -> Any:
        v = self._value
        return v.host() if type(v) is backend.Sharded else v

    def __bool__(self) -> bool:
        return bool(self._scalar_source())

    def __int__(self) -> int:
        return int(self._scalar_source())

    def __float__(self) -> float:
        return float(self._scalar_source())

    def __complex__(self) -> complex:
        return complex(self._scalar_source())

    def __index__(self) -> int:
        if self._value.dtype.kind not in "iub":
            raise TypeError(
                f"only integer arrays can be used as an index, got dtype {self._value.dtype}"
            )
        return int(self._scalar_source())

    def __iter__(self):
        if not self.shape:
            raise TypeError("iteration over a 0-d array")
        return (self[i] for i in range(self.shape[0]))

    def item(self, *args):
        """The element as a Python scalar (NumPy's ``ndarray.item``)."""
        return np.asarray(self).item(*args)

    def tolist(self):
        """The array as nested Python lists."""
        return np.asarray(self).tolist()

    def __reduce__(self):
        return (_rebuild, (np.asarray(self).copy(),))

    def __copy__(self):
        return self

    def __deepcopy__(self, memo):
        return self


tree.register_leaf_type(Array)
tree.register_leaf_type(np.ndarray)


def _rebuild(value):
    return Array(value)


def is_array(x: Any) -> bool:
    return isinstance(x, ArrayBase)


def raw_value(x: Any) -> Any:
    """The NumPy/CuPy buffer of an Array; anything else (a raw value, a tracer) unchanged."""
    return x._value if type(x) is Array else x


# ---------------------------------------------------------------------------------------------
# device_put / device_get


def device_put(x: Any, device: backend.Device | None = None) -> Any:
    """``x`` (a pytree of arrays) as Arrays on ``device``.

    With a device, each array is committed to it (``Array.device`` is that device, and an
    operation mixing it with an array committed elsewhere is an error). Virtual CPU devices share
    the host's memory, so this is a view, not a copy; a GPU (``fg.devices("gpu")[i]``) gets a
    copy made under ``cupy.cuda.Device(i)``. Without a device, Arrays stay where they are and
    NumPy values and Python scalars become Arrays on the default device. Values being traced by
    a transform are returned unchanged. An array sharded over GPUs (a ``pmap`` output) is
    gathered whole onto ``device``; without a device it stays sharded.

    Example:
      >>> with fg.config(num_cpu_devices=2):
      ...     fg.device_put(fnp.ones(2), fg.devices()[1]).device
      cpu:1
    """
    from funcgrad.core.dtypes import dtype_of

    if device is not None:
        if not isinstance(device, backend.Device):
            raise TypeError(
                f"fg.device_put: device must be a Device such as fg.devices()[0], got "
                f"{type(device).__name__} {device!r}"
            )
        available = backend.devices(device.platform)
        if device not in available:
            raise ValueError(
                f"fg.device_put: device {device!r} does not exist; the {device.platform} devices "
                f"are {available} (set FUNCGRAD_NUM_CPU_DEVICES or fg.config.num_cpu_devices for "
                "more virtual CPU devices)"
            )

    def put(leaf):
        if isinstance(leaf, ArrayBase) and type(leaf) is not Array:
            return leaf  # a tracer
        if type(leaf) is Array:
            value = leaf._value
            if type(value) is backend.Sharded and device is not None:  # a pmap output
                if device.platform == "cpu":
                    return Array(backend.commit(value.host(), device))
                if device == value.devices[0]:
                    return Array(value.gather())
                return Array(value.stack_on(device.id))
            if device is not None and device.platform == "gpu":
                return Array(backend.to_gpu(value, device.id))
            if device is not None and backend.xp_of(value) is not np:
                value = value.get()  # a GPU array to a CPU device
        elif backend.xp_of(leaf) is not np:  # a CuPy array
            if device is None or device.platform == "gpu":
                gpu = leaf.device.id if device is None else device.id
                with backend.gpu_context(gpu):
                    return Array(leaf.copy())  # the caller may still write its array
            value = leaf.get()
        elif isinstance(leaf, (bool, int, float, complex)):
            value = np.asarray(leaf, dtype_of(leaf))
        else:
            value = np.asarray(leaf)
            if value.dtype == object:
                raise TypeError(
                    f"fg.device_put: a leaf of type {type(leaf).__name__} is not an array"
                )
            if value is leaf or value.base is not None:
                value = value.copy()  # the caller may write into its NumPy array later
        if device is None:
            if type(leaf) is Array:
                return leaf
            return Array(backend.on_default_device(value))
        if device.platform == "gpu":
            return Array(backend.to_gpu(value, device.id))
        if type(value) is backend._OnDevice and value.fg_device == device:
            return leaf if type(leaf) is Array else Array(value)
        return Array(backend.commit(value, device))

    return tree.tree_map(put, x)


def device_get(x: Any) -> Any:
    """``x`` (a pytree of arrays) with every Array as a NumPy array on the host (GPU arrays are
    copied back with CuPy's ``.get()``; a ``pmap`` output sharded over GPUs is gathered).

    Example:
      >>> fg.device_get({"w": fnp.ones(2)})
      {'w': array([1., 1.], dtype=float32)}
    """

    def get(leaf):
        if isinstance(leaf, ArrayBase):
            v = np.asarray(leaf)
            return v.view(np.ndarray) if type(v) is not np.ndarray else v
        return leaf

    return tree.tree_map(get, x)
