"""image_text: (image, caption) pairs from local files or from URL lists (via img2dataset).

Local pairs (a path column, a folder, a WebDataset tar) are decoded and checked here. URL
pairs are meant for public URL lists: every URL is first vetted by scrapers.netguard (private,
loopback and link-local addresses are refused unless the `fetch:` section allows them, e.g.
127.0.0.0/8 in the demo), then downloaded by img2dataset in batches of `download.batch_size`.
img2dataset follows redirects and resolves names again by itself, so the vetting cannot stop a
public host that redirects to a private one: do not point this source at untrusted lists on a
network with reachable private services. img2dataset's per-sample status is kept: its failures
become rejects with a reason code and its error message as detail.
"""

from __future__ import annotations

import dataclasses
import glob
import json
import math
import os
import re
import shutil
import signal
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import asdict
from functools import lru_cache
from typing import Any

import apache_beam as beam
from apache_beam import pvalue

from pipeline.outputs.shards import stable_bucket
from pipeline.outputs.spool import one_key, park_batches, unpark_batches
from pipeline.rejects import REJECTS, make_reject
from pipeline.sources.files import BEAM
from schemas import ImageTextPair, make_key
from scrapers.images import ImageConfig, process_image
from scrapers.netguard import DNS_TIMEOUT, NetGuard, system_resolver
from scrapers.pair_lists import PairItem

STAGE = "image_text"
CHECK_FILTER = "image_check/v1"
GUARD_FILTER = "netguard/v1"
DOWNLOAD_FILTER = "img2dataset/v1"
_HTTP = re.compile(r"HTTP Error (\d{3})")


def image_config(scfg: dict[str, Any]) -> ImageConfig:
    names = set(ImageConfig.__dataclass_fields__)
    return ImageConfig(**{k: v for k, v in scfg["image"].items() if k in names})


def pair_sample(item: PairItem, jpeg: bytes, width: int | None, height: int | None,
                sha256: str | None, meta: dict[str, Any]) -> tuple[str, dict[str, bytes]]:
    key = make_key(STAGE, item.source_id)
    pair = ImageTextPair(key=key, caption=item.caption, url=item.url or item.path, width=width,
                         height=height, sha256=sha256, source=STAGE,
                         meta={"source_id": item.source_id, **meta, **item.meta})
    blob = json.dumps(asdict(pair), ensure_ascii=False, sort_keys=True).encode()
    return key, {"json": blob, "txt": item.caption.encode(), "jpg": jpeg}


def checked(item: PairItem, data: bytes, icfg: ImageConfig, meta: dict[str, Any],
            sha256: str | None = None) -> Any:
    """A sample, or a Reject, from image bytes in hand."""
    res = process_image(data, icfg)
    if not res.ok:
        return make_reject(STAGE, item.source_id, CHECK_FILTER, res.reason or "unknown",
                           res.value, item.url or item.path, res.detail)
    meta = {"orig_width": res.orig_width, "orig_height": res.orig_height, **meta}
    return pair_sample(item, res.jpeg or b"", res.width, res.height, sha256 or res.sha256, meta)


def _emit(out: Any) -> Any:
    return out if isinstance(out, tuple) else pvalue.TaggedOutput(REJECTS, out)


class LocalImageFn(beam.DoFn):
    """PairItem with a local path or bytes -> sample or Reject."""

    def __init__(self, scfg: dict[str, Any]) -> None:
        self.icfg = image_config(scfg)

    def process(self, item: PairItem) -> Iterator[Any]:
        try:
            data = item.data
            if data is None and item.path:
                size = BEAM.size(item.path)  # local disk or any store Beam can read
                if size is None:
                    yield _emit(make_reject(STAGE, item.source_id, CHECK_FILTER, "missing",
                                            url=item.path))
                    return
                if self.icfg.max_bytes and size > self.icfg.max_bytes:
                    yield _emit(make_reject(STAGE, item.source_id, CHECK_FILTER,
                                            "too_large_bytes", float(size), item.path))
                    return
                with BEAM.open(item.path) as fh:
                    data = fh.read()
            if data is None:
                yield _emit(make_reject(STAGE, item.source_id, CHECK_FILTER, "no_media"))
                return
            bare = dataclasses.replace(item, data=None)  # the bytes are not carried along
            yield _emit(checked(bare, data, self.icfg, {}))
        except Exception as exc:  # a bad file must not stop the build
            yield _emit(make_reject(STAGE, item.source_id, CHECK_FILTER,
                                    f"error:{type(exc).__name__}", url=item.path,
                                    detail=str(exc)))


