"""Deterministic shards in the m3w-wds/1 layout, for the trainer's tests (Pillow + tarfile).

The caption of every image names its colour ("a photo of a red square"), so a model that looks
at the image can predict the colour word: a small learnable task.
"""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path

import numpy as np
from PIL import Image

COLOURS = {"red": (220, 30, 30), "green": (30, 200, 40), "blue": (30, 40, 220),
           "yellow": (230, 220, 30)}
WORDS = ("the small house stood near a quiet river and the people walked along the bank "
         "while birds sang in tall trees under a bright morning sky").split()


def colour_jpeg(colour: str, seed: int, size: int = 48) -> bytes:
    rng = np.random.default_rng(seed)
    base = np.array(COLOURS[colour], dtype=np.int16)
    arr = np.clip(base + rng.integers(-20, 21, (size, size, 3)), 0, 255).astype(np.uint8)
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, "JPEG", quality=90)
    return buf.getvalue()


def _add(tf: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size, info.mtime, info.mode = len(data), 0, 0o644
    tf.addfile(info, io.BytesIO(data))


def _sentence(rng: np.random.Generator, n: int) -> str:
    return " ".join(rng.choice(WORDS, n)) + "."


def _write_shards(folder: Path, source: str, samples: list[list[tuple[str, bytes]]],
                  shards: int) -> list[dict]:
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for s in range(shards):
        part = samples[s::shards]
        path = folder / f"{source}-{s:05d}-000.tar"
        with tarfile.open(path, "w", format=tarfile.USTAR_FORMAT) as tf:
            for members in part:
                for name, data in members:
                    _add(tf, name, data)
        out.append({"path": f"shards/{source}/{path.name}", "samples": len(part)})
    return out


def interleaved_doc(i: int, rng: np.random.Generator, n_images: int, paragraphs: int,
                    broken: str | None = None, px: int = 48) -> list[tuple[str, bytes]]:
    key = f"doc{i:05d}"
    nodes, members = [], []
    colours = list(COLOURS)
    for p in range(paragraphs):
        nodes.append({"type": "text", "text": _sentence(rng, int(rng.integers(8, 20))),
                      "tag": "p"})
        if p < n_images:
            c = colours[int(rng.integers(len(colours)))]
            member = f"{p:03d}.jpg"
            nodes.append({"type": "image", "src": f"http://x/{key}/{p}.jpg", "alt": "",
                          "caption": "", "width": 48, "height": 48, "member": member,
                          "sha256": None})
            nodes.append({"type": "text", "text": f"a photo of a {c} square", "tag": "p"})
            data = colour_jpeg(c, seed=i * 100 + p, size=px)
            if broken == "undecodable" and p == 0:
                data = data[:40]
            if not (broken == "missing" and p == 0):
                members.append((f"{key}.{member}", data))
    doc = {"key": key, "url": f"http://x/{key}", "title": "", "crawl_date": "",
           "source_file": "", "source_offset": -1, "language": "en", "meta": {}, "nodes": nodes}
    return [(f"{key}.json", json.dumps(doc).encode())] + members


def pair_sample(i: int, colour: str, broken: str | None = None,
                px: int = 48) -> list[tuple[str, bytes]]:
    key = f"pair{i:05d}"
    caption = f"a photo of a {colour} square"
    data = colour_jpeg(colour, seed=10_000 + i, size=px)
    if broken == "undecodable":
        data = data[:40]
    meta = {"key": key, "caption": caption, "url": f"http://x/{key}.jpg"}
    out = [(f"{key}.json", json.dumps(meta).encode()), (f"{key}.txt", caption.encode())]
    return out if broken == "missing" else out + [(f"{key}.jpg", data)]


def video_sample(i: int, colour: str, frames: int, px: int = 48) -> list[tuple[str, bytes]]:
    key = f"vid{i:05d}"
    caption = f"a video of a {colour} square"
    meta = {"key": key, "caption": caption, "duration": float(frames), "fps": 1.0,
            "width": 48, "height": 48, "codec": "h264",
            "timestamps": [float(t) for t in range(frames)]}
    out = [(f"{key}.json", json.dumps(meta).encode()), (f"{key}.txt", caption.encode())]
    return out + [(f"{key}.{t:03d}.jpg", colour_jpeg(colour, seed=20_000 + i * 50 + t, size=px))
                  for t in range(frames)]


def write_fixture(root: str | Path, docs: int = 12, pairs: int = 32, videos: int = 8,
                  shards: int = 2, frames: int = 4, broken: bool = False, px: int = 48) -> Path:
    """Write shards for all four sources and a manifest.json under root; return its path.

    broken: one document and one pair with an undecodable image, one of each with a missing
    image member (for the loader's counters).
    """
    root = Path(root)
    rng = np.random.default_rng(0)
    colours = list(COLOURS)
    doc_samples = []
    for i in range(docs):
        kind = ("undecodable" if i == 0 else "missing" if i == 1 else None) if broken else None
        doc_samples.append(interleaved_doc(i, rng, n_images=int(rng.integers(1, 8)),
                                           paragraphs=int(rng.integers(3, 9)), broken=kind,
                                           px=px))
    sources = {}
    specs = [("interleaved", 1.0, doc_samples)]
    for name, weight, offset in (("alt_text", 0.2, 0), ("image_text", 0.2, 5000)):
        items = []
        for i in range(pairs):
            kind = ("undecodable" if i == 0 else "missing" if i == 1 else None) if broken else None
            items.append(pair_sample(offset + i, colours[i % len(colours)], kind, px))
        specs.append((name, weight, items))
    specs.append(("video_text", 0.03,
                  [video_sample(i, colours[i % len(colours)], frames, px)
                   for i in range(videos)]))
    for name, weight, items in specs:
        if not items:
            continue
        listed = _write_shards(root / "shards" / name, name, items, shards)
        sources[name] = {"kind": name, "weight": weight, "samples": len(items), "shards": listed}
    manifest = {"layout": "m3w-wds/1", "config": {}, "config_hash": "sha256:test",
                "versions": {}, "sources": sources}
    path = root / "manifest.json"
    path.write_text(json.dumps(manifest, indent=1))
    return path


# --- tiny models for the model tests ---------------------------------------------------------

VOCAB = 100
IMAGE_ID, EOC_ID = VOCAB, VOCAB + 1


def tiny_lm(family: str, vocab: int = VOCAB):
    """A random 2-layer causal LM of the given family, dropout off."""
    import transformers as tf

    if family == "gpt2":
        cfg = tf.GPT2Config(vocab_size=vocab, n_positions=128, n_embd=32, n_layer=2, n_head=2,
                            resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0)
        return tf.GPT2LMHeadModel(cfg)
    if family == "opt":
        cfg = tf.OPTConfig(vocab_size=vocab, hidden_size=32, num_hidden_layers=2, ffn_dim=64,
                           num_attention_heads=2, max_position_embeddings=128,
                           word_embed_proj_dim=32, dropout=0.0, attention_dropout=0.0,
                           pad_token_id=1, bos_token_id=2, eos_token_id=2)
        return tf.OPTForCausalLM(cfg)
    if family == "llama":
        cfg = tf.LlamaConfig(vocab_size=vocab, hidden_size=32, intermediate_size=64,
                             num_hidden_layers=2, num_attention_heads=2, num_key_value_heads=2,
                             max_position_embeddings=128, bos_token_id=0, eos_token_id=1)
        return tf.LlamaForCausalLM(cfg)
    if family == "neox":
        cfg = tf.GPTNeoXConfig(vocab_size=vocab, hidden_size=32, num_hidden_layers=2,
                               num_attention_heads=2, intermediate_size=64,
                               max_position_embeddings=128, bos_token_id=0, eos_token_id=1)
        return tf.GPTNeoXForCausalLM(cfg)
    raise ValueError(family)


def tiny_flamingo(family: str = "gpt2", every: int = 1, seed: int = 0, checkpoint: bool = False):
    """(Flamingo over a tiny LM and the tiny open_clip tower, image size)."""
    import torch

    from train.build import TINY_VISION, build_vision
    from train.model import Flamingo, FlamingoConfig

    torch.manual_seed(seed)
    lm = tiny_lm(family)
    visual, width, size, mean, std = build_vision(TINY_VISION, None)
    cfg = FlamingoConfig(xattn_every=every, resampler_depth=1, num_latents=8, num_frames=4,
                         heads=2, dim_head=16, ff_mult=2, checkpoint=checkpoint)
    model = Flamingo(lm, visual, width, [IMAGE_ID, EOC_ID], IMAGE_ID, cfg, mean, std)
    return model, size
