"""Under ``mpiexec -n 2``: initialize, broadcast_from_root, allgather (test_distributed)."""

import sys

import numpy as np

import funcgrad as fg

fg.distributed.initialize()
rank, size = fg.distributed.process_index(), fg.distributed.process_count()
tree = {"w": np.full(3, float(rank + 1)), "b": np.float32(rank)}
got = fg.distributed.broadcast_from_root(tree)
assert np.array_equal(np.asarray(got["w"]), np.full(3, 1.0)), got
gathered = fg.distributed.allgather(np.array([rank]))
assert [int(g[0]) for g in gathered] == list(range(size)), gathered
print(f"rank {rank} of {size} ok", flush=True)
if len(sys.argv) > 1 and sys.argv[1] == "fail" and rank == 1:
    raise RuntimeError("rank 1 fails before the collective")
fg.distributed.barrier()  # rank 0 would wait here forever without the abort
print(f"rank {rank} passed the barrier", flush=True)