class GuardFn(beam.DoFn):
    """Refuse URLs the build may not fetch (private addresses unless allowed, bad schemes)."""

    def __init__(self, fetch_cfg: dict[str, Any]) -> None:
        self.allow_private = bool(fetch_cfg.get("allow_private", False))
        self.allowed = list(fetch_cfg.get("allowed_networks") or [])
        self.dns_timeout = float(fetch_cfg.get("dns_timeout") or DNS_TIMEOUT)
        self._guard: NetGuard | None = None

    def setup(self) -> None:
        resolve = lru_cache(maxsize=65536)(lambda host, port: tuple(system_resolver(host, port)))
        self._guard = NetGuard(self.allow_private, self.allowed,
                               resolver=lambda h, p: list(resolve(h, p)),
                               dns_timeout=self.dns_timeout)

    def process(self, item: PairItem) -> Iterator[Any]:
        assert self._guard is not None
        reason = self._guard.check(item.url)
        if reason is None:
            yield item
        else:
            yield pvalue.TaggedOutput(REJECTS, make_reject(STAGE, item.source_id, GUARD_FILTER,
                                                           reason, url=item.url))


def download_reason(status: str | None, error: str | None) -> tuple[str, float | None]:
    """img2dataset's per-sample status and message -> our reason code and value."""
    msg = (error or "").lower()
    m = _HTTP.search(error or "")
    if m:
        return f"http_{m.group(1)}", float(m.group(1))
    if "timed out" in msg or "timeout" in msg:
        return "timeout", None
    if status == "failed_to_resize":
        return "undecodable", None
    if "hash mismatch" in msg:
        return "hash_mismatch", None
    if "urlopen error" in msg or "connection" in msg or "remote end" in msg:
        return "connection_error", None
    return ("download_error" if status else "missing_result"), None


_RUNNER = ("import json, sys\n"
           "from img2dataset import download\n"
           "download(**json.load(open(sys.argv[1])))\n")


