"""The model's invariants: gates at 0 give the frozen LM, masking, frozen weights, NaN safety."""

from __future__ import annotations

import os

import pytest
import torch

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from tests.train_fixtures import EOC_ID, IMAGE_ID, VOCAB, tiny_flamingo  # noqa: E402
from train.model import MaskedCrossAttention, decoder_layers, lm_loss, media_index  # noqa: E402


def _media(b: int, n: int, size: int, t: int = 1, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, 256, (b, n, t, 3, size, size), generator=g, dtype=torch.uint8)


def _ids(*parts: list[int]) -> torch.Tensor:
    return torch.tensor([sum(parts, [])])


def _open_gates(model, value: float = 1.0) -> None:
    with torch.no_grad():
        for block in model.blocks:
            block.attn_gate.fill_(value)
            block.ff_gate.fill_(value)


@pytest.mark.parametrize("family", ["gpt2", "opt", "llama", "neox"])
def test_gates_at_zero_give_the_frozen_lm(family):
    model, size = tiny_flamingo(family, every=1)
    assert len(model.blocks) == len(decoder_layers(model.lm)) == 2
    text = torch.randint(3, VOCAB, (2, 12), generator=torch.Generator().manual_seed(1))
    media = _media(2, 1, size)
    mask = torch.ones(2, 1, dtype=torch.bool)
    with torch.no_grad():
        ours = model(text, torch.ones_like(text), media, mask)
        ref = model.lm(text).logits
        assert torch.allclose(ours[..., :VOCAB], ref, atol=1e-5)
        # With <image> tokens in the text: the blocks are still the identity.
        ids = _ids([0, 5, 6], [IMAGE_ID], [7, 8, EOC_ID, 9])
        ours = model(ids, None, media[:1], mask[:1])
        ref = model.lm(inputs_embeds=model.embed(ids)).logits
        assert torch.allclose(ours[..., :VOCAB], ref, atol=1e-5)
    assert ours.shape[-1] == VOCAB + 2


def test_xattn_every_k_layers_from_the_first():
    model, _ = tiny_flamingo("llama", every=2)
    layers = decoder_layers(model.lm)
    assert hasattr(layers[0], "xattn") and not hasattr(layers[1], "xattn")


def test_media_index_previous_and_next():
    ids = _ids([0, 5], [IMAGE_ID], [6, 7], [IMAGE_ID], [8])
    prev = media_index(ids, IMAGE_ID, torch.tensor([2]))
    nxt = media_index(ids, IMAGE_ID, torch.tensor([2]), torch.tensor([True]))
    assert prev.tolist() == [[-1, -1, 0, 0, 0, 1, 1]]
    assert nxt.tolist() == [[0, 0, 0, 1, 1, 1, -1]]
    # an <image> whose picture is not in the batch (count 1) ties nothing
    assert media_index(ids, IMAGE_ID, torch.tensor([1])).tolist() == [[-1, -1, 0, 0, 0, -1, -1]]


def test_cross_attention_sees_only_its_image_and_zero_without():
    torch.manual_seed(0)
    attn = MaskedCrossAttention(dim=16, dim_visual=8, heads=2, dim_head=8)
    x = torch.randn(1, 7, 16)
    media = torch.randn(1, 3, 4, 8)
    idx = torch.tensor([[-1, -1, 0, 0, 1, 2, 2]])
    out = attn(x, media, idx)
    assert torch.isfinite(out).all()
    assert torch.equal(out[0, :2], torch.zeros(2, 16))
    for k in range(3):
        changed = media.clone()
        changed[0, k] += 1.0
        diff = (attn(x, changed, idx) - out).abs().sum(-1)[0]
        assert ((diff > 0) == (idx[0] == k)).all(), (k, diff)


def test_perturbing_an_image_changes_its_positions_and_only_later_ones():
    model, size = tiny_flamingo("gpt2")
    _open_gates(model)
    ids = _ids([0, 5, 6], [EOC_ID, IMAGE_ID], [7, 8, 9], [EOC_ID, IMAGE_ID], [10, 11],
               [EOC_ID, IMAGE_ID], [12, 13])
    media = _media(1, 3, size)
    mask = torch.ones(1, 3, dtype=torch.bool)
    phi = media_index(ids, IMAGE_ID, mask.sum(1))[0]
    with torch.no_grad():
        base = model(ids, None, media, mask)
        for k in range(3):
            changed = media.clone()
            changed[0, k] = 255 - changed[0, k]
            diff = (model(ids, None, changed, mask) - base).abs().amax(-1)[0]
            first = int((phi == k).nonzero()[0])
            assert torch.equal(diff[:first], torch.zeros(first)), k
            assert (diff[phi == k] > 1e-6).all(), k
    # tied to the next image instead: the text before image k now sees it
    nxt = media_index(ids, IMAGE_ID, mask.sum(1), torch.tensor([True]))[0]
    with torch.no_grad():
        base = model(ids, None, media, mask, torch.tensor([True]))
        changed = media.clone()
        changed[0, 1] = 255 - changed[0, 1]
        diff = (model(ids, None, changed, mask, torch.tensor([True])) - base).abs().amax(-1)[0]
    first = int((nxt == 1).nonzero()[0])
    assert torch.equal(diff[:first], torch.zeros(first)) and (diff[nxt == 1] > 1e-6).all()


