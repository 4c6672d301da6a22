"""Flamingo: a frozen vision encoder and a frozen causal LM, joined by a Perceiver Resampler and
GATED XATTN-DENSE blocks. One file, read top to bottom:

    images/frames --frozen ViT--> patch tokens --PerceiverResampler--> 64 visual tokens per image
    text ids --frozen embeddings (+ trainable <image>/<EOC> rows)--> hidden states
    for each frozen decoder layer i: if i % every == 0, a gated cross-attention block runs first
    hidden --frozen final norm, frozen lm head (+ trainable rows for the new tokens)--> logits

At initialisation every gate is tanh(0) = 0, so the logits are exactly the frozen LM's.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.utils.checkpoint import checkpoint


@dataclass
class FlamingoConfig:
    xattn_every: int = 1  # a gated block before every k-th LM layer, from the first
    resampler_depth: int = 6
    num_latents: int = 64
    num_frames: int = 8  # frames the time embeddings are learned for (interpolated otherwise)
    heads: int = 8
    dim_head: int = 64
    ff_mult: int = 4
    checkpoint: bool = False  # activation checkpointing, layer by layer (frozen layers too)


def _split_heads(t: Tensor, heads: int) -> Tensor:
    b, n, hd = t.shape
    return t.view(b, n, heads, hd // heads).transpose(1, 2)


def _merge_heads(t: Tensor) -> Tensor:
    b, h, n, d = t.shape
    return t.transpose(1, 2).reshape(b, n, h * d)


def feed_forward(dim: int, mult: int) -> nn.Sequential:
    return nn.Sequential(nn.LayerNorm(dim), nn.Linear(dim, dim * mult, bias=False), nn.GELU(),
                         nn.Linear(dim * mult, dim, bias=False))


# ---------------------------------------------------------------------------------------------
# Perceiver Resampler: a fixed number of latents read a variable number of visual features.


class PerceiverAttention(nn.Module):
    def __init__(self, dim: int, heads: int, dim_head: int):
        super().__init__()
        inner = heads * dim_head
        self.heads = heads
        self.norm_media = nn.LayerNorm(dim)
        self.norm_latents = nn.LayerNorm(dim)
        self.to_q = nn.Linear(dim, inner, bias=False)
        self.to_kv = nn.Linear(dim, 2 * inner, bias=False)
        self.to_out = nn.Linear(inner, dim, bias=False)

    def forward(self, x: Tensor, latents: Tensor) -> Tensor:
        x, latents = self.norm_media(x), self.norm_latents(latents)
        q = self.to_q(latents)
        # Keys/values: the visual features and the latents themselves (Flamingo, appendix A.1).
        k, v = self.to_kv(torch.cat([x, latents], dim=1)).chunk(2, dim=-1)
        h = self.heads
        out = F.scaled_dot_product_attention(_split_heads(q, h), _split_heads(k, h),
                                             _split_heads(v, h))
        return self.to_out(_merge_heads(out))


class PerceiverResampler(nn.Module):
    def __init__(self, dim: int, depth: int = 6, num_latents: int = 64, heads: int = 8,
                 dim_head: int = 64, ff_mult: int = 4, num_frames: int = 8):
        super().__init__()
        self.latents = nn.Parameter(torch.randn(num_latents, dim) * 0.02)
        self.time_embs = nn.Parameter(torch.randn(num_frames, dim) * 0.02)
        self.layers = nn.ModuleList(
            nn.ModuleList([PerceiverAttention(dim, heads, dim_head), feed_forward(dim, ff_mult)])
            for _ in range(depth))
        self.norm = nn.LayerNorm(dim)

    def time_embedding(self, frames: int) -> Tensor:
        """(frames, dim): the learned embeddings, linearly interpolated for another frame count.

        A still image is a one-frame video and takes the first embedding.
        """
        emb = self.time_embs
        if frames == emb.shape[0]:
            return emb
        if frames == 1:
            return emb[:1]
        return F.interpolate(emb.T[None], size=frames, mode="linear", align_corners=True)[0].T

    def forward(self, x: Tensor) -> Tensor:
        """x: (n, T, P, dim) patch tokens of n images/videos of T frames -> (n, latents, dim)."""
        n, t, p, d = x.shape
        x = (x + self.time_embedding(t).to(x.dtype)[None, :, None]).reshape(n, t * p, d)
        latents = self.latents.expand(n, -1, -1)
        for attn, ff in self.layers:
            latents = latents + attn(x, latents)
            latents = latents + ff(latents)
        return self.norm(latents)


# ---------------------------------------------------------------------------------------------
# Gated cross-attention: text queries, visual keys/values, masked so a token sees one image.


def media_index(input_ids: Tensor, image_token_id: int, media_count: Tensor,
                tie_next: Tensor | None = None) -> Tensor:
    """phi: (B, L) index of the image each token cross-attends to, -1 for none.

    By default a token is tied to the last `<image>` at or before it; where `tie_next[b]` is set,
    to the first `<image>` at or after it. An `<image>` token is tied to its own image either way.
    Indices past the sample's `media_count` present images become -1.
    """
    is_img = (input_ids == image_token_id).long()
    seen = is_img.cumsum(dim=1)
    idx = seen - 1
    if tie_next is not None:
        idx = torch.where(tie_next[:, None].bool(), seen - is_img, idx)
    valid = (idx >= 0) & (idx < media_count[:, None])
    return idx.masked_fill(~valid, -1)


class MaskedCrossAttention(nn.Module):
    def __init__(self, dim: int, dim_visual: int, heads: int, dim_head: int):
        super().__init__()
        inner = heads * dim_head
        self.heads = heads
        self.norm = nn.LayerNorm(dim)
        self.to_q = nn.Linear(dim, inner, bias=False)
        self.to_kv = nn.Linear(dim_visual, 2 * inner, bias=False)
        self.to_out = nn.Linear(inner, dim, bias=False)

    def forward(self, x: Tensor, media: Tensor, media_idx: Tensor) -> Tensor:
        """x: (B, L, D) text; media: (B, N, M, Dv) visual tokens; media_idx: (B, L) from phi."""
        b, n, m, _ = media.shape
        q = _split_heads(self.to_q(self.norm(x)), self.heads)
        k, v = self.to_kv(media.reshape(b, n * m, -1)).chunk(2, dim=-1)
        owner = torch.arange(n, device=x.device).repeat_interleave(m)  # image of each key
        allowed = media_idx[:, :, None] == owner[None, None, :]  # (B, L, N*M)
        has_image = media_idx >= 0
        # A row with no allowed key would softmax to NaN: let it attend anywhere, then zero it.
        allowed = allowed | ~has_image[:, :, None]
        out = F.scaled_dot_product_attention(q, _split_heads(k, self.heads),
                                             _split_heads(v, self.heads),
                                             attn_mask=allowed[:, None])
        out = self.to_out(_merge_heads(out))
        return out.masked_fill(~has_image[:, :, None], 0.0)


class GatedXAttnDense(nn.Module):
    """x += tanh(a_attn) * xattn(x, media); x += tanh(a_ffw) * ffw(x). Both alphas start at 0."""

    def __init__(self, dim: int, dim_visual: int, heads: int, dim_head: int, ff_mult: int):
        super().__init__()
        self.attn = MaskedCrossAttention(dim, dim_visual, heads, dim_head)
        self.attn_gate = nn.Parameter(torch.zeros(1))  # 1-D, not scalar: FSDP shards it
        self.ff = feed_forward(dim, ff_mult)
        self.ff_gate = nn.Parameter(torch.zeros(1))

    def forward(self, x: Tensor, media: Tensor | None, media_idx: Tensor | None) -> Tensor:
        dtype = x.dtype
        if media is not None and media_idx is not None:
            x = x + torch.tanh(self.attn_gate) * self.attn(x, media, media_idx)
        x = x + torch.tanh(self.ff_gate) * self.ff(x)
        return x.to(dtype)  # keep the frozen layer's input dtype (bf16 on GPU)


class FlamingoLayer(nn.Module):
    """A frozen LM decoder layer with a gated cross-attention block in front of it (or none).

    The visual context is not an argument (the LM calls its layers with its own signature):
    it is read from `ctx`, a dict the Flamingo model fills for the length of one forward pass.
    Activation checkpointing is done here, not by the LM: the frozen LM stays in eval mode,
    where Hugging Face layers skip their own checkpointing.
    """

    def __init__(self, xattn: GatedXAttnDense | None, decoder_layer: nn.Module, ctx: dict,
                 use_checkpoint: bool = False):
        super().__init__()
        self.xattn = xattn
        self.decoder_layer = decoder_layer
        self.ctx = ctx
        self.use_checkpoint = use_checkpoint

    def _run(self, hidden_states: Tensor, media: Tensor | None, media_idx: Tensor | None,
             *args, **kwargs):
        if self.xattn is not None:
            hidden_states = self.xattn(hidden_states, media, media_idx)
        return self.decoder_layer(hidden_states, *args, **kwargs)

    def forward(self, hidden_states: Tensor, *args, **kwargs):
        # read the context now: a checkpointed recomputation runs after it has been cleared
        media, idx = self.ctx.get("media"), self.ctx.get("media_idx")
        if self.use_checkpoint and torch.is_grad_enabled():
            return checkpoint(self._run, hidden_states, media, idx, *args, use_reentrant=False,
                              **kwargs)
        return self._run(hidden_states, media, idx, *args, **kwargs)

    def __getattr__(self, name: str):
        try:
            return super().__getattr__(name)
        except AttributeError:
            if name == "decoder_layer":
                raise
            return getattr(self.decoder_layer, name)  # LMs read attributes of their layers


# Where each supported family keeps its decoder layers; OPT before Llama (both under `model`).
LAYER_PATHS = ("transformer.h", "model.decoder.layers", "gpt_neox.layers", "model.layers")


def decoder_layers(lm: nn.Module) -> nn.ModuleList:
    for path in LAYER_PATHS:
        mod: object = lm
        for part in path.split("."):
            mod = getattr(mod, part, None)
        if isinstance(mod, nn.ModuleList):
            return mod
    raise ValueError(f"unsupported LM {type(lm).__name__}: no decoder layers at {LAYER_PATHS}")


# ---------------------------------------------------------------------------------------------
# The whole model.


class Flamingo(nn.Module):
    def __init__(self, lm: nn.Module, vision: nn.Module, vision_dim: int,
                 new_token_ids: list[int], image_token_id: int, cfg: FlamingoConfig | None = None,
                 image_mean: tuple[float, ...] = (0.48145466, 0.4578275, 0.40821073),
                 image_std: tuple[float, ...] = (0.26862954, 0.26130258, 0.27577711)):
        super().__init__()
        cfg = cfg or FlamingoConfig()
        self.cfg = cfg
        self.image_token_id = image_token_id
        for p in list(lm.parameters()) + list(vision.parameters()):
            p.requires_grad_(False)
        in_emb, out_emb = lm.get_input_embeddings(), lm.get_output_embeddings()
        dim = in_emb.embedding_dim
        self.resampler = PerceiverResampler(vision_dim, cfg.resampler_depth, cfg.num_latents,
                                            cfg.heads, cfg.dim_head, cfg.ff_mult, cfg.num_frames)
        # The gated blocks live inside the LM's layer list (one owner per module, as FSDP
        # needs); this plain list is a view of them for the gates' statistics.
        self.blocks: list[GatedXAttnDense] = []
        # Only the added tokens' rows train: their own small tables, initialised to the mean row.
        self.register_buffer("new_ids", torch.tensor(new_token_ids), persistent=False)
        k = len(new_token_ids)
        self.embed_new = nn.Parameter(in_emb.weight.detach().float().mean(0).repeat(k, 1))
        self.unembed_new = nn.Parameter(out_emb.weight.detach().float().mean(0).repeat(k, 1))
        self.register_buffer("image_mean", torch.tensor(image_mean).view(1, 3, 1, 1),
                             persistent=False)
        self.register_buffer("image_std", torch.tensor(image_std).view(1, 3, 1, 1),
                             persistent=False)
        self.lm = lm
        self.vision = vision
        self._ctx: dict = {}
        layers = decoder_layers(lm)
        for i in range(len(layers)):
            block = None
            if i % cfg.xattn_every == 0:
                block = GatedXAttnDense(dim, vision_dim, cfg.heads, cfg.dim_head, cfg.ff_mult)
                self.blocks.append(block)
            if block is not None or cfg.checkpoint:
                layers[i] = FlamingoLayer(block, layers[i], self._ctx, cfg.checkpoint)
        self.lm.eval()
        self.vision.eval()

    def train(self, mode: bool = True) -> Flamingo:
        super().train(mode)
        self.lm.eval()  # frozen: no dropout, ever
        self.vision.eval()
        return self

    def embed(self, input_ids: Tensor) -> Tensor:
        is_new = input_ids[..., None] == self.new_ids  # (B, L, K)
        which = is_new.any(-1)
        out = self.lm.get_input_embeddings()(input_ids.masked_fill(which, 0))
        new = is_new.to(out.dtype) @ self.embed_new.to(out.dtype)
        return torch.where(which[..., None], new, out)

    def unembed(self, h: Tensor) -> Tensor:
        logits = self.lm.get_output_embeddings()(h)
        new = F.linear(h, self.unembed_new.to(h.dtype))
        width = max(logits.shape[-1], int(self.new_ids.max()) + 1)
        if width > logits.shape[-1]:
            logits = F.pad(logits, (0, width - logits.shape[-1]))
        return logits.index_copy(-1, self.new_ids, new.to(logits.dtype))

    def encode_media(self, media: Tensor, media_mask: Tensor) -> Tensor:
        """media: (B, N, T, 3, H, W) uint8, media_mask: (B, N) -> (B, N, latents, Dv).

        Only the present images run through the vision encoder: padding slots stay zero.
        """
        b, n = media_mask.shape
        x = media[media_mask]  # (k, T, 3, H, W)
        k, t = x.shape[:2]
        x = x.flatten(0, 1).float().div_(255.0).sub_(self.image_mean).div_(self.image_std)
        with torch.no_grad():
            out = self.vision(x.to(next(self.vision.parameters()).dtype))
        tokens = out[1] if isinstance(out, tuple) else out  # open_clip: (pooled, tokens)
        latents = self.resampler(tokens.reshape(k, t, *tokens.shape[1:]))
        full = latents.new_zeros(b, n, *latents.shape[1:])
        full[media_mask] = latents
        return full

    def forward(self, input_ids: Tensor, attention_mask: Tensor | None = None,
                media: Tensor | None = None, media_mask: Tensor | None = None,
                tie_next: Tensor | None = None) -> Tensor:
        """Logits (B, L, V'), V' covering the LM's vocabulary and the added tokens."""
        visual = idx = None
        if media is not None and media_mask is not None and bool(media_mask.any()):
            visual = self.encode_media(media, media_mask)
            idx = media_index(input_ids, self.image_token_id, media_mask.sum(1), tie_next)
        self._ctx.update(media=visual, media_idx=idx)
        try:
            out = self.lm.base_model(inputs_embeds=self.embed(input_ids),
                                     attention_mask=attention_mask, use_cache=False)
        finally:
            self._ctx.clear()
        return self.unembed(out.last_hidden_state)

    def gate_values(self) -> dict[str, float]:
        """Mean |tanh(alpha)| over the blocks, for the attention and the dense gates."""
        with torch.no_grad():
            attn = torch.stack([b.attn_gate for b in self.blocks]).tanh().abs().mean()
            ffw = torch.stack([b.ff_gate for b in self.blocks]).tanh().abs().mean()
        return {"gate_attn": float(attn), "gate_ffw": float(ffw)}


def lm_loss(logits: Tensor, labels: Tensor) -> tuple[Tensor, int]:
    """Mean next-token loss over labels != -100 (labels aligned with inputs, shifted here).

    A batch with no target at all gives 0 (not NaN) and zero gradients.
    """
    targets = labels[:, 1:].reshape(-1)
    n = int((targets != -100).sum())
    total = F.cross_entropy(logits[:, :-1].reshape(-1, logits.shape[-1]).float(), targets,
                            ignore_index=-100, reduction="sum")
    return total / max(n, 1), n