def run_img2dataset(rows: list[dict[str, Any]], work: str, dcfg: dict[str, Any]) -> None:
    """Download `rows` (url, caption, m3w_id) into `work`/out as WebDataset + parquet.

    img2dataset runs in its own process: it installs a SIGINT handler (only allowed on a main
    thread), prints progress bars, and gets a hard time limit there (`batch_timeout`)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    listing = os.path.join(work, "urls.parquet")
    pq.write_table(pa.Table.from_pylist(rows), listing)
    args = dict(
        url_list=listing, input_format="parquet", url_col="url", caption_col="caption",
        save_additional_columns=["m3w_id"], output_folder=os.path.join(work, "out"),
        output_format="webdataset", processes_count=int(dcfg["processes"]),
        thread_count=int(dcfg["threads"]), image_size=int(dcfg["image_size"]),
        resize_mode=dcfg["resize_mode"], resize_only_if_bigger=bool(dcfg["resize_only_if_bigger"]),
        timeout=int(dcfg["timeout"]), retries=int(dcfg["retries"]),
        number_sample_per_shard=max(1, len(rows)), encode_format="jpg", extract_exif=False,
        enable_wandb=False, compute_hash="sha256", distributor="multiprocessing",
        # "overwrite" deletes the folder holding its own _tmp input shards; ours is fresh.
        incremental_mode="incremental", user_agent_token=dcfg.get("user_agent_token") or None)
    with open(os.path.join(work, "args.json"), "w", encoding="utf-8") as fh:
        json.dump(args, fh)
    env = {**os.environ, "NO_ALBUMENTATIONS_UPDATE": "1", "WANDB_MODE": "disabled"}
    log = os.path.join(work, "img2dataset.log")
    limit = float(dcfg["batch_timeout"]) or None
    with open(log, "wb") as out:
        # Its own session, so that a batch over the limit is ended with its pool processes.
        proc = subprocess.Popen([sys.executable, "-c", _RUNNER, os.path.join(work, "args.json")],
                                stdout=out, stderr=subprocess.STDOUT, env=env, cwd=work,
                                start_new_session=True)
        try:
            code = proc.wait(timeout=limit)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            raise BatchTimeout(f"img2dataset ran over download.batch_timeout={limit}s") from None
    if code != 0:
        with open(log, "rb") as fh:
            tail = fh.read()[-400:].decode("utf-8", "replace")
        raise RuntimeError(f"img2dataset exited with {code}: {tail}")


class BatchTimeout(Exception):
    pass


def read_img2dataset(out: str) -> tuple[list[dict[str, Any]], dict[str, bytes]]:
    """(status rows of every sample, {img2dataset key: image bytes}) from its output folder."""
    import pyarrow.parquet as pq

    rows: list[dict[str, Any]] = []
    for path in sorted(glob.glob(os.path.join(out, "*.parquet"))):
        rows.extend(pq.read_table(path).to_pylist())
    images: dict[str, bytes] = {}
    for path in sorted(glob.glob(os.path.join(out, "*.tar"))):
        with tarfile.open(path) as tar:
            for info in tar:
                name = os.path.basename(info.name)
                if info.isfile() and name.endswith(".jpg"):
                    fh = tar.extractfile(info)
                    images[name.split(".", 1)[0]] = fh.read() if fh else b""
    return rows, images


class Img2DatasetFn(beam.DoFn):
    """(bucket, [PairItem with url]) -> one img2dataset run -> samples and Rejects."""

    def __init__(self, scfg: dict[str, Any]) -> None:
        self.dcfg = scfg["download"]
        self.icfg = image_config(scfg)

    def process(self, group: tuple[int, Iterable[PairItem]]) -> Iterator[Any]:
        items = sorted(group[1], key=lambda it: it.source_id)
        work = tempfile.mkdtemp(prefix="m3w-img2dataset-")
        try:
            rows = [{"url": it.url, "caption": it.caption, "m3w_id": str(i)}
                    for i, it in enumerate(items)]
            try:
                run_img2dataset(rows, work, self.dcfg)
                status, images = read_img2dataset(os.path.join(work, "out"))
            except Exception as exc:  # the whole batch failed: every pair gets the reason
                reason = ("batch_timeout" if isinstance(exc, BatchTimeout)
                          else f"error:{type(exc).__name__}")
                for it in items:
                    yield _emit(make_reject(STAGE, it.source_id, DOWNLOAD_FILTER, reason,
                                            url=it.url, detail=str(exc)))
                return
            yield from self._results(items, status, images)
        finally:
            shutil.rmtree(work, ignore_errors=True)

    def _results(self, items: list[PairItem], status: list[dict[str, Any]],
                 images: dict[str, bytes]) -> Iterator[Any]:
        by_id = {str(r.get("m3w_id")): r for r in status}
        for i, it in enumerate(items):
            r = by_id.get(str(i), {})
            data = images.get(str(r.get("key"))) if r.get("status") == "success" else None
            if data is None:
                reason, value = download_reason(r.get("status"), r.get("error_message"))
                detail = f"{r.get('status') or 'no status'}: {r.get('error_message') or ''}"
                yield _emit(make_reject(STAGE, it.source_id, DOWNLOAD_FILTER, reason, value,
                                        it.url, detail))
                continue
            ow, oh = r.get("original_width"), r.get("original_height")
            bad = self._original_size(ow, oh)
            if bad is not None:
                yield _emit(make_reject(STAGE, it.source_id, CHECK_FILTER, bad[0], bad[1],
                                        it.url))
                continue
            meta = {"downloader": "img2dataset", "download_status": r.get("status"),
                    "orig_width": ow, "orig_height": oh}
            yield _emit(checked(it, data, self.icfg, meta, r.get("sha256")))

    def _original_size(self, w: Any, h: Any) -> tuple[str, float] | None:
        """Size rules on the image as published, before img2dataset resized it."""
        if not w or not h:
            return None
        if min(w, h) < self.icfg.min_side:
            return "too_small", float(min(w, h))
        aspect = max(w / h, h / w)
        if self.icfg.max_aspect and aspect > self.icfg.max_aspect:
            return "aspect_ratio", round(aspect, 4)
        return None


SAMPLE_BATCH = 100  # samples parked under one reference before the branches meet


class ImageTextPairs(beam.PTransform):
    """Caption-checked PairItems -> {"samples": (key, {ext: bytes}), "rejects": [Reject
    streams, one per stage that makes them]}."""

    def __init__(self, scfg: dict[str, Any], cfg: dict[str, Any], work_dir: str) -> None:
        """``work_dir`` (the build's output folder): the samples of the local and the
        downloaded branch are parked there in batches before they meet, so their Flatten
        carries references; the local runner holds a Flatten of two stages' outputs whole."""
        super().__init__()
        self.scfg = scfg
        self.fetch_cfg = dict(cfg.get("fetch") or {})
        self.work_dir = work_dir

    def expand(self, items):
        by_kind = items | "ByKind" >> beam.Partition(lambda it, _: 0 if it.url else 1, 2)
        remote, local = by_kind[0], by_kind[1]
        local_out = local | "Local" >> beam.ParDo(LocalImageFn(self.scfg)).with_outputs(
            REJECTS, main="samples")
        guarded = remote | "Guard" >> beam.ParDo(GuardFn(self.fetch_cfg)).with_outputs(
            REJECTS, main="items")
        batch = int(self.scfg["download"]["batch_size"])
        count = guarded.items | "Count" >> beam.combiners.Count.Globally()

        def keyed(it: PairItem, n: int) -> tuple[int, PairItem]:
            return stable_bucket(it.source_id, max(1, math.ceil(n / batch))), it

        downloaded = (
            guarded.items
            | "Batch" >> beam.Map(keyed, n=beam.pvalue.AsSingleton(count))
            | "GroupBatch" >> beam.GroupByKey()
            | "Download" >> beam.ParDo(Img2DatasetFn(self.scfg)).with_outputs(
                REJECTS, main="samples")
        )
        parked = [park_batches(s, f"Park{i}", self.work_dir, one_key, SAMPLE_BATCH)
                  for i, s in enumerate((local_out.samples, downloaded.samples))]
        samples = unpark_batches(parked | "Samples" >> beam.Flatten(), "Unpark")
        # Three stages' rejects, kept apart (parked where made: see reject_files)
        return {"samples": samples,
                REJECTS: [local_out[REJECTS], guarded[REJECTS], downloaded[REJECTS]]}

