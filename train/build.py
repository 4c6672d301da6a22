"""Building the pieces a run needs: tokenizer, frozen LM, frozen vision encoder, Flamingo.

`--model tiny` builds random tiny models offline (GPT-2 shape, the tiny open_clip config in
train/configs) and a BPE tokenizer trained on the shards' own texts. Otherwise `--lm` names a
Hugging Face causal LM and `--vision`/`--vision-pretrained` an open_clip model.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from torch import nn

import train.compat  # noqa: F401  (before open_clip: torchvision under a CPU torch)
from train.model import Flamingo, FlamingoConfig
from train.shards import SourceSpec, index_tar
from train.tokens import SpecialIds, add_flamingo_tokens, train_tiny_tokenizer

CONFIG_DIR = Path(__file__).parent / "configs"
TINY_VISION = "m3w-tiny-vit"
TINY_LM = {"n_layer": 4, "n_embd": 64, "n_head": 4, "initializer_range": 0.1}
TINY_FLAMINGO = {"resampler_depth": 2, "num_latents": 16, "heads": 4, "dim_head": 16,
                 "ff_mult": 2}


def shard_texts(specs: dict[str, SourceSpec], limit: int = 2000) -> list[str]:
    """Texts (document text nodes, captions) from the first shards of each source."""
    texts: list[str] = []
    for spec in specs.values():
        n = 0
        for shard in spec.shards:
            with open(shard, "rb") as f:
                for _, members in index_tar(shard):
                    for ext in ("json", "txt"):
                        if ext not in members or n >= limit:
                            continue
                        f.seek(members[ext][0])
                        raw = f.read(members[ext][1]).decode("utf-8", errors="replace")
                        if ext == "txt":
                            texts.append(raw)
                        elif spec.kind == "interleaved":
                            nodes = json.loads(raw).get("nodes", [])
                            texts.extend(x.get("text", "") for x in nodes
                                         if x.get("type") == "text")
                        n += 1
            if n >= limit:
                break
    return texts


def build_tokenizer(args, specs: dict[str, SourceSpec], run_dir: Path) -> tuple[object, int,
                                                                              SpecialIds]:
    """(tokenizer with <image>/<EOC>, the LM's vocabulary size before them, their ids).

    The tokenizer is saved under RUN/tokenizer before the Flamingo tokens are added, and a
    resumed run loads it from there, so ids never shift between runs.
    """
    from transformers import AutoTokenizer

    saved = run_dir / "tokenizer"
    if saved.exists():
        tok = AutoTokenizer.from_pretrained(saved)
    elif args.model == "tiny" or not (args.tokenizer or args.lm):
        tok = train_tiny_tokenizer(shard_texts(specs), vocab_size=args.tiny_vocab)
    else:
        tok = AutoTokenizer.from_pretrained(args.tokenizer or args.lm)
    if not saved.exists() and args.rank == 0:
        tok.save_pretrained(saved)
    base_vocab = len(tok)
    return tok, base_vocab, add_flamingo_tokens(tok)


def build_lm(args, vocab_size: int, ids: SpecialIds) -> nn.Module:
    from transformers import AutoModelForCausalLM, GPT2Config, GPT2LMHeadModel

    if args.model == "tiny":
        cfg = GPT2Config(vocab_size=vocab_size, n_positions=max(512, args.max_len),
                         resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0, bos_token_id=ids.bos,
                         eos_token_id=ids.eos, pad_token_id=ids.pad, **TINY_LM)
        return GPT2LMHeadModel(cfg)
    if args.lm_config:  # a shape, random weights (benchmarks)
        from transformers import AutoConfig

        spec = dict(args.lm_config)
        cfg = AutoConfig.for_model(spec.pop("model_type"), **spec)
        if cfg.vocab_size < vocab_size:
            cfg.vocab_size = vocab_size
        return AutoModelForCausalLM.from_config(cfg)
    return AutoModelForCausalLM.from_pretrained(args.lm, dtype=torch.float32)


def build_vision(name: str, pretrained: str | None) -> tuple[nn.Module, int, int, tuple, tuple]:
    """(visual tower returning patch tokens, token width, image size, mean, std)."""
    import open_clip

    if TINY_VISION not in open_clip.list_models():
        open_clip.add_model_config(CONFIG_DIR)
    model = open_clip.create_model(name, pretrained=pretrained or None)
    pre = open_clip.get_model_preprocess_cfg(model)
    visual = model.visual
    visual.output_tokens = True
    size = pre["size"][0] if isinstance(pre["size"], (tuple, list)) else pre["size"]
    width = getattr(getattr(visual, "transformer", None), "width", None)
    if width is None:  # not a ViT: ask the tower itself
        with torch.no_grad():
            width = visual(torch.zeros(1, 3, size, size))[1].shape[-1]
    return visual, int(width), int(size), tuple(pre["mean"]), tuple(pre["std"])


def flamingo_config(args) -> FlamingoConfig:
    base = dict(TINY_FLAMINGO) if args.model == "tiny" else {}
    for key in ("resampler_depth", "num_latents", "xattn_every"):
        if getattr(args, key, None) is not None:
            base[key] = getattr(args, key)
    return FlamingoConfig(num_frames=args.frames, checkpoint=args.grad_checkpointing,
                          **base)


def build_model(args, base_vocab: int, ids: SpecialIds) -> tuple[Flamingo, int]:
    """The Flamingo model on the CPU, and the image size its loaders must produce.

    Seeded, so the random frozen weights of a tiny model are the same when a run resumes.
    """
    torch.manual_seed(args.seed)
    lm = build_lm(args, base_vocab, ids)
    vision_name = TINY_VISION if args.model == "tiny" else args.vision
    visual, width, size, mean, std = build_vision(vision_name, args.vision_pretrained)
    model = Flamingo(lm, visual, width, [ids.image, ids.eoc], ids.image, flamingo_config(args),
                     image_mean=mean, image_std=std)
    return model, size
