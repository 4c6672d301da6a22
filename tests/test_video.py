"""Video clips: frame sampling, rejects with reasons, the decode time limit, the Beam source."""

from __future__ import annotations

import io
import json
import os
import tarfile
import time

import apache_beam as beam
import pytest
from apache_beam.options.pipeline_options import PipelineOptions
from apache_beam.testing.test_pipeline import TestPipeline
from apache_beam.testing.util import assert_that, equal_to
from PIL import Image

from pipeline.sources.common import source_defaults
from pipeline.sources.pairs import add_pair_sources
from scrapers.video import DecodeWorker, VideoConfig, check_file, sample_video
from tests.localserver import LocalServer
from tests.mediagen import audio_only, clip, empty_clip, truncated

OPTIONS = PipelineOptions(["--runner=FnApiRunner"])


@pytest.fixture(scope="module")
def media(tmp_path_factory):
    d = tmp_path_factory.mktemp("video")
    files = {
        "five": clip(d / "five.mp4", 5.0),
        "fast": clip(d / "fast.mp4", 3.0, faststart=True, size=(96, 64)),
        "audio": audio_only(d / "tone.m4a"),
        "header": empty_clip(d / "header_only.mp4"),
    }
    files["trunc"] = truncated(files["five"], d / "trunc.mp4")
    files["trunc_fs"] = truncated(files["fast"], d / "trunc_fs.mp4")
    (d / "empty.mp4").write_bytes(b"")
    files["empty"] = str(d / "empty.mp4")
    (d / "garbage.mp4").write_bytes(b"\x00\x01not a video at all" * 100)
    files["garbage"] = str(d / "garbage.mp4")
    files["dir"] = str(d)
    return files


def decode(path: str, cfg: VideoConfig):
    return check_file(path, cfg) or sample_video(path, cfg)


def test_frames_follow_duration_and_rate(media):
    r = decode(media["five"], VideoConfig(fps=1.0, max_frames=8))
    assert r.ok and r.duration == 5.0 and r.fps == 24.0 and r.codec == "h264"
    assert r.timestamps == [0.0, 1.0, 2.0, 3.0, 4.0]
    assert len(r.frames) == 5 and (r.width, r.height) == (64, 48)
    assert Image.open(io.BytesIO(r.frames[0])).format == "JPEG"

    r = decode(media["five"], VideoConfig(fps=2.0, max_frames=8))
    assert r.timestamps == [0.0, 0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 3.5]
    r = decode(media["five"], VideoConfig(fps=2.0, max_frames=100))
    assert len(r.frames) == 10 and r.timestamps[-1] == 4.5
    # Bytes in hand decode the same as the file.
    with open(media["five"], "rb") as fh:
        assert sample_video(fh.read(), VideoConfig()).timestamps == [0.0, 1.0, 2.0, 3.0, 4.0]


@pytest.mark.parametrize("name,cfg,reason", [
    ("empty", VideoConfig(), "empty"),
    ("garbage", VideoConfig(), "undecodable"),
    ("trunc", VideoConfig(), "undecodable"),  # the index (moov) was at the cut-off end
    ("audio", VideoConfig(), "no_video_stream"),
    ("header", VideoConfig(), "no_frames"),
    ("dir", VideoConfig(), "not_a_file"),
    ("five", VideoConfig(max_bytes=1000), "too_large_bytes"),
    ("five", VideoConfig(max_duration=2.0), "too_long"),
    ("five", VideoConfig(max_pixels=1000), "too_large_frame"),
])
def test_bad_clips_are_rejected_with_a_reason(media, name, cfg, reason):
    r = decode(media[name], cfg)
    assert not r.ok and r.reason == reason and not r.frames


def test_truncated_faststart_clip_is_rejected(media):
    r = decode(media["trunc_fs"], VideoConfig())
    assert not r.ok and r.reason in ("decode_error", "truncated")
    assert decode(str(media["dir"]) + "/nope.mp4", VideoConfig()).reason == "missing"


def test_decode_time_limit_kills_a_hung_decode(media):
    # Opening a FIFO with no writer blocks inside FFmpeg forever: only a kill can end it.
    fifo = os.path.join(media["dir"], "hang.fifo")
    os.mkfifo(fifo)
    worker = DecodeWorker()
    try:
        assert worker.decode(media["five"], VideoConfig()).ok
        pid = worker._proc.pid
        t = time.monotonic()
        r = worker.decode(fifo, VideoConfig(timeout=1.0))
        elapsed = time.monotonic() - t
        assert r.reason == "timeout" and 1.0 <= elapsed < 4.0
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)  # the stuck child is gone
        # A slow decode (far over a tiny limit) is cut off too; the next clip still works.
        assert worker.decode(media["five"], VideoConfig(timeout=0.001)).reason == "timeout"
        assert worker.decode(media["five"], VideoConfig()).timestamps == [0, 1, 2, 3, 4]
        assert worker.restarts == 2
    finally:
        worker.close()


def read_shards(folder: str) -> dict[str, dict[str, bytes]]:
    samples: dict[str, dict[str, bytes]] = {}
    for name in sorted(os.listdir(folder)):
        with tarfile.open(os.path.join(folder, name)) as tar:
            for info in tar:
                key, ext = info.name.split(".", 1)
                samples.setdefault(key, {})[ext] = tar.extractfile(info).read()
    return samples


