"""cnn_gpu: the seed CNN's SGD step (benchmarks/cnn.py) on one GPU (CuPy), against the same step
on the CPU and against PyTorch's eager step on the same GPU.

The baseline is PyTorch (``torch gpu``, when torch with CUDA is installed): the same model and
parameters, ``loss.backward()`` and an SGD update, TF32 off (CuPy's matmuls do not use it either),
synchronised at the end of each step. ``funcgrad gpu`` aims at 1.5x PyTorch's time. Without a GPU
the workload reports itself skipped.
"""

import numpy as np

import funcgrad as fg
import funcgrad.numpy as fnp
from benchmarks import Skip, Variant, assert_close, cnn
from benchmarks.cnn import CLASSES, LR, SIZE, funcgrad_step, model, opt
from funcgrad import nn
from funcgrad.core import backend

NAME = "cnn_gpu"
BATCH = cnn.BATCH  # the tests run it smaller
DESCRIPTION = (
    f"the cnn workload's SGD step (batch {BATCH}, (3, {SIZE}, {SIZE}) float32) on one GPU with "
    "CuPy, vs the CPU step and vs PyTorch's eager step on the same GPU"
)
BASELINE = "torch gpu"


def _torch_step(params_np, x, y):
    """PyTorch's step on the GPU with funcgrad's initial parameters (None without torch+CUDA)."""
    try:
        import torch
        import torch.nn.functional as tf
    except ImportError:
        return None, None
    if not torch.cuda.is_available():
        return None, None
    torch.backends.cudnn.allow_tf32 = False
    torch.backends.cuda.matmul.allow_tf32 = False
    dev = torch.device("cuda", 0)
    p = {k: torch.tensor(v, device=dev, requires_grad=True) for k, v in params_np.items()}
    tx, ty = torch.tensor(x, device=dev), torch.tensor(y, device=dev)

    def step():
        h = tf.max_pool2d(tf.relu(tf.conv2d(tx, p["conv1.weight"], p["conv1.bias"], padding=1)), 2)
        h = tf.max_pool2d(tf.relu(tf.conv2d(h, p["conv2.weight"], p["conv2.bias"], padding=1)), 2)
        h = tf.relu(tf.linear(h.reshape(h.shape[0], -1), p["fc1.weight"], p["fc1.bias"]))
        loss = tf.cross_entropy(tf.linear(h, p["fc2.weight"], p["fc2.bias"]), ty)
        loss.backward()
        with torch.no_grad():
            for v in p.values():
                v -= LR * v.grad
                v.grad = None
        torch.cuda.synchronize()
        return loss

    return step, p


def setup():
    if backend._gpu_count() <= 0:
        raise Skip(
            "no GPU here (CuPy is not installed or finds no GPU; pip install funcgrad[cuda])"
        )
    gpu, cpu = fg.devices("gpu")[0], fg.devices("cpu")[0]
    rng = np.random.default_rng(0)
    x = rng.standard_normal((BATCH, 3, SIZE, SIZE)).astype(np.float32)
    y = rng.integers(0, CLASSES, BATCH)
    state = opt.init(model.init(fg.random.key(0)))
    on_gpu = fg.device_put((state, fnp.asarray(x), fnp.asarray(y)), gpu)
    on_cpu = fg.device_put((state, x, y), cpu)
    loss, new_state = funcgrad_step(*on_gpu)
    assert loss.device == gpu and fg.tree_util.tree_leaves(new_state)[0].device == gpu
    expected = funcgrad_step(*on_cpu)
    assert_close((loss, new_state), expected, f"{NAME} (gpu vs cpu)", rtol=1e-4, atol=1e-5)
    jitted = fg.jit(funcgrad_step)
    assert_close(jitted(*on_gpu), expected, f"{NAME} (jit)", rtol=1e-4, atol=1e-5)
    out = {
        "funcgrad gpu": Variant(lambda: funcgrad_step(*on_gpu), target_ratio=1.5),
        "funcgrad gpu jit": Variant(lambda: jitted(*on_gpu), target_ratio=1.5),
        "funcgrad cpu": Variant(lambda: funcgrad_step(*on_cpu)),
    }
    params_np = {k: np.array(v) for k, v in nn.state_dict(state.params).items()}
    torch_step, torch_params = _torch_step(params_np, x, y)
    if torch_step is not None:
        torch_loss = torch_step()
        got = {k: v.detach().cpu().numpy() for k, v in torch_params.items()}
        want = (np.asarray(loss), fg.device_get(nn.state_dict(new_state.params)))
        assert_close((torch_loss.item(), got), want, f"{NAME} (torch)", rtol=1e-3, atol=1e-5)
        out = {BASELINE: Variant(torch_step), **out}
    return out
