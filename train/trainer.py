"""The training loop: every step takes one batch from each source, weights each loss by its
lambda, accumulates the gradients, then clips and takes one optimiser step (Flamingo's
accumulation; `--round-robin` takes one source per step instead)."""

from __future__ import annotations

import contextlib
import json
import os
import random
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from train import checkpoint
from train.build import build_model, build_tokenizer
from train.distributed import (
    Dist,
    all_mean,
    allreduce_grads,
    barrier,
    gather_objects,
    init_distributed,
)
from train.loader import Prefetcher, SourceLoader, make_builder
from train.model import Flamingo, lm_loss
from train.optim import make_optimizer, make_scheduler
from train.shards import SourceSpec, read_manifest

PEAK_TFLOPS = {"H100": 989.0, "H200": 989.0, "A100": 312.0, "L40S": 362.0, "A10": 125.0,
               "L4": 121.0}


def peak_tflops(device: torch.device, override: float | None) -> float:
    """Dense bf16 peak of the GPU; on a CPU a nominal cores x 2.5 GHz x 32 fp32 FLOP/cycle."""
    if override:
        return override
    if device.type == "cuda":
        name = torch.cuda.get_device_name(device)
        return next((v for k, v in PEAK_TFLOPS.items() if k in name), 989.0)
    return (os.cpu_count() or 1) * 2.5e9 * 32 / 1e12


class FlopCounter:
    """Model FLOPs per batch (attention score FLOPs left out): the frozen LM costs a forward and
    an input-gradient backward (4N per token), the trainable blocks 6N per token, the resampler
    6N per visual token, the vision encoder a forward (2N) per patch."""

    def __init__(self, model: Flamingo):
        def count(mod) -> int:
            return sum(p.numel() for p in mod.parameters())

        emb = model.lm.get_input_embeddings().weight
        out = model.lm.get_output_embeddings().weight
        self.xattn = sum(count(b) for b in model.blocks)
        lm_all = sum(p.numel() for p in model.lm.parameters() if not p.requires_grad)
        skip = emb.numel() if emb.data_ptr() != out.data_ptr() else 0
        self.lm = lm_all - skip - sum(p.numel() for n, p in model.lm.named_parameters()
                                      if "wpe" in n or "embed_positions" in n)
        self.resampler = count(model.resampler)
        self.vision = count(model.vision)

    def __call__(self, batch: dict[str, torch.Tensor], patches: int) -> float:
        tokens = batch["input_ids"].numel()
        frames = int(batch["media_mask"].sum()) * batch["media"].shape[2]
        return (4 * self.lm * tokens + 6 * self.xattn * tokens
                + 6 * self.resampler * frames * patches + 2 * self.vision * frames * patches)


def source_specs(args) -> dict[str, SourceSpec]:
    specs = read_manifest(args.manifest)
    if args.sources:
        specs = {k: v for k, v in specs.items() if k in args.sources}
    for k, w in (args.weights or {}).items():
        if k in specs:
            specs[k].weight = float(w)
    specs = {k: v for k, v in specs.items() if v.shards and v.weight > 0}
    if not specs:
        raise SystemExit(f"{args.manifest}: no source with shards and a positive weight")
    return specs


def batch_size(args, kind: str, name: str) -> int:
    per = getattr(args, f"batch_size_{name}", None) or getattr(args, f"batch_size_{kind}", None)
    if per:
        return per
    if args.batch_size:
        return args.batch_size
    return {"interleaved": 4, "video_text": 2}.get(kind, 8)


