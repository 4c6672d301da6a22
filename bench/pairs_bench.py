"""Pair-source throughput: image-text pairs/s and video clips/s, per core, with img2dataset's
own rate on the same local server beside ours.

Usage: python bench/pairs_bench.py [--images 400] [--clips 16] [--processes 1] [--threads 16]
Runs, one after the other:
1. img2dataset alone on a URL list served from 127.0.0.1 (its own stats: count / duration);
2. the image_text source (Beam, local runner) on the same URL list: netguard, caption rules,
   img2dataset, our image checks, shards;
3. the image_text source on the same images as local files;
4. the video_text source on generated H.264 clips (1 FPS, 8 frames).
The server runs in a child process; "per core" is rate / CPU seconds used by the step (this
process and its children), i.e. items per CPU-second.
"""

from __future__ import annotations

import argparse
import glob
import json
import multiprocessing as mp
import os
import resource
import sys
import tempfile
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")


def _serve(folder: str, q) -> None:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's name)
            path = os.path.join(folder, os.path.basename(self.path))
            if not os.path.isfile(path):
                self.send_error(404)
                return
            with open(path, "rb") as fh:
                body = fh.read()
            self.send_response(200)
            self.send_header("Content-Type", "image/jpeg")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args) -> None:
            pass

    srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    q.put(srv.server_address[1])
    srv.serve_forever()


def cpu_seconds() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def timed(step):
    c0, t0 = cpu_seconds(), time.perf_counter()
    out = step()
    return out, time.perf_counter() - t0, cpu_seconds() - c0


def make_images(folder: str, n: int) -> list[str]:
    from tests.imagegen import image_bytes

    os.makedirs(folder, exist_ok=True)
    names = []
    for i in range(n):
        name = f"img{i:05d}.jpg"
        with open(os.path.join(folder, name), "wb") as fh:
            fh.write(image_bytes(640, 480, "JPEG", seed=i))
        names.append(name)
    return names


def run_source(name: str, scfg: dict, out: str, fetch: dict | None = None) -> int:
    import apache_beam as beam
    from apache_beam.options.pipeline_options import PipelineOptions

    from pipeline.sources.pairs import add_pair_sources

    cfg = {"sources": {name: scfg}, "shards": {"max_samples": 1000, "max_bytes": 10**9},
           "fetch": fetch or {}}
    with beam.Pipeline(options=PipelineOptions(["--runner=FnApiRunner"])) as p:
        add_pair_sources(p, cfg, out, None)
    count = 0
    for path in glob.glob(os.path.join(out, "shards", name, "*.tar")):
        import tarfile

        with tarfile.open(path) as tar:
            count += sum(1 for m in tar.getnames() if m.endswith(".json"))
    return count


def report(label: str, n: int, wall: float, cpu: float, unit: str) -> dict:
    row = {"step": label, unit: n, "wall_s": round(wall, 2), "cpu_s": round(cpu, 2),
           f"{unit}_per_s": round(n / wall, 1) if wall else 0.0,
           f"{unit}_per_cpu_s": round(n / cpu, 1) if cpu else 0.0}
    print(json.dumps(row))
    return row


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--images", type=int, default=400)
    ap.add_argument("--clips", type=int, default=16)
    ap.add_argument("--seconds", type=float, default=10.0, help="length of each clip")
    ap.add_argument("--processes", type=int, default=1)
    ap.add_argument("--threads", type=int, default=16)
    a = ap.parse_args()
    from pipeline.sources.image_text import run_img2dataset

    scratch = tempfile.TemporaryDirectory(prefix="m3w-pairs-bench-")  # removed when main ends
    tmp = scratch.name
    names = make_images(os.path.join(tmp, "images"), a.images)
    q = mp.get_context("fork").Queue()
    server = mp.get_context("fork").Process(target=_serve, args=(os.path.join(tmp, "images"), q),
                                            daemon=True)
    server.start()
    port = q.get(timeout=30)
    rows = [{"url": f"http://127.0.0.1:{port}/{n}", "caption": f"A generated test image {i}",
             "image": os.path.join(tmp, "images", n)} for i, n in enumerate(names)]
    with open(os.path.join(tmp, "urls.jsonl"), "w") as fh:
        fh.writelines(json.dumps({"url": r["url"], "caption": r["caption"]}) + "\n" for r in rows)
    with open(os.path.join(tmp, "files.jsonl"), "w") as fh:
        fh.writelines(json.dumps({"image": r["image"], "caption": r["caption"]}) + "\n"
                      for r in rows)
    print(json.dumps({"cores": len(os.sched_getaffinity(0)), "images": a.images,
                      "clips": a.clips, "processes": a.processes, "threads": a.threads}))
    dcfg = {"processes": a.processes, "threads": a.threads, "image_size": 512,
            "resize_mode": "keep_ratio", "resize_only_if_bigger": True, "timeout": 10,
            "retries": 0, "user_agent_token": "m3w", "batch_timeout": 3600}
    work = os.path.join(tmp, "i2d")
    os.makedirs(work)
    plain = [{"url": r["url"], "caption": r["caption"], "m3w_id": str(i)}
             for i, r in enumerate(rows)]
    _, wall, cpu = timed(lambda: run_img2dataset(plain, work, dcfg))
    stats = [json.load(open(p)) for p in glob.glob(os.path.join(work, "out", "*_stats.json"))]
    own = sum(s["successes"] for s in stats) / max(sum(s["duration"] for s in stats), 1e-9)
    row = report("img2dataset alone (process wall, start-up included)",
                 sum(s["successes"] for s in stats), wall, cpu, "pairs")
    print(json.dumps({"step": "img2dataset's own counter", "pairs_per_s": round(own, 1)}))

    n, wall, cpu = timed(lambda: run_source(
        "image_text", {"input": [os.path.join(tmp, "urls.jsonl")], "download": dcfg},
        os.path.join(tmp, "out_urls"), {"allowed_networks": ["127.0.0.0/8"]}))
    report("image_text from URLs (netguard + img2dataset + checks + shards)", n, wall, cpu,
           "pairs")
    n, wall, cpu = timed(lambda: run_source(
        "image_text", {"input": [os.path.join(tmp, "files.jsonl")]},
        os.path.join(tmp, "out_files")))
    report("image_text from local files", n, wall, cpu, "pairs")

    from tests.mediagen import clip

    os.makedirs(os.path.join(tmp, "clips"))
    with open(os.path.join(tmp, "clips.jsonl"), "w") as fh:
        for i in range(a.clips):
            path = clip(os.path.join(tmp, "clips", f"c{i}.mp4"), a.seconds, size=(640, 360))
            fh.write(json.dumps({"video": path, "caption": f"A bar moving, clip {i}"}) + "\n")
    n, wall, cpu = timed(lambda: run_source(
        "video_text", {"input": [os.path.join(tmp, "clips.jsonl")]},
        os.path.join(tmp, "out_clips")))
    report(f"video_text ({a.seconds:g}s 640x360 H.264 clips, 1 FPS, 8 frames)", n, wall, cpu,
           "clips")
    server.kill()
    del row


if __name__ == "__main__":
    main()
