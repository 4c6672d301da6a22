"""The training loop end to end on generated shards: learning, metrics, checkpoints, resume."""

from __future__ import annotations

import argparse
import json
import os

import pytest
import torch

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from tests.train_fixtures import write_fixture  # noqa: E402
from train.cli import add_arguments, resolve  # noqa: E402
from train.trainer import train  # noqa: E402


@pytest.fixture(scope="module")
def manifest(tmp_path_factory):
    return write_fixture(tmp_path_factory.mktemp("shards"), broken=True)


def args_for(manifest, out, *extra: str) -> argparse.Namespace:
    p = argparse.ArgumentParser()
    add_arguments(p)
    return resolve(p.parse_args(["--manifest", str(manifest), "--output", str(out),
                                 "--device", "cpu", "--model", "tiny", "--log-every", "50",
                                 *extra]))


def test_loss_falls_and_gates_open(manifest, tmp_path):
    # The small batch and length of the resume test keep this test quick; learning still shows.
    hist = train(args_for(manifest, tmp_path / "run", "--steps", "120", "--sources", "alt_text",
                          "--batch-size", "2", "--max-len", "48", "--prefetch", "1"))
    losses = [h["loss_alt_text"] for h in hist]
    first, last = sum(losses[:10]) / 10, sum(losses[-10:]) / 10
    assert last < 0.5 * first, (first, last)
    assert hist[-1]["gate_attn"] > 1e-3 and hist[-1]["gate_ffw"] > 1e-3
    lines = (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()
    rec = json.loads(lines[-1])
    assert len(lines) == 120 and rec["step"] == 120
    for key in ("loss", "loss_alt_text", "samples_per_s", "tokens_per_s", "mfu", "gate_attn",
                "gate_ffw", "data_wait", "lr", "grad_norm"):
        assert key in rec
    assert rec["data"]["alt_text"]["image_undecodable"] > 0  # counted, not silently dropped


class Killed(Exception):
    pass


def test_resume_gives_the_same_losses(manifest, tmp_path):
    common = ("--batch-size", "2", "--max-len", "48", "--prefetch", "1")
    full = train(args_for(manifest, tmp_path / "full", "--steps", "30", *common))
    assert {"loss_interleaved", "loss_alt_text", "loss_image_text", "loss_video_text"} <= set(
        full[0])
    # 20 steps, then resume to 30
    train(args_for(manifest, tmp_path / "split", "--steps", "20", *common))
    ckpt = torch.load(tmp_path / "split" / "checkpoint.pt", weights_only=False)
    assert ckpt["step"] == 20 and all(k.startswith("resampler.") or ".xattn." in k
                                      or k in ("embed_new", "unembed_new") for k in ckpt["model"])
    rest = train(args_for(manifest, tmp_path / "split", "--steps", "30", "--resume", *common))
    # killed after step 25 with checkpoints every 10: resumes from 20
    def kill(step, rec):
        if step == 25:
            raise Killed

    with pytest.raises(Killed):
        train(args_for(manifest, tmp_path / "kill", "--steps", "30", "--save-every", "10",
                       *common), on_step=kill)
    again = train(args_for(manifest, tmp_path / "kill", "--steps", "30", "--resume", *common))
    assert [h["step"] for h in rest] == [h["step"] for h in again] == list(range(21, 31))
    keys = [k for k in full[0] if k.startswith("loss")]
    for a, b, c in zip(full[20:], rest, again):
        for k in keys:
            assert abs(a[k] - b[k]) <= 1e-6 and abs(a[k] - c[k]) <= 1e-6, (a["step"], k)
    logged = [json.loads(x)["step"] for x in
              (tmp_path / "kill" / "metrics.jsonl").read_text().splitlines()]
    assert logged == list(range(1, 31))


def test_round_robin_and_weight_overrides(manifest, tmp_path):
    hist = train(args_for(manifest, tmp_path / "rr", "--steps", "4", "--round-robin",
                          "--batch-size", "2", "--max-len", "48",
                          "--weights", "interleaved=0.5,video_text=0"))
    assert [sorted(k for k in h if k.startswith("loss_")) for h in hist] == [
        ["loss_interleaved"], ["loss_alt_text"], ["loss_image_text"], ["loss_interleaved"]]
    assert abs(hist[0]["loss"] - 0.5 * hist[0]["loss_interleaved"]) < 1e-9
