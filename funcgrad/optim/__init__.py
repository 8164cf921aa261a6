"""Pure optimizers: ``state = opt.init(params)``, ``state = opt.update(state, grads)``.

Optimizers are chains of small gradient transformations (optax's design) whose update formulas
and hyperparameters match ``torch.optim``; learning rates may be schedules.
"""

from funcgrad.optim import schedules
from funcgrad.optim.aliases import adagrad, adam, adamw, rmsprop, sgd
from funcgrad.optim.base import (
    GradientTransformation,
    Optimizer,
    OptState,
    Schedule,
    apply_updates,
    chain,
    optimizer,
)
from funcgrad.optim.schedules import (
    constant,
    cosine_annealing,
    exponential,
    linear,
    linear_warmup,
    multi_step,
    one_cycle,
    step,
)
from funcgrad.optim.transforms import (
    EmptyState,
    ScaleByAdagradState,
    ScaleByAdamState,
    ScaleByLearningRateState,
    ScaleByRmsState,
    TraceState,
    add_decayed_weights,
    clip_by_global_norm,
    clip_by_value,
    global_norm,
    identity,
    scale,
    scale_by_adagrad,
    scale_by_adam,
    scale_by_learning_rate,
    scale_by_rms,
    trace,
)

__all__ = [
    "EmptyState",
    "GradientTransformation",
    "OptState",
    "Optimizer",
    "Schedule",
    "ScaleByAdagradState",
    "ScaleByAdamState",
    "ScaleByLearningRateState",
    "ScaleByRmsState",
    "TraceState",
    "adagrad",
    "adam",
    "adamw",
    "add_decayed_weights",
    "apply_updates",
    "chain",
    "clip_by_global_norm",
    "clip_by_value",
    "constant",
    "cosine_annealing",
    "exponential",
    "global_norm",
    "identity",
    "linear",
    "linear_warmup",
    "multi_step",
    "one_cycle",
    "optimizer",
    "rmsprop",
    "scale",
    "scale_by_adagrad",
    "scale_by_adam",
    "scale_by_learning_rate",
    "scale_by_rms",
    "schedules",
    "sgd",
    "step",
    "trace",
]
