"""video_text: (clip, sentence) pairs from clip lists -> one WebDataset sample per clip.

Each worker keeps one decoding child process (scrapers.video.DecodeWorker): a clip that takes
longer than `decode_timeout` has that process killed and becomes a `timeout` reject, so a
hostile or broken file can never hang the build. Clips on an object store (gs://, s3://...)
are copied to a local temporary file first, streamed, since the decoder reads a local path.
Clips given by URL are fetched with the project's fetcher, which refuses private addresses
unless the `fetch:` section allows them.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterator
from dataclasses import asdict
from typing import Any

import apache_beam as beam
from apache_beam import pvalue

from pipeline.rejects import REJECTS, make_reject
from pipeline.sources.files import BEAM
from schemas import VideoTextPair, image_member, make_key
from scrapers.pair_lists import PairItem
from scrapers.storage import is_local, local_path, staged_copy
from scrapers.video import (
    VIDEO_FILTER,
    DecodeWorker,
    VideoConfig,
    VideoResult,
    check_file,
    check_size,
    sha256_file,
)

STAGE = "video_text"
FETCH_FILTER = "video_fetch/v1"


def video_config(scfg: dict[str, Any]) -> VideoConfig:
    return VideoConfig(fps=float(scfg["fps"]), max_frames=int(scfg["max_frames"]),
                       max_side=int(scfg["max_side"]), jpeg_quality=int(scfg["jpeg_quality"]),
                       max_bytes=int(scfg["max_bytes"]), max_duration=float(scfg["max_duration"]),
                       timeout=float(scfg["decode_timeout"]))


def clip_ext(container: str) -> str:
    """Member extension for the original clip: mp4 for the MP4/MOV family."""
    if "mp4" in container or "mov" in container:
        return "mp4"
    if "matroska" in container or "webm" in container:
        return "webm"
    return container.split(",")[0] or "bin"


def video_sample(item: PairItem, res: VideoResult, sha256: str, n_bytes: int,
                 clip: bytes | None) -> tuple[str, dict[str, bytes]]:
    key = make_key(STAGE, item.source_id)
    meta: dict[str, Any] = {"source_id": item.source_id, "sha256": sha256, "bytes": n_bytes,
                            "container": res.container, "frames": len(res.frames), **res.meta,
                            **item.meta}
    members: dict[str, bytes] = {"txt": item.caption.encode()}
    if clip is not None:
        ext = clip_ext(res.container)
        members[ext] = clip
        meta["clip"] = ext
    pair = VideoTextPair(key=key, caption=item.caption, url=item.url or item.path,
                         duration=res.duration, fps=res.fps, width=res.width, height=res.height,
                         codec=res.codec, timestamps=list(res.timestamps), meta=meta)
    members["json"] = json.dumps(asdict(pair), ensure_ascii=False, sort_keys=True).encode()
    for i, jpeg in enumerate(res.frames):
        members[image_member(i)] = jpeg
    return key, members


class VideoFn(beam.DoFn):
    """Caption-checked PairItem -> (key, {ext: bytes}) sample, or a Reject."""

    def __init__(self, scfg: dict[str, Any], fetch_cfg: dict[str, Any]) -> None:
        self.scfg, self.fetch_cfg = scfg, fetch_cfg
        self.vcfg = video_config(scfg)
        self._worker: DecodeWorker | None = None
        self._fetcher: Any = None

    def setup(self) -> None:
        self._worker = DecodeWorker()

    def teardown(self) -> None:
        if self._worker is not None:
            self._worker.close()

    def _fetch(self, url: str) -> tuple[bytes | None, Any]:
        if self._fetcher is None:
            from pipeline.stages.fetching import make_fetcher

            self._fetcher = make_fetcher({**self.fetch_cfg, "max_bytes": self.vcfg.max_bytes})
        res = self._fetcher.fetch(url)
        return (None, res) if res.error else (res.body or b"", res)

    def _source(self, item: PairItem) -> tuple[str | bytes | None, Any]:
        """The decoder's input, or (None, Reject)."""
        rid, where = item.source_id, item.url or item.path
        if item.url:
            body, res = self._fetch(item.url)
            if body is None:
                return None, make_reject(STAGE, rid, FETCH_FILTER, res.error,
                                         float(res.status) if res.status else None, where,
                                         res.detail)
            bad = check_size(len(body), self.vcfg)
        elif item.path and is_local(item.path):
            body = local_path(item.path)
            bad = check_file(body, self.vcfg)  # also refuses FIFOs and devices
        elif item.path:
            size = BEAM.size(item.path)
            if size is None:
                return None, make_reject(STAGE, rid, VIDEO_FILTER, "missing", url=where)
            body, bad = item.path, check_size(size, self.vcfg)
        elif item.data is not None:
            body, bad = item.data, check_size(len(item.data), self.vcfg)
        else:
            return None, make_reject(STAGE, rid, VIDEO_FILTER, "no_media")
        if bad is not None:
            return None, make_reject(STAGE, rid, VIDEO_FILTER, bad.reason or "unknown",
                                     bad.value, where, bad.detail)
        return body, None

    def process(self, item: PairItem) -> Iterator[Any]:
        try:
            yield from self._process(item)
        except Exception as exc:  # one bad clip must not stop the build
            yield pvalue.TaggedOutput(REJECTS, make_reject(
                STAGE, item.source_id, VIDEO_FILTER, f"error:{type(exc).__name__}",
                url=item.url or item.path, detail=str(exc)))

    def _process(self, item: PairItem) -> Iterator[Any]:
        source, rej = self._source(item)
        if source is None:
            yield pvalue.TaggedOutput(REJECTS, rej)
            return
        staged = None
        if isinstance(source, str) and not is_local(source):
            source = staged = staged_copy(BEAM, source, self.vcfg.max_bytes, "m3w-clip-")
        try:
            yield from self._decode(item, source)
        finally:
            if staged is not None:
                os.unlink(staged)

    def _decode(self, item: PairItem, source: str | bytes) -> Iterator[Any]:
        assert self._worker is not None
        res = self._worker.decode(source, self.vcfg)
        if not res.ok:
            yield pvalue.TaggedOutput(REJECTS, make_reject(
                STAGE, item.source_id, VIDEO_FILTER, res.reason or "unknown", res.value,
                item.url or item.path, res.detail))
            return
        keep = bool(self.scfg["keep_clip"])
        if isinstance(source, str):  # a local path: read it only if it is kept
            sha, n, clip = sha256_file(source), os.path.getsize(source), None
            if keep:
                with open(source, "rb") as fh:
                    clip = fh.read()
        else:
            sha, n, clip = hashlib.sha256(source).hexdigest(), len(source), source
        yield video_sample(item, res, sha, n, clip if keep else None)


class VideoTextPairs(beam.PTransform):
    """PairItems -> {"samples": (key, {ext: bytes}), "rejects": [Reject stream]}."""

    def __init__(self, scfg: dict[str, Any], cfg: dict[str, Any]) -> None:
        super().__init__()
        self.scfg = scfg
        self.fetch_cfg = dict(cfg.get("fetch") or {})

    def expand(self, items):
        out = items | "Decode" >> beam.ParDo(VideoFn(self.scfg, self.fetch_cfg)).with_outputs(
            REJECTS, main="samples")
        return {"samples": out.samples, REJECTS: [out[REJECTS]]}