def test_padding_images_never_reach_the_vision_encoder():
    model, size = tiny_flamingo("gpt2")
    seen = []
    model.vision.register_forward_hook(lambda m, inp, out: seen.append(inp[0].shape[0]))
    ids = torch.tensor([[0, IMAGE_ID, 5, 6, EOC_ID, IMAGE_ID, 7], [0, IMAGE_ID, 5, 6, 1, 1, 1]])
    mask = torch.tensor([[True, True, False], [True, False, False]])
    media = _media(2, 3, size, t=2)
    with torch.no_grad():
        model(ids, None, media, mask)
    assert seen == [3 * 2]  # 3 present images x 2 frames, not 6 slots x 2
    seen.clear()
    with torch.no_grad():  # no image at all: the encoder is not called
        model(ids, None, media, torch.zeros_like(mask))
    assert seen == []


def test_window_ending_in_image_and_all_masked_labels_are_finite():
    model, size = tiny_flamingo("gpt2")
    _open_gates(model, 0.5)
    ids = torch.tensor([[0, 5, 6, EOC_ID, IMAGE_ID], [0, 5, 6, 7, 8]])
    labels = ids.masked_fill(ids == IMAGE_ID, -100)
    labels[1] = -100
    mask = torch.tensor([[True], [False]])
    logits = model(ids, torch.ones_like(ids), _media(2, 1, size), mask)
    loss, n = lm_loss(logits, labels)
    loss.backward()
    assert torch.isfinite(loss) and n == 3
    assert all(torch.isfinite(p.grad).all() for p in model.parameters() if p.grad is not None)
    empty, n = lm_loss(logits.detach(), torch.full_like(ids, -100))
    assert float(empty) == 0.0 and n == 0


def test_time_embeddings_interpolate_for_other_frame_counts():
    model, _ = tiny_flamingo("gpt2")
    res = model.resampler
    assert torch.equal(res.time_embedding(4), res.time_embs)
    three = res.time_embedding(3)
    assert three.shape == (3, res.time_embs.shape[1])
    assert torch.allclose(three[0], res.time_embs[0])
    assert torch.allclose(three[-1], res.time_embs[-1])
    assert res(torch.randn(2, 6, 5, res.time_embs.shape[1])).shape == (2, 8, 64)


def test_only_trainable_weights_change():
    from train.optim import make_optimizer

    model, size = tiny_flamingo("gpt2")
    frozen = {n: p.detach().clone() for n, p in model.named_parameters() if not p.requires_grad}
    emb_before = model.embed_new.detach().clone()
    opt = make_optimizer(model, lr=1e-2)
    ids = torch.tensor([[0, IMAGE_ID, 5, 6, EOC_ID, 1]] * 2)
    labels = ids.masked_fill(ids == IMAGE_ID, -100)
    for _ in range(3):
        opt.zero_grad()
        loss, _ = lm_loss(model(ids, None, _media(2, 1, size), torch.ones(2, 1, dtype=bool)),
                          labels)
        loss.backward()
        assert all(p.grad is None for p in model.parameters() if not p.requires_grad)
        opt.step()
    after = dict(model.named_parameters())
    assert all(torch.equal(v, after[n]) for n, v in frozen.items())
    assert not torch.equal(model.embed_new, emb_before)
    names = {n for n, p in model.named_parameters() if p.requires_grad}
    assert names and all(n.startswith("resampler.") or ".xattn." in n
                         or n in ("embed_new", "unembed_new") for n in names)
    assert any(abs(float(b.attn_gate.detach())) > 0 for b in model.blocks)


def test_activation_checkpointing_gives_the_same_gradients():
    grads = []
    for ckpt in (False, True):
        model, size = tiny_flamingo("llama", every=2, checkpoint=ckpt)
        _open_gates(model, 0.5)
        model.train()
        ids = torch.tensor([[0, IMAGE_ID, 5, 6, EOC_ID, 7, 8]] * 2)
        loss, _ = lm_loss(model(ids, None, _media(2, 1, size), torch.ones(2, 1, dtype=bool)),
                          ids)
        loss.backward()
        grads.append(torch.cat([p.grad.flatten() for p in model.parameters()
                                if p.grad is not None]))
    assert torch.allclose(grads[0], grads[1], atol=1e-6)
