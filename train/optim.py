"""AdamW over the trainable weights only, and a linear-warmup-then-constant schedule.

Weight decay (0.1) applies to the cross-attention and dense matrices of the gated blocks.
No decay on: the Perceiver Resampler (Flamingo), the tanh gates (decay would pull them back
to 0, i.e. towards switching the visual path off), norms and biases (the usual practice), and
the rows of the added tokens (embeddings are not decayed, as in most LM recipes).
"""

from __future__ import annotations

import torch
from torch import nn


def param_groups(model: nn.Module, weight_decay: float) -> list[dict]:
    decay, no_decay = [], []
    for name, p in model.named_parameters():
        if not p.requires_grad:
            continue
        blocked = name.startswith("resampler.") or "gate" in name or p.ndim < 2
        blocked = blocked or name in ("embed_new", "unembed_new")
        (no_decay if blocked else decay).append(p)
    return [{"params": decay, "weight_decay": weight_decay},
            {"params": no_decay, "weight_decay": 0.0}]


def make_optimizer(model: nn.Module, lr: float, weight_decay: float = 0.1,
                   betas: tuple[float, float] = (0.9, 0.999)) -> torch.optim.AdamW:
    return torch.optim.AdamW(param_groups(model, weight_decay), lr=lr, betas=betas)


def make_scheduler(opt: torch.optim.Optimizer, warmup: int) -> torch.optim.lr_scheduler.LambdaLR:
    """lr * min(1, step / warmup) for steps 1, 2, ...; constant afterwards."""
    warmup = max(1, warmup)
    return torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min(1.0, (s + 1) / warmup))
