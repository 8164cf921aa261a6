"""NumPy transcriptions of torch.optim's documented update loops, used as test references.

Each ``*_ref(params, grad_fn, lrs, **hp)`` runs ``len(lrs)`` steps on a list of float64 arrays,
calling ``grad_fn(params, t)`` for the gradients and using ``lrs[t]`` as the lr of step ``t``
(what a PyTorch scheduler would have set), and returns the list of params after every step.
"""

import math

import numpy as np


def _run(params, grad_fn, lrs, step):
    params = [np.array(p, dtype=np.float64) for p in params]
    states = [{} for _ in params]
    history = []
    for t, lr in enumerate(lrs):
        grads = grad_fn(params, t)
        params = [step(p.copy(), g, s, lr) for p, g, s in zip(params, grads, states)]
        history.append([p.copy() for p in params])
    return history


def sgd_ref(params, grad_fn, lrs, momentum=0, dampening=0, nesterov=False, weight_decay=0,
            maximize=False):  # fmt: skip
    def step(p, g, state, lr):
        g = -g if maximize else g
        if weight_decay != 0:
            g = g + weight_decay * p
        if momentum != 0:
            if "buf" not in state:
                state["buf"] = g.copy()
            else:
                state["buf"] = momentum * state["buf"] + (1 - dampening) * g
            g = g + momentum * state["buf"] if nesterov else state["buf"]
        return p - lr * g

    return _run(params, grad_fn, lrs, step)


def adam_ref(params, grad_fn, lrs, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, amsgrad=False,
             maximize=False, decoupled=False):  # fmt: skip
    b1, b2 = betas

    def step(p, g, state, lr):
        if not state:
            state.update(t=0, m=np.zeros_like(p), v=np.zeros_like(p), vmax=np.zeros_like(p))
        state["t"] += 1
        t = state["t"]
        g = -g if maximize else g
        if decoupled:
            p = p * (1 - lr * weight_decay)
        elif weight_decay != 0:
            g = g + weight_decay * p
        state["m"] = b1 * state["m"] + (1 - b1) * g
        state["v"] = b2 * state["v"] + (1 - b2) * g * g
        bias_correction1 = 1 - b1**t
        bias_correction2 = 1 - b2**t
        step_size = lr / bias_correction1
        if amsgrad:
            state["vmax"] = np.maximum(state["vmax"], state["v"])
            denom = np.sqrt(state["vmax"]) / math.sqrt(bias_correction2) + eps
        else:
            denom = np.sqrt(state["v"]) / math.sqrt(bias_correction2) + eps
        return p - step_size * state["m"] / denom

    return _run(params, grad_fn, lrs, step)


def adamw_ref(params, grad_fn, lrs, weight_decay=1e-2, **kw):
    return adam_ref(params, grad_fn, lrs, weight_decay=weight_decay, decoupled=True, **kw)


def rmsprop_ref(params, grad_fn, lrs, alpha=0.99, eps=1e-8, weight_decay=0, momentum=0,
                centered=False, maximize=False):  # fmt: skip
    def step(p, g, state, lr):
        if not state:
            state.update(sq=np.zeros_like(p), gavg=np.zeros_like(p), buf=np.zeros_like(p))
        g = -g if maximize else g
        if weight_decay != 0:
            g = g + weight_decay * p
        state["sq"] = alpha * state["sq"] + (1 - alpha) * g * g
        if centered:
            state["gavg"] = state["gavg"] + (1 - alpha) * (g - state["gavg"])  # lerp
            avg = np.sqrt(state["sq"] - state["gavg"] ** 2) + eps
        else:
            avg = np.sqrt(state["sq"]) + eps
        if momentum > 0:
            state["buf"] = momentum * state["buf"] + g / avg
            return p - lr * state["buf"]
        return p - lr * g / avg

    return _run(params, grad_fn, lrs, step)


def adagrad_ref(params, grad_fn, lrs, lr_decay=0, weight_decay=0, initial_accumulator_value=0,
                eps=1e-10, maximize=False):  # fmt: skip
    def step(p, g, state, lr):
        if not state:
            state.update(t=0, sum=np.full_like(p, initial_accumulator_value))
        state["t"] += 1
        g = -g if maximize else g
        if weight_decay != 0:
            g = g + weight_decay * p
        clr = lr / (1 + (state["t"] - 1) * lr_decay)
        state["sum"] = state["sum"] + g * g
        return p - clr * g / (np.sqrt(state["sum"]) + eps)

    return _run(params, grad_fn, lrs, step)


# lr schedulers, stepped the way PyTorch steps them (recursive forms where PyTorch uses them)


def step_lr_ref(lr, step_size, gamma, n):
    out, cur = [], lr
    for t in range(n):
        if t > 0 and t % step_size == 0:
            cur = cur * gamma
        out.append(cur)
    return out


def cosine_annealing_lr_ref(lr, T_max, eta_min, n):
    # CosineAnnealingLR.get_lr: the chainable (recursive) form.
    out, cur = [], lr
    for t in range(n):
        if t == 0:
            cur = lr
        elif (t - 1 - T_max) % (2 * T_max) == 0:
            cur = cur + (lr - eta_min) * (1 - math.cos(math.pi / T_max)) / 2
        else:
            cur = (1 + math.cos(math.pi * t / T_max)) / (
                1 + math.cos(math.pi * (t - 1) / T_max)
            ) * (cur - eta_min) + eta_min
        out.append(cur)
    return out


def one_cycle_lr_ref(max_lr, total_steps, pct_start=0.3, div_factor=25.0, final_div_factor=1e4,
                     anneal="cos", n=None):  # fmt: skip
    initial_lr = max_lr / div_factor
    min_lr = initial_lr / final_div_factor
    phases = [
        (float(pct_start * total_steps) - 1, initial_lr, max_lr),
        (float(total_steps) - 1, max_lr, min_lr),
    ]

    def anneal_fn(start, end, pct):
        if anneal == "cos":
            return end + (start - end) / 2.0 * (math.cos(math.pi * pct) + 1)
        return (end - start) * pct + start

    out = []
    for t in range(total_steps + 1 if n is None else n):
        start_step = 0.0
        for i, (end_step, start, end) in enumerate(phases):
            if t <= end_step or i == len(phases) - 1:
                out.append(anneal_fn(start, end, (t - start_step) / (end_step - start_step)))
                break
            start_step = end_step
    return out
