"""`m3w train`: train the gated cross-attention model on a build's shards.

    m3w train --manifest DIR/manifest.json --model tiny --steps 200 --output RUN [--device cpu]
    m3w train --manifest ... --lm EleutherAI/pythia-1b --vision ViT-L-14 \
        --vision-pretrained openai --output RUN      (torchrun for several GPUs)

pipeline/cli.py calls `add_arguments` on its `train` subparser and `run` on the result;
`python -m train.cli` works on its own.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

SOURCES = ("interleaved", "alt_text", "image_text", "video_text")
# Defaults that depend on the model: a tiny random model learns fast, a real one as Flamingo.
PRESETS = {"tiny": {"lr": 2e-3, "warmup": 10, "frames": 4},
           "hf": {"lr": 1e-4, "warmup": 5000, "frames": 8}}
_DEFAULTS: dict[str, object] = {}


def _add(group, *flags: str, **kw) -> None:
    action = group.add_argument(*flags, **kw)
    _DEFAULTS[action.dest] = action.default


def _weights(text: str) -> dict[str, float]:
    out = {}
    for part in text.split(","):
        name, _, value = part.partition("=")
        out[name.strip()] = float(value)
    return out


def _json_arg(text: str) -> dict:
    """Inline JSON, or the path of a JSON file. Inline text is never stat()-ed: a long JSON
    string is not a valid file name on every Python (ENAMETOOLONG)."""
    if text.lstrip().startswith("{"):
        return json.loads(text)
    return json.loads(Path(text).read_text())


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the `train` options to a parser (or subparser)."""
    g = parser.add_argument_group("run")
    _add(g, "--config", metavar="FILE", help="JSON or YAML of option values (flags win)")
    _add(g, "--manifest", metavar="JSON", help="a build's manifest.json (or its folder)")
    _add(g, "--output", metavar="RUN", help="run folder: metrics.jsonl, checkpoint, tokenizer")
    _add(g, "--steps", type=int, default=100, help="train up to this step (default 100)")
    _add(g, "--resume", action="store_true", help="continue from RUN's last checkpoint")
    _add(g, "--save-every", type=int, default=0, metavar="K",
         help="checkpoint every K steps (always at the end)")
    _add(g, "--device", help="cpu, cuda (default: cuda when available)")
    _add(g, "--seed", type=int, default=0)
    _add(g, "--log-every", type=int, default=1, help="console line every N steps")
    m = parser.add_argument_group("model")
    _add(m, "--model", choices=("tiny", "hf"),
         help="tiny: random tiny GPT-2 + tiny open_clip, offline (default unless --lm)")
    _add(m, "--lm", metavar="NAME_OR_PATH", help="Hugging Face causal LM (GPT-2, OPT, "
         "GPT-NeoX/Pythia, Llama families)")
    _add(m, "--lm-config", type=_json_arg, metavar="JSON_OR_FILE",
         help="a Hugging Face config (with model_type) for a random-weight LM, e.g. to "
         "benchmark a shape; the tokenizer is then trained on the shards unless --tokenizer")
    _add(m, "--tokenizer", metavar="NAME_OR_PATH", help="tokenizer (default: --lm)")
    _add(m, "--vision", default="ViT-L-14", help="open_clip model name (default ViT-L-14)")
    _add(m, "--vision-pretrained", metavar="TAG", help="open_clip pretrained tag (default: "
         "random weights)")
    _add(m, "--xattn-every", type=int, help="gated block before every k-th LM layer (default 1)")
    _add(m, "--resampler-depth", type=int, help="resampler layers (default 6; tiny 2)")
    _add(m, "--num-latents", type=int, help="resampler latents (default 64; tiny 16)")
    _add(m, "--tiny-vocab", type=int, default=512, help="BPE vocabulary of --model tiny")
    d = parser.add_argument_group("data")
    _add(d, "--sources", nargs="+", choices=SOURCES, help="train on these sources only")
    _add(d, "--weights", type=_weights, metavar="SRC=W,...",
         help="override the manifest's loss weights lambda")
    _add(d, "--batch-size", type=int, help="batch size of every source (defaults: "
         "interleaved 4, pairs 8, video 2)")
    for src in SOURCES:
        _add(d, f"--batch-size-{src.replace('_', '-')}", type=int, dest=f"batch_size_{src}",
             metavar="N")
    _add(d, "--max-len", type=int, default=256, help="interleaved window in tokens")
    _add(d, "--pair-max-len", type=int, default=32, help="pair/video sequence cap in tokens")
    _add(d, "--max-images", type=int, default=5, help="images kept per interleaved window")
    _add(d, "--p-next", type=float, default=0.5, help="share of documents whose text is "
         "tied to the next image instead of the previous one")
    _add(d, "--frames", type=int, help="video frames per clip (default 8; tiny 4)")
    _add(d, "--prefetch", type=int, default=0, metavar="N",
         help="batches built ahead in a background thread per source (0: none)")
    o = parser.add_argument_group("optimisation")
    _add(o, "--lr", type=float, help="peak learning rate (default 1e-4; tiny 2e-3)")
    _add(o, "--warmup", type=int, help="linear warmup steps (default 5000; tiny 10)")
    _add(o, "--weight-decay", type=float, default=0.1)
    _add(o, "--clip", type=float, default=1.0, help="global gradient-norm clip")
    _add(o, "--round-robin", action="store_true",
         help="one source per step instead of accumulating all of them")
    _add(o, "--grad-checkpointing", action="store_true", help="activation checkpointing")
    _add(o, "--fsdp", action="store_true", help="shard the model with FSDP (multi-GPU)")
    _add(o, "--frozen-dtype", choices=("bf16", "fp32"), default="bf16",
         help="storage of frozen weights on GPU (CPU: always fp32)")
    _add(o, "--peak-tflops", type=float, help="peak of the device, for MFU")


def _load_config(path: str) -> dict:
    text = Path(path).read_text()
    if path.endswith((".yaml", ".yml")):
        import yaml

        return yaml.safe_load(text) or {}
    return json.loads(text)


def resolve(args: argparse.Namespace) -> argparse.Namespace:
    """Apply --config (where a flag was left at its default), then the model preset."""
    if args.config:
        for key, value in _load_config(args.config).items():
            dest = key.replace("-", "_")
            if dest not in _DEFAULTS:
                raise SystemExit(f"{args.config}: unknown option {key!r}")
            if getattr(args, dest, None) == _DEFAULTS[dest]:
                setattr(args, dest, _weights(value) if dest == "weights" and
                        isinstance(value, str) else value)
    if args.model is None:
        args.model = "hf" if args.lm or args.lm_config else "tiny"
    if args.model == "hf" and not (args.lm or args.lm_config):
        raise SystemExit("--model hf needs --lm NAME_OR_PATH (or --lm-config)")
    for key, value in PRESETS[args.model].items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    if not args.manifest or not args.output:
        raise SystemExit("m3w train needs --manifest and --output")
    return args


def run(args: argparse.Namespace) -> int:
    """Run `m3w train`; 0 on success."""
    import os

    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    from train.trainer import train

    history = train(resolve(args))
    if history and getattr(args, "rank", 0) == 0:
        last = history[-1]
        print(f"done: step {last['step']} loss {last['loss']:.4f} -> {args.output}/metrics.jsonl")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="m3w train", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
