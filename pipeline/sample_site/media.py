"""Media for the pair sources of the demo: H.264 clips (and broken ones) made with PyAV, and
the pair lists that point at them and at the sample site's served images."""

from __future__ import annotations

import json
import os
import random
from fractions import Fraction

import av
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from pipeline.sample_site.text import TOPICS, caption, sentence


def clip(path: str | os.PathLike, seconds: float = 5.0, rate: int = 24, size: tuple[int, int]
         = (64, 48), faststart: bool = False) -> str:
    """An H.264 MP4 of `seconds` at `rate` frames/s: a bar that moves, so frames differ."""
    w, h = size
    options = {"movflags": "faststart"} if faststart else {}
    with av.open(str(path), "w", format="mp4", options=options) as out:
        stream = out.add_stream("libx264", rate=rate)
        stream.width, stream.height, stream.pix_fmt = w, h, "yuv420p"
        stream.options = {"preset": "ultrafast"}
        n = round(seconds * rate)
        for i in range(n):
            arr = np.full((h, w, 3), 40, np.uint8)
            x = int(i * w / max(n, 1))
            arr[:, x:x + max(2, w // 16)] = (250, 200, 30)
            arr[: h // 4, :, 2] = (i * 7) % 256
            frame = av.VideoFrame.from_ndarray(arr, format="rgb24")
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode():  # flush
            out.mux(packet)
    return str(path)


def empty_clip(path: str | os.PathLike) -> str:
    """A zero-length MP4: a header written, no frame encoded."""
    with av.open(str(path), "w", format="mp4") as out:
        stream = out.add_stream("libx264", rate=24)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        out.start_encoding()  # without it nothing at all is written
    return str(path)


def audio_only(path: str | os.PathLike, seconds: float = 1.0, rate: int = 16000) -> str:
    """An AAC-in-MP4 (M4A) file with a sine tone and no video stream."""
    with av.open(str(path), "w", format="mp4") as out:
        stream = out.add_stream("aac", rate=rate)
        stream.layout = "mono"
        n = int(seconds * rate)
        t = np.arange(n) / rate
        samples = (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
        step = 1024
        for start in range(0, n, step):
            chunk = samples[start:start + step].reshape(1, -1)
            frame = av.AudioFrame.from_ndarray(chunk, format="fltp", layout="mono")
            frame.sample_rate = rate
            frame.pts = start
            frame.time_base = Fraction(1, rate)
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return str(path)


def truncated(src: str | os.PathLike, dst: str | os.PathLike, keep: float = 0.5) -> str:
    """Copy the first `keep` share of the bytes of `src` to `dst`."""
    with open(src, "rb") as fh:
        data = fh.read()
    with open(dst, "wb") as fh:
        fh.write(data[: int(len(data) * keep)])
    return str(dst)


def write_pair_inputs(out_dir: str, image_urls: list[str], seed: int = 0) -> dict[str, str]:
    """videos.jsonl (clips of several lengths plus truncated, audio-only and empty files) and
    pairs.parquet (served image URLs with captions, a dead link and boilerplate captions)."""
    rng = random.Random(seed)
    vdir = os.path.join(out_dir, "videos")
    os.makedirs(vdir, exist_ok=True)
    rows = []
    for i, seconds in enumerate((3.0, 5.0, 8.0, 12.0)):
        path = clip(os.path.join(vdir, f"clip{i}.mp4"), seconds=seconds, rate=12,
                    size=(160, 120))
        rows.append({"video": path, "caption": sentence(rng, rng.choice(TOPICS))})
    rows.append({"video": truncated(rows[-1]["video"], os.path.join(vdir, "cut.mp4"), 0.4),
                 "caption": sentence(rng, "town")})
    rows.append({"video": audio_only(os.path.join(vdir, "voice.m4a")),
                 "caption": sentence(rng, "nature")})
    rows.append({"video": empty_clip(os.path.join(vdir, "empty.mp4")),
                 "caption": sentence(rng, "science")})
    rows.append({"video": rows[0]["video"], "caption": "click here"})
    videos = os.path.join(out_dir, "videos.jsonl")
    with open(videos, "w", encoding="utf-8") as fh:
        fh.writelines(json.dumps(r) + "\n" for r in rows)
    urls = list(image_urls) + [image_urls[0].rsplit("/", 1)[0] + "/gone.jpg"]
    caps = [caption(rng, rng.choice(TOPICS)) for _ in urls]
    caps[1:3] = ["IMG_1234.jpg", "image"]
    pairs = os.path.join(out_dir, "pairs.parquet")
    pq.write_table(pa.table({"url": urls, "caption": caps}), pairs)
    return {"videos": videos, "pairs": pairs}
