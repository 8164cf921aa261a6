"""funcgrad: composable transforms (grad, vmap, jit, pmap) over NumPy and CuPy."""

from funcgrad import data, debug, distributed, lax, nn, numpy, optim, random, scipy, tree_util
from funcgrad.core.array import Array, device_get, device_put
from funcgrad.core.backend import default_backend, device_count, devices, local_devices
from funcgrad.core.config import config
from funcgrad.distributed import process_count, process_index
from funcgrad.lax import stop_gradient
from funcgrad.serialization import load, save
from funcgrad.transforms.checkpoint import checkpoint, remat
from funcgrad.transforms.custom import custom_jvp, custom_vjp
from funcgrad.transforms.grad import grad, jvp, linearize, value_and_grad, vjp
from funcgrad.transforms.jacobian import hessian, jacfwd, jacobian, jacrev
from funcgrad.transforms.jit import jit, make_ir
from funcgrad.transforms.pmap import pmap
from funcgrad.transforms.vmap import vmap

__version__ = "0.1.0"

__all__ = [
    "Array",
    "checkpoint",
    "config",
    "data",
    "debug",
    "default_backend",
    "device_count",
    "device_get",
    "device_put",
    "devices",
    "distributed",
    "custom_jvp",
    "custom_vjp",
    "grad",
    "hessian",
    "jacfwd",
    "jacobian",
    "jacrev",
    "jit",
    "jvp",
    "lax",
    "linearize",
    "nn",
    "load",
    "local_devices",
    "make_ir",
    "numpy",
    "optim",
    "pmap",
    "process_count",
    "process_index",
    "random",
    "remat",
    "save",
    "scipy",
    "stop_gradient",
    "tree_util",
    "value_and_grad",
    "vjp",
    "vmap",
]
