"""`m3w demo` (what `make demo` runs): generate a sample site, build it, show it, train on it,
and write its HTML report."""

from __future__ import annotations

import argparse
import json
import os
import time

import yaml

DEMO_CONFIG = {
    "fetch": {
        # The demo's image server runs on this machine: allow loopback explicitly, and only it.
        "allowed_networks": ["127.0.0.0/8"],
        "per_host_interval": 0.0,
        "timeout": 5.0,
        "retries": 1,
    },
    "shards": {"max_samples": 64},
}


def _section(title: str) -> None:
    print(f"\n{'=' * 8} {title} {'=' * (80 - len(title))}", flush=True)


def demo_command(args: argparse.Namespace) -> int:
    from pipeline.commands.inspect import inspect_command
    from pipeline.commands.stats import stats_command
    from pipeline.config import load_config
    from pipeline.run import run_build
    from pipeline.sample_site import prepare_demo
    from pipeline.sample_site.media import write_pair_inputs

    out = os.path.abspath(args.output)
    os.makedirs(os.path.join(out, "input"), exist_ok=True)
    build_dir = os.path.join(out, "build")
    cfg_path = os.path.join(out, "demo.yaml")
    _section("1. sample site")
    t0 = time.perf_counter()
    with prepare_demo(os.path.join(out, "input"), seed=args.seed, n_pages=args.pages) as demo:
        counts = demo.summary
        print(f"{counts['pages']} pages and {counts['images_in_warc']} images in "
              f"{', '.join(demo.warc_paths)}; {counts['images_served']} images served from "
              f"{demo.server.base_url} ({time.perf_counter() - t0:.1f}s)")
        served = sorted(u for u, meta in demo.site.image_meta.items()
                        if u not in set(counts["warc_images"]) and meta.kind == "photo")[:40]
        pair_inputs = write_pair_inputs(os.path.join(out, "input"), served, seed=args.seed)
        print(f"pair inputs: {pair_inputs['pairs']} ({len(served) + 1} image URLs), "
              f"{pair_inputs['videos']}")
        config = dict(DEMO_CONFIG, sources={
            "interleaved": {"input": list(demo.warc_paths)},
            "alt_text": {"from": "interleaved"},
            "image_text": {"input": [pair_inputs["pairs"]]},
            "video_text": {"input": [pair_inputs["videos"]]},
        })
        with open(cfg_path, "w", encoding="utf-8") as fh:
            yaml.safe_dump(config, fh, sort_keys=False)

        _section("2. m3w build")
        print(f"m3w build {cfg_path} --output {build_dir}")
        t0 = time.perf_counter()
        run_build(load_config(cfg_path), build_dir, overwrite=True)
        print(f"build finished in {time.perf_counter() - t0:.1f}s")

    _section("3. m3w stats")
    plot = os.path.join(out, "stats.png")
    stats_command(argparse.Namespace(dir=build_dir, json=False, plot=plot))

    _section("4. m3w inspect")
    shard_dir = os.path.join(build_dir, "shards", "interleaved")
    shards = sorted(os.listdir(shard_dir)) if os.path.isdir(shard_dir) else []
    if shards:
        inspect_command(argparse.Namespace(shard=os.path.join(shard_dir, shards[0]), n=2,
                                           chars=400))
    code = _train(args, build_dir, out)
    _section("6. m3w report")
    from pipeline.commands.report import build_report

    print(f"m3w report {build_dir} --output {os.path.join(out, 'report')}")
    index = build_report(build_dir, os.path.join(out, "report"))
    _section("done")
    print(f"build: {build_dir}\nstats plot: {plot}\ntraining run: {os.path.join(out, 'run')}")
    print(f"report: {index}")
    return code


def _train(args: argparse.Namespace, build_dir: str, out: str) -> int:
    try:
        from train.cli import add_arguments, run
    except ImportError as exc:
        print(f"(training skipped: {exc})")
        return 0
    _section("5. m3w train --model tiny")
    p = argparse.ArgumentParser(prog="m3w train")
    add_arguments(p)
    run_dir = os.path.join(out, "run")
    targs = p.parse_args(["--manifest", os.path.join(build_dir, "manifest.json"), "--model",
                          "tiny", "--steps", str(args.train_steps), "--output", run_dir,
                          "--device", "cpu"])
    code = run(targs)
    _print_loss_trend(os.path.join(run_dir, "metrics.jsonl"))
    return code


def _print_loss_trend(path: str, window: int = 10) -> None:
    """The loss at the start and the end of the run, per source, averaged over a window."""
    with open(path, encoding="utf-8") as fh:
        rows = [json.loads(line) for line in fh if line.strip()]
    if len(rows) < 2 * window:
        return
    keys = ["loss"] + sorted(k for k in rows[0] if k.startswith("loss_"))
    for k in keys:
        first = sum(r[k] for r in rows[:window]) / window
        last = sum(r[k] for r in rows[-window:]) / window
        print(f"{k:<20} first {window} steps {first:.3f} -> last {window} steps {last:.3f}")