def test_video_source_shards_and_rejects(media, tmp_path):
    body = open(media["fast"], "rb").read()
    with LocalServer({"/clip.mp4": (200, {"Content-Type": "video/mp4"}, body)}) as srv:
        rows = [
            {"video": media["five"], "caption": "A yellow bar slides to the right."},
            {"video": os.path.basename(media["fast"]), "captions": [
                {"text": "一个黄色的条", "lang": "zh"}, {"text": "a moving bar", "lang": "en"}]},
            {"url": srv.url("/clip.mp4"), "caption": "The same bar, fetched over HTTP."},
            {"url": "http://10.1.2.3/private.mp4", "caption": "A clip on a private address"},
            {"video": media["trunc"], "caption": "A truncated clip"},
            {"video": media["audio"], "caption": "Only a sound"},
            {"video": media["empty"], "caption": "Nothing at all"},
            {"video": media["header"], "caption": "A header and no frames"},
            {"video": "missing.mp4", "caption": "Not there"},
            {"video": media["five"], "caption": "IMG_0042.mp4"},
            {"video": media["five"]},
        ]
        listing = tmp_path / "clips.jsonl"
        listing.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
        base = os.path.dirname(media["fast"])
        cfg = {
            "sources": {"video_text": {"input": [str(listing), str(tmp_path / "none*.jsonl")],
                                       "base_dir": base, "caption_lang": "en",
                                       "keep_clip": True, "fps": 2.0}},
            "shards": {"max_samples": 100, "max_bytes": 10**9},
            "fetch": {"allowed_networks": ["127.0.0.0/8"], "per_host_interval": 0.0},
        }
        out = str(tmp_path / "out")
        lst = str(listing)
        with TestPipeline(options=OPTIONS) as p:
            shards, rejects, counts = add_pair_sources(p, cfg, out, None)
            rej = rejects | beam.Flatten() | beam.Map(lambda r: (r.source, r.stage, r.reason))
            assert_that(rej, equal_to([
                (f"{lst}#3", "video_text", "private_address"),
                (f"{lst}#4", "video_text", "undecodable"),
                (f"{lst}#5", "video_text", "no_video_stream"),
                (f"{lst}#6", "video_text", "empty"),
                (f"{lst}#7", "video_text", "no_frames"),
                (f"{lst}#8", "video_text", "missing"),
                (f"{lst}#9", "video_text", "file_name"),
                (f"{lst}#10", "video_text", "empty"),
                (str(tmp_path / "none*.jsonl"), "video_text", "missing_input"),
            ]), label="rejects")
            assert_that(counts[0] | "Sum" >> beam.CombinePerKey(sum),
                        equal_to([(("video_text", "out", ""), 3)]), label="counts")
            # shards are cut per input and bucket: count the samples over all of them
            assert_that(shards[0] | beam.Map(lambda s: (s[0], s[1].samples))
                        | beam.CombinePerKey(sum), equal_to([("video_text", 3)]), label="shards")
    samples = read_shards(os.path.join(out, "shards", "video_text"))
    by_caption = {s["txt"].decode(): s for s in samples.values()}
    assert set(by_caption) == {"A yellow bar slides to the right.", "a moving bar",
                               "The same bar, fetched over HTTP."}
    five = by_caption["A yellow bar slides to the right."]
    meta = json.loads(five["json"])
    assert meta["timestamps"] == [0.0, 0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 3.5]
    assert (meta["duration"], meta["fps"], meta["width"], meta["height"], meta["codec"]) == (
        5.0, 24.0, 64, 48, "h264")
    assert sorted(k for k in five if k.endswith(".jpg")) == [f"{i:03d}.jpg" for i in range(8)]
    assert five["mp4"] == open(media["five"], "rb").read()
    fast = json.loads(by_caption["a moving bar"]["json"])
    assert fast["timestamps"] == [0.0, 0.5, 1.0, 1.5, 2.0, 2.5] and fast["duration"] == 3.0
    http = by_caption["The same bar, fetched over HTTP."]
    assert http["mp4"] == body and json.loads(http["json"])["url"].startswith("http://127.")
    assert source_defaults("video_text")["weight"] == 0.03


def test_video_source_turns_overruns_into_rejects(media, tmp_path):
    listing = tmp_path / "clips.jsonl"
    listing.write_text("".join(json.dumps({"video": media[k], "caption": f"Clip {k}"}) + "\n"
                               for k in ("five", "fast")))
    cfg = {"sources": {"video_text": {"input": [str(listing)], "decode_timeout": 0.001}},
           "shards": {"max_samples": 100, "max_bytes": 10**9}}
    with TestPipeline(options=OPTIONS) as p:
        _, rejects, counts = add_pair_sources(p, cfg, str(tmp_path / "out"), None)
        assert_that(rejects | beam.Flatten() | beam.Map(lambda r: (r.source[-1], r.reason)),
                    equal_to([("0", "timeout"), ("1", "timeout")]), label="rejects")
        assert_that(counts[0], equal_to([]), label="counts")
