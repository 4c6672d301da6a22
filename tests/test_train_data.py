"""Loaders: token layout per source, counters for what they cannot use, determinism, resume."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from tests.train_fixtures import write_fixture
from train.loader import Prefetcher, SourceLoader, make_builder
from train.samples import InterleavedBuilder
from train.shards import ShardStream, TarSample, read_manifest
from train.tokens import add_flamingo_tokens, train_tiny_tokenizer


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    manifest = write_fixture(tmp_path_factory.mktemp("shards"), broken=True)
    specs = read_manifest(manifest)
    tok = train_tiny_tokenizer(["a photo of a red square. the small house stood near a river"]
                               * 20, vocab_size=300)
    ids = add_flamingo_tokens(tok)
    return specs, tok, ids


def loader(setup, name, batch=4, seed=0, max_len=48, rank=0, world=1):
    specs, tok, ids = setup
    b = make_builder(specs[name].kind, tok, ids, 32, max_len=max_len, pair_max_len=24,
                     max_images=5, p_next=0.5, frames=3)
    return SourceLoader(specs[name], b, ids, batch, seed, rank, world)


def test_manifest_sources(setup):
    specs, _, _ = setup
    assert set(specs) == {"interleaved", "alt_text", "image_text", "video_text"}
    assert specs["alt_text"].weight == 0.2 and all(p.exists() for p in specs["alt_text"].shards)


def test_pair_layout_and_counters(setup):
    _, _, ids = setup
    lo = loader(setup, "alt_text")
    batches = [lo.next_batch() for _ in range(10)]  # > one epoch: the broken pairs are met
    b = batches[0]
    row = b["input_ids"][0][b["attention_mask"][0].bool()].tolist()
    assert row[:2] == [ids.bos, ids.image] and row[-2:] == [ids.eoc, ids.eos]
    assert b["media"].shape == (4, 1, 1, 3, 32, 32) and b["media"].dtype == torch.uint8
    assert (b["labels"][b["input_ids"] == ids.image] == -100).all()
    assert lo.counters["image_undecodable"] >= 1 and lo.counters["image_member_missing"] >= 1
    assert lo.counters["samples_unusable"] == (lo.counters["image_undecodable"]
                                               + lo.counters["image_member_missing"])


def test_interleaved_window(setup):
    _, _, ids = setup
    lo = loader(setup, "interleaved", max_len=48)
    for _ in range(8):
        b = lo.next_batch()
        assert b["input_ids"].shape[1] <= 48
        for i in range(b["input_ids"].shape[0]):
            row = b["input_ids"][i][b["attention_mask"][i].bool()].tolist()
            assert row[0] == ids.bos and row.count(ids.bos) == 1
            n_img = row.count(ids.image)
            assert n_img == int(b["media_mask"][i].sum()) <= 5
            assert b["media_mask"][i, :n_img].all()  # present images come first
            for p, t in enumerate(row):
                if t == ids.image and p > 1:
                    assert row[p - 1] == ids.eoc
    assert lo.counters["image_member_missing"] >= 1


def test_interleaved_keeps_five_images_and_ignores_literal_tokens(setup):
    _, tok, ids = setup
    nodes = [{"type": "text", "text": "see <image> here <EOC>"}]
    members = {}
    for k in range(7):
        nodes += [{"type": "image", "member": f"{k:03d}.jpg"}, {"type": "text", "text": "x"}]
        members[f"{k:03d}.jpg"] = _jpeg()
    members["json"] = json.dumps({"nodes": nodes}).encode()
    from collections import Counter

    counters = Counter()
    item = InterleavedBuilder(tok, ids, 32, max_len=256)(TarSample("k", "s", members),
                                                         np.random.default_rng(0), counters)
    assert item.ids.count(ids.image) == len(item.media) == 5
    assert counters["images_over_limit"] == 2
    assert item.ids[-1] == ids.eoc  # the document's end


def _jpeg() -> bytes:
    import io

    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (40, 20), (200, 10, 10)).save(buf, "JPEG")
    return buf.getvalue()


def test_video_frames(setup):
    b = loader(setup, "video_text", batch=2).next_batch()
    assert b["media"].shape == (2, 1, 3, 3, 32, 32)


def _same(a, b):
    return all(torch.equal(a[k], b[k]) for k in a)


@pytest.mark.parametrize("name", ["interleaved", "alt_text"])
def test_deterministic_and_exact_resume(setup, name):
    a, b = loader(setup, name), loader(setup, name)
    for _ in range(5):
        assert _same(a.next_batch(), b.next_batch())
    state = json.loads(json.dumps(a.state_dict(), default=int))  # survives serialisation
    expected = [a.next_batch() for _ in range(7)]
    c = loader(setup, name)
    c.load_state_dict(state)
    assert all(_same(e, c.next_batch()) for e in expected)
    assert c.counters == a.counters
    other = loader(setup, name, seed=1)
    assert not all(_same(e, other.next_batch()) for e in expected)


def test_prefetcher_state_is_that_of_the_consumed_batch(setup):
    plain = loader(setup, "alt_text")
    pre = Prefetcher(loader(setup, "alt_text"), depth=3)
    try:
        for _ in range(3):
            assert _same(plain.next_batch(), pre.next_batch())
        state = pre.state_dict()
    finally:
        pre.close()
    assert state["stream"] == plain.state_dict()["stream"]


def test_ranks_split_samples(setup):
    specs, _, _ = setup
    shards = specs["alt_text"].shards
    streams = [ShardStream(shards, 0, r, 2) for r in range(2)]
    keys = [{s.next().key for _ in range(16)} for s in streams]
    assert not keys[0] & keys[1] and len(keys[0] | keys[1]) == 32