def _seed_all(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def _truncate_metrics(path: Path, last_step: int) -> None:
    """Drop lines a killed run logged after its last checkpoint: they are run again."""
    if not path.exists():
        return
    keep = [ln for ln in path.read_text().splitlines() if ln.strip()
            and json.loads(ln).get("step", 0) <= last_step]
    path.write_text("".join(ln + "\n" for ln in keep))


def train(args, on_step: Callable[[int, dict], None] | None = None) -> list[dict]:
    """Run (or resume) training as `args` says; return this invocation's per-step metrics."""
    device_name = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
    dist_info: Dist = init_distributed(device_name)
    args.rank = dist_info.rank
    device = torch.device(f"cuda:{dist_info.local_rank}" if device_name == "cuda" else
                          device_name)
    run_dir = Path(args.output)
    run_dir.mkdir(parents=True, exist_ok=True)
    _seed_all(args.seed)
    specs = source_specs(args)
    if dist_info.main:  # rank 0 trains/saves the tokenizer; the others then load that one
        tok, base_vocab, ids = build_tokenizer(args, specs, run_dir)
    barrier(dist_info.world)
    if not dist_info.main:
        tok, base_vocab, ids = build_tokenizer(args, specs, run_dir)
    model, image_size = build_model(args, base_vocab, ids)
    cuda = device.type == "cuda"
    if cuda and args.frozen_dtype == "bf16":
        for p in list(model.lm.parameters()) + list(model.vision.parameters()):
            if not p.requires_grad:
                p.data = p.data.to(torch.bfloat16)
    model.to(device)
    if args.fsdp and args.resume and dist_info.world > 1:
        raise SystemExit("--resume with --fsdp is not supported yet (sharded optimiser state)")
    if args.fsdp and dist_info.world > 1:
        from train.distributed import shard_model

        model = shard_model(model)
    trainable = [p for p in model.parameters() if p.requires_grad]
    opt = make_optimizer(model, args.lr, args.weight_decay)
    sched = make_scheduler(opt, args.warmup)

    loaders: dict[str, SourceLoader] = {}
    for name, spec in specs.items():
        builder = make_builder(spec.kind, tok, ids, image_size, max_len=args.max_len,
                               pair_max_len=args.pair_max_len, max_images=args.max_images,
                               p_next=args.p_next, frames=args.frames)
        loaders[name] = SourceLoader(spec, builder, ids, batch_size(args, spec.kind, name),
                                     args.seed, dist_info.rank, dist_info.world)
    start = 0
    ckpt = checkpoint.load(run_dir) if args.resume else None
    if ckpt is not None:
        checkpoint.load_trainable_state(model, ckpt["model"])
        opt.load_state_dict(ckpt["optimizer"])
        sched.load_state_dict(ckpt["scheduler"])
        mine = ckpt["ranks"][dist_info.rank]
        checkpoint.set_rng_state(mine["rng"])
        for name, loader in loaders.items():
            if name in mine["loaders"]:
                loader.load_state_dict(mine["loaders"][name])
        start = int(ckpt["step"])
    sources = {n: (Prefetcher(lo, args.prefetch, pin=cuda) if args.prefetch else lo)
               for n, lo in loaders.items()}
    weights = {n: specs[n].weight for n in specs}
    metrics_path = run_dir / "metrics.jsonl"
    if dist_info.main:
        _truncate_metrics(metrics_path, start)
    flops = FlopCounter(model)
    patches = _patches(model, image_size)
    peak = peak_tflops(device, args.peak_tflops)
    names = list(sources)
    history: list[dict] = []

    def save(step: int) -> None:
        per_rank = {"rng": checkpoint.rng_state(),
                    "loaders": {n: s.state_dict() for n, s in sources.items()}}
        ranks = gather_objects(per_rank, dist_info.world)
        weights_now = checkpoint.trainable_state(model)  # collective under FSDP
        if dist_info.main:
            checkpoint.save(run_dir, {"step": step, "model": weights_now,
                                      "optimizer": opt.state_dict(),
                                      "scheduler": sched.state_dict(), "ranks": ranks,
                                      "args": {k: v for k, v in vars(args).items()
                                               if isinstance(v, (int, float, str, bool))}})

    model.train()
    autocast = (torch.autocast("cuda", dtype=torch.bfloat16) if cuda
                else contextlib.nullcontext())
    try:
        for step in range(start + 1, args.steps + 1):
            t0 = time.perf_counter()
            wait = 0.0
            step_names = [names[(step - 1) % len(names)]] if args.round_robin else names
            opt.zero_grad(set_to_none=True)
            rec: dict = {"step": step}
            total, n_samples, n_tokens, step_flops = 0.0, 0, 0, 0.0
            for name in step_names:
                tw = time.perf_counter()
                batch = sources[name].next_batch()
                batch = {k: v.to(device, non_blocking=True) for k, v in batch.items()}
                wait += time.perf_counter() - tw
                with autocast:
                    logits = model(batch["input_ids"], batch["attention_mask"], batch["media"],
                                   batch["media_mask"], batch["tie_next"] if args.p_next else None)
                loss, _ = lm_loss(logits, batch["labels"])
                (loss * weights[name]).backward()
                value = float(loss.detach())
                rec[f"loss_{name}"] = value
                total += weights[name] * value
                n_samples += batch["input_ids"].shape[0]
                n_tokens += int(batch["attention_mask"].sum())
                step_flops += flops(batch, patches)
            allreduce_grads(trainable, 1 if args.fsdp else dist_info.world)
            grad_norm = torch.nn.utils.clip_grad_norm_(trainable, args.clip)
            opt.step()
            sched.step()
            if cuda:
                torch.cuda.synchronize(device)
            dt = time.perf_counter() - t0
            world = dist_info.world
            if world > 1:  # log the mean over ranks, not rank 0's share
                keys = [k for k in rec if k.startswith("loss_")]
                mean = all_mean([rec[k] for k in keys] + [total], world, device)
                rec.update(zip(keys, mean[:-1]))
                total = mean[-1]
            rec.update(loss=total, lr=sched.get_last_lr()[0], grad_norm=float(grad_norm),
                       step_time=dt, samples_per_s=world * n_samples / dt,
                       tokens_per_s=world * n_tokens / dt, tflops=step_flops / dt / 1e12,
                       mfu=step_flops / dt / (peak * 1e12), data_wait=wait / dt,
                       **model.gate_values())
            if cuda:
                rec["peak_mem_gb"] = torch.cuda.max_memory_allocated(device) / 2**30
            rec["data"] = {n: dict(s.counters) for n, s in sources.items()}
            history.append(rec)
            if dist_info.main:
                with open(metrics_path, "a") as f:
                    f.write(json.dumps(rec) + "\n")
                if step % args.log_every == 0 or step == args.steps:
                    _print_progress(rec, step_names, args.steps)
            if (args.save_every and step % args.save_every == 0) or step == args.steps:
                save(step)
            if on_step is not None:
                on_step(step, rec)
    finally:
        for s in sources.values():
            if isinstance(s, Prefetcher):
                s.close()
    if dist_info.main and history:
        print("data:", json.dumps(history[-1]["data"]), flush=True)
    return history


def _patches(model: Flamingo, image_size: int) -> int:
    grid = getattr(model.vision, "grid_size", None)
    if grid is not None:
        return int(grid[0] * grid[1])
    return (image_size // 14) ** 2


def _print_progress(rec: dict, names: list[str], steps: int) -> None:
    parts = " ".join(f"{n}={rec[f'loss_{n}']:.3f}" for n in names)
    print(f"step {rec['step']}/{steps} loss {rec['loss']:.4f} [{parts}] "
          f"{rec['samples_per_s']:.1f} samples/s {rec['tokens_per_s']:.0f} tok/s "
          f"mfu {rec['mfu']:.2%} gates {rec['gate_attn']:.4f}/{rec['gate_ffw']:.4f} "
          f"data-wait {rec['data_wait']:.0%}", flush=True)
