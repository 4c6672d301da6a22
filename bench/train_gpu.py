"""Training throughput at a realistic size: a 1B-class LM (Llama-3.2-1B shape, random weights)
and a ViT-L/14 vision encoder (random weights), on synthetic shards or a real build.

    python bench/train_gpu.py                          # GPU, synthetic shards
    python bench/train_gpu.py --manifest DIR/manifest.json --steps 50
    python bench/train_gpu.py --device cpu --tiny      # smoke check anywhere
    torchrun --nproc-per-node 8 bench/train_gpu.py     # data parallel

Reports samples/s, tokens/s, step time, MFU, peak GPU memory and the share of step time spent
waiting for the loader (data_wait), averaged over the steps after --skip warm-up steps.
Writes the summary as JSON to --out (default: RUN/bench.json).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

LLAMA_1B = {"model_type": "llama", "hidden_size": 2048, "intermediate_size": 8192,
            "num_hidden_layers": 16, "num_attention_heads": 32, "num_key_value_heads": 8,
            "vocab_size": 128256, "max_position_embeddings": 2048, "rope_theta": 500000.0,
            "tie_word_embeddings": True}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--manifest", help="a real build (default: synthetic shards)")
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--tiny", action="store_true", help="tiny models: a smoke check")
    ap.add_argument("--steps", type=int, default=30)
    ap.add_argument("--skip", type=int, default=5, help="warm-up steps left out of the figures")
    ap.add_argument("--xattn-every", type=int, default=4)
    ap.add_argument("--batch-size", type=int, default=None, help="per source (default 8; tiny 2)")
    ap.add_argument("--prefetch", type=int, default=4)
    ap.add_argument("--grad-checkpointing", action="store_true")
    ap.add_argument("--output", default=None, help="run folder (default: a temporary one)")
    ap.add_argument("--out", default=None, help="summary JSON path")
    opts = ap.parse_args()

    from tests.train_fixtures import write_fixture
    from train.cli import add_arguments, resolve
    from train.trainer import train

    work = Path(opts.output or tempfile.mkdtemp(prefix="m3w-bench-"))
    manifest = opts.manifest
    if manifest is None:
        n = 8 if opts.tiny else 200
        manifest = str(write_fixture(work / "shards", docs=n, pairs=4 * n, videos=n // 2,
                                     shards=4, frames=8, px=48 if opts.tiny else 320))
    batch = opts.batch_size or (2 if opts.tiny else 8)
    argv = ["--manifest", manifest, "--output", str(work / "run"), "--device", opts.device,
            "--steps", str(opts.steps), "--batch-size", str(batch), "--prefetch",
            str(opts.prefetch), "--log-every", "5"]
    if opts.tiny:
        argv += ["--model", "tiny"]
    else:
        argv += ["--lm-config", json.dumps(LLAMA_1B), "--vision", "ViT-L-14",
                 "--xattn-every", str(opts.xattn_every), "--frames", "8"]
    if opts.grad_checkpointing:
        argv.append("--grad-checkpointing")
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    history = train(resolve(parser.parse_args(argv)))
    if int(os.environ.get("RANK", "0")) != 0:
        return 0
    timed = history[opts.skip:] or history

    def mean(key: str) -> float | None:
        vals = [h[key] for h in timed if h.get(key) is not None]
        return statistics.fmean(vals) if vals else None

    summary = {"device": opts.device, "tiny": opts.tiny, "steps_timed": len(timed),
               "batch_per_source": batch, "world": int(os.environ.get("WORLD_SIZE", "1")),
               "step_time_s": mean("step_time"), "samples_per_s": mean("samples_per_s"),
               "tokens_per_s": mean("tokens_per_s"), "tflops": mean("tflops"),
               "mfu": mean("mfu"), "data_wait_share": mean("data_wait"),
               "peak_mem_gb": max((h.get("peak_mem_gb") or 0.0) for h in history) or None,
               "final_loss": history[-1]["loss"]}
    if not opts.tiny:
        summary["lm"] = "llama-1b shape (random)"
        summary["vision"] = "ViT-L-14 (random)"
    out = Path(opts.out or work / "bench.json")
    out.write_text(json.dumps(summary, indent=1))
    print(json.dumps(summary, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
