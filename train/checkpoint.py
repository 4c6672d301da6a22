"""Checkpoints: the trainable weights, optimiser, scheduler, RNG states and loader positions.

The frozen LM and vision encoder are never saved: they are rebuilt (pretrained, or seeded
random for `--model tiny`). A checkpoint is written to a temporary name and renamed, so a run
killed mid-save leaves the previous one intact. RNG states and loader positions are per rank.
"""

from __future__ import annotations

import os
import random
from pathlib import Path

import numpy as np
import torch
from torch import nn

NAME = "checkpoint.pt"


def trainable_state(model: nn.Module) -> dict[str, torch.Tensor]:
    """Full trainable tensors (FSDP shards are gathered: call on every rank then)."""
    out = {}
    for n, p in model.named_parameters():
        if p.requires_grad:
            t = p.detach()
            t = t.full_tensor() if hasattr(t, "full_tensor") else t
            out[n] = t.cpu().clone()
    return out


def load_trainable_state(model: nn.Module, state: dict[str, torch.Tensor]) -> None:
    params = dict(model.named_parameters())
    missing = [n for n, p in params.items() if p.requires_grad and n not in state]
    if missing:
        raise KeyError(f"checkpoint lacks trainable weights: {missing[:5]}")
    with torch.no_grad():
        for name, value in state.items():
            params[name].copy_(value)


def rng_state() -> dict:
    state = {"python": random.getstate(), "numpy": np.random.get_state(),
             "torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict) -> None:
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def save(run_dir: Path, state: dict) -> Path:
    path = Path(run_dir) / NAME
    tmp = path.with_name(f".{NAME}.tmp")
    torch.save(state, tmp)
    os.replace(tmp, path)
    return path


def load(run_dir: Path) -> dict | None:
    path = Path(run_dir) / NAME
    if not path.exists():
        return None
    return torch.load(path, map_location="cpu", weights_only=False)
