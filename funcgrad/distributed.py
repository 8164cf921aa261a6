"""Multi-process training over MPI: one process per machine (or per group of devices).

``fg.distributed.initialize()`` joins the processes started by ``mpiexec`` (through mpi4py,
the optional ``mpi`` extra: ``pip install "funcgrad[mpi]"``). After it, ``pmap``'s named axis is
global: its size is the number of local devices times ``process_count()``, each process passes
the shards of its own devices, and the collectives (``psum``, ``pmean``, ``all_gather``, ...)
combine the shards of every process. Every process runs the same program, which issues its
collectives in program order, so all ranks issue them in one order; reductions sum the shards in
global device order, so every rank gets bit-identical results.

Once initialized, an uncaught exception on any rank aborts the whole MPI job (``MPI_Abort``)
instead of leaving the other ranks waiting forever in a collective.

Example (``mpiexec -n 2 python train.py``):
  >>> fg.distributed.initialize()
  >>> params = fg.distributed.broadcast_from_root(model.init(fg.random.key(0)))
  >>> fg.process_index(), fg.process_count()
  (0, 2)
"""

from __future__ import annotations

import sys
import threading
import time
from typing import Any

import numpy as np

from funcgrad.core.array import Array
from funcgrad.core.tree import tree_flatten, tree_unflatten

__all__ = [
    "initialize",
    "is_initialized",
    "process_index",
    "process_count",
    "broadcast_from_root",
    "allgather",
    "allgather_objects",
    "barrier",
]


class _State:
    comm: Any = None
    lock = threading.Lock()  # one collective at a time from this process


_state = _State()


def _flush_before_abort() -> None:
    # The traceback must reach the user: mpiexec relays each rank's output asynchronously and
    # stops relaying once a rank aborts, so give it a moment to forward what was just written.
    sys.stdout.flush()
    sys.stderr.flush()
    time.sleep(0.25)


def initialize(comm: Any = None) -> None:
    """Joins the MPI job: ``comm`` (default ``MPI.COMM_WORLD``) becomes the processes of
    ``pmap``'s global axis. Call it once, before any ``pmap``.

    Raises:
      ImportError: mpi4py is not installed (install the ``mpi`` extra).
      RuntimeError: already initialized.
    """
    if _state.comm is not None:
        raise RuntimeError(
            "fg.distributed.initialize: already initialized (process "
            f"{process_index()} of {process_count()}); call it once per process"
        )
    try:
        from mpi4py import MPI
    except ImportError as e:
        raise ImportError(
            "fg.distributed.initialize needs mpi4py and an MPI implementation: install the "
            "'mpi' extra (pip install \"funcgrad[mpi]\") and start the processes with mpiexec"
        ) from e
    _state.comm = MPI.COMM_WORLD if comm is None else comm
    _install_abort_hook()


def is_initialized() -> bool:
    return _state.comm is not None


def process_index() -> int:
    """This process's rank (0 without ``initialize``)."""
    return 0 if _state.comm is None else _state.comm.Get_rank()


def process_count() -> int:
    """The number of processes (1 without ``initialize``)."""
    return 1 if _state.comm is None else _state.comm.Get_size()


def allgather(value: np.ndarray) -> list[np.ndarray]:
    """Every process's ``value``, in rank order (the same list on every rank)."""
    return allgather_objects(np.asarray(value))


def allgather_objects(value: Any) -> list:
    """Every process's ``value`` (any picklable object, e.g. a list of arrays), in rank order."""
    if _state.comm is None:
        return [value]
    with _state.lock:
        return _state.comm.allgather(value)


def barrier() -> None:
    """Waits until every process reaches it."""
    if _state.comm is not None:
        with _state.lock:
            _state.comm.Barrier()


def broadcast_from_root(tree: Any, root: int = 0) -> Any:
    """Process ``root``'s values of ``tree`` on every process (e.g. initial parameters).

    Every process passes a tree of the same structure; the leaves become Arrays.
    """
    leaves, treedef = tree_flatten(tree)
    if _state.comm is None:
        return tree_unflatten(treedef, [Array(np.array(x)) for x in leaves])
    with _state.lock:
        values = _state.comm.bcast([np.asarray(x) for x in leaves], root=root)
    if len(values) != len(leaves):
        raise ValueError(
            f"fg.distributed.broadcast_from_root: process {root} sent {len(values)} leaves, "
            f"this process has {len(leaves)}; every process must pass the same structure"
        )
    return tree_unflatten(treedef, [Array(v) for v in values])


def _install_abort_hook() -> None:
    previous = sys.excepthook
    comm = _state.comm

    def abort_on_exception(tp, value, tb):
        previous(tp, value, tb)
        _flush_before_abort()
        comm.Abort(1)  # the other ranks exit instead of hanging in a collective

    sys.excepthook = abort_on_exception
    previous_thread_hook = threading.excepthook

    def abort_on_thread_exception(args):
        previous_thread_hook(args)
        _flush_before_abort()
        comm.Abort(1)

    threading.excepthook = abort_on_thread_exception
