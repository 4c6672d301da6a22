"""Data parallelism: torchrun sets WORLD_SIZE/RANK/LOCAL_RANK; one process per GPU.

Gradients are all-reduced once per optimiser step, after every source's backward, rather than
by DistributedDataParallel on each backward: a step accumulates several sources (and a source
may bring no image, leaving the resampler unused), so one explicit reduction is both cheaper and
simpler. `--fsdp` shards the model instead (FSDP2 `fully_shard` per decoder layer), for LMs
whose frozen weights do not fit on one GPU; FSDP then reduces the gradients itself.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import nn


@dataclass
class Dist:
    rank: int = 0
    local_rank: int = 0
    world: int = 1

    @property
    def main(self) -> bool:
        return self.rank == 0


def init_distributed(device: str) -> Dist:
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return Dist()
    if not dist.is_initialized():
        dist.init_process_group("nccl" if device.startswith("cuda") else "gloo")
    local = int(os.environ.get("LOCAL_RANK", "0"))
    if device.startswith("cuda"):
        torch.cuda.set_device(local)
    return Dist(dist.get_rank(), local, dist.get_world_size())


def allreduce_grads(params: list[nn.Parameter], world: int) -> None:
    """Average gradients across ranks in one flat buffer; a missing grad counts as zero."""
    if world <= 1:
        return
    grads = [p.grad if p.grad is not None else torch.zeros_like(p) for p in params]
    flat = torch.cat([g.reshape(-1) for g in grads])
    dist.all_reduce(flat)
    flat /= world
    offset = 0
    for p, g in zip(params, grads):
        n = g.numel()
        p.grad = flat[offset: offset + n].view_as(p).clone()
        offset += n


def all_mean(values: list[float], world: int, device: torch.device) -> list[float]:
    t = torch.tensor(values, dtype=torch.float64, device=device)
    if world > 1:
        dist.all_reduce(t)
        t /= world
    return t.tolist()


def shard_model(model: nn.Module) -> nn.Module:
    """FSDP2: each decoder layer (with its gated block) is one unit, the rest the root."""
    from torch.distributed.fsdp import MixedPrecisionPolicy, fully_shard

    from train.model import decoder_layers

    mp = MixedPrecisionPolicy(param_dtype=torch.bfloat16, reduce_dtype=torch.float32)
    for layer in decoder_layers(model.lm):
        fully_shard(layer, mp_policy=mp)
    fully_shard(model, mp_policy=mp)
    return model


def gather_objects(obj: object, world: int) -> list:
    if world <= 1:
        return [obj]
    out: list = [None] * world
    dist.all_gather_object(out, obj)
    return out


def barrier(world: int) -> None:
    if world > 1:
        dist.barrier()
