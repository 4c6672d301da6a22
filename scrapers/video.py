"""Video clips -> frames sampled at a fixed rate, as JPEGs, with their timestamps (PyAV).

`sample_video` does the work in-process and never raises. `DecodeWorker` runs it in a child
process and kills that child when a clip overruns its time limit: a demuxer blocked on a read
or a decoder stuck in C code cannot be interrupted from Python, but a process can be killed.

Sampling: the first frame at or after each target time k / fps (k = 0, 1, ...), times measured
from the first decoded frame, stopping after `max_frames`. A 5.0 s clip at 1 FPS gives frames
at 0, 1, 2, 3, 4 s. Stored timestamps are the chosen frames' own presentation times.
"""

from __future__ import annotations

import hashlib
import io
import math
import multiprocessing as mp
import os
import stat
import time
from dataclasses import dataclass, field
from typing import Any

VIDEO_FILTER = "video/v1"
VIDEO_REASONS = (
    "missing", "not_a_file", "empty", "too_large_bytes", "undecodable", "no_video_stream",
    "no_frames", "too_large_frame", "too_long", "decode_error", "truncated", "timeout",
    "worker_crash",
)
_EPS = 1e-6


@dataclass(frozen=True)
class VideoConfig:
    fps: float = 1.0  # frames sampled per second (Flamingo: 1 FPS)
    max_frames: int = 8  # frames kept per clip (Flamingo: 8 in training)
    max_side: int = 512  # longer side of a stored frame
    jpeg_quality: int = 90
    max_bytes: int = 500_000_000  # larger files are rejected unread
    max_duration: float = 3600.0  # seconds; 0 = no limit
    max_pixels: int = 8192 * 4320  # width x height of the video stream
    timeout: float = 60.0  # seconds a decode may take before its worker is killed
    min_coverage: float = 0.9  # decoded span / declared duration below this: truncated


@dataclass
class VideoResult:
    ok: bool
    reason: str | None = None  # one of VIDEO_REASONS when not ok
    value: float | None = None
    detail: str = ""
    duration: float = 0.0
    fps: float = 0.0  # the stream's frame rate
    width: int = 0
    height: int = 0
    codec: str = ""
    container: str = ""
    timestamps: list[float] = field(default_factory=list)
    frames: list[bytes] = field(default_factory=list)  # JPEGs, in time order
    meta: dict[str, Any] = field(default_factory=dict)


def check_file(path: str, cfg: VideoConfig) -> VideoResult | None:
    """Reject what must never reach the decoder: missing, special and empty or huge files."""
    try:
        st = os.stat(path)
    except OSError as exc:
        return VideoResult(False, "missing", detail=str(exc)[:300])
    if not stat.S_ISREG(st.st_mode):  # FIFOs and devices would block or never end
        return VideoResult(False, "not_a_file", detail=path[:300])
    return check_size(st.st_size, cfg)


def check_size(n: int, cfg: VideoConfig) -> VideoResult | None:
    if n == 0:
        return VideoResult(False, "empty", 0.0)
    if cfg.max_bytes and n > cfg.max_bytes:
        return VideoResult(False, "too_large_bytes", float(n))
    return None


def _frame_jpeg(frame: Any, cfg: VideoConfig) -> bytes:
    w, h = frame.width, frame.height
    scale = min(1.0, cfg.max_side / max(w, h))
    size = {"width": max(2, round(w * scale)), "height": max(2, round(h * scale))}
    image = frame.to_image(**size) if scale < 1.0 else frame.to_image()
    buf = io.BytesIO()
    image.save(buf, "JPEG", quality=cfg.jpeg_quality)
    return buf.getvalue()


def _duration(container: Any, stream: Any) -> float | None:
    if stream.duration and stream.time_base:
        return float(stream.duration * stream.time_base)
    if container.duration:
        return container.duration / 1_000_000
    return None


def _is_picture(stream: Any) -> bool:
    """A cover image in an audio file is a video stream, but not a video."""
    from av.stream import Disposition

    return bool(int(stream.disposition) & int(Disposition.attached_pic))


def sample_video(source: str | bytes, cfg: VideoConfig) -> VideoResult:
    """Decode `source` (a path or the file's bytes) and sample its frames. Never raises."""
    import av

    try:
        src = io.BytesIO(source) if isinstance(source, bytes) else source
        container = av.open(src, "r", metadata_errors="ignore")
    except Exception as exc:
        return VideoResult(False, "undecodable", detail=f"{type(exc).__name__}: {exc}"[:300])
    try:
        return _sample(container, cfg)
    except Exception as exc:  # errors past the header: a corrupt stream
        return VideoResult(False, "decode_error", detail=f"{type(exc).__name__}: {exc}"[:300])
    finally:
        container.close()


def _sample(container: Any, cfg: VideoConfig) -> VideoResult:
    videos = [s for s in container.streams.video if not _is_picture(s)]
    if not videos:
        n_audio = len(container.streams.audio)
        if n_audio:
            return VideoResult(False, "no_video_stream", float(n_audio), "audio only")
        return VideoResult(False, "no_frames", 0.0, "no media streams")
    stream = videos[0]
    ctx = stream.codec_context
    res = VideoResult(False, width=int(ctx.width or 0), height=int(ctx.height or 0),
                      codec=ctx.name or "", container=container.format.name or "")
    rate = stream.average_rate or stream.guessed_rate
    res.fps = round(float(rate), 4) if rate else 0.0
    if res.width * res.height > cfg.max_pixels:
        res.reason, res.value = "too_large_frame", float(res.width * res.height)
        return res
    declared = _duration(container, stream)
    if declared is not None and cfg.max_duration and declared > cfg.max_duration:
        res.reason, res.value = "too_long", round(declared, 3)
        return res

    t0: float | None = None
    last = 0.0
    next_target = 0.0
    stopped = False
    for frame in container.decode(stream):
        if frame.time is None:
            continue
        t0 = frame.time if t0 is None else t0
        t = frame.time - t0
        last = max(last, t)
        if t + _EPS < next_target:
            continue
        res.frames.append(_frame_jpeg(frame, cfg))
        res.timestamps.append(round(t, 3))
        # Skip every target already passed, so a gap in the stream gives no duplicate frames.
        next_target = (math.floor(t * cfg.fps + _EPS) + 1) / cfg.fps
        if len(res.frames) >= cfg.max_frames:
            stopped = True
            break
    if not res.frames:
        res.reason, res.value = "no_frames", round(declared or 0.0, 3)
        return res
    step = 1.0 / res.fps if res.fps else 0.0
    span = last + step
    res.duration = round(declared if declared is not None else span, 3)
    if not stopped and declared and span < cfg.min_coverage * declared:
        res.frames, res.timestamps = [], []
        res.reason, res.value = "truncated", round(span, 3)
        res.detail = f"decoded {span:.2f}s of {declared:.2f}s"
        return res
    res.meta = {"duration_declared": declared is not None, "decoded_to_end": not stopped}
    res.ok = True
    return res


def sha256_file(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _serve(conn: Any) -> None:
    """Child loop: (source, cfg) in, VideoResult out, until the pipe closes."""
    import av  # noqa: F401  (import once, before reporting ready)

    conn.send("ready")
    while True:
        try:
            job = conn.recv()
        except (EOFError, OSError):
            return
        conn.send(sample_video(*job))


class DecodeWorker:
    """One child process that decodes clips with a real time limit per clip.

    A clip that overruns `cfg.timeout` gets its child killed (SIGKILL) and a `timeout` result;
    a child that dies gets `worker_crash`. The next clip starts a fresh child."""

    def __init__(self, start_timeout: float = 60.0) -> None:
        self.start_timeout = start_timeout
        self._proc: Any = None
        self._conn: Any = None
        self.restarts = 0

    def _start(self) -> None:
        ctx = mp.get_context("spawn")  # fork is unsafe in a threaded worker
        parent, child = ctx.Pipe()
        proc = ctx.Process(target=_serve, args=(child,), daemon=True, name="m3w-video-decode")
        proc.start()
        child.close()
        if not parent.poll(self.start_timeout) or parent.recv() != "ready":
            proc.kill()
            raise RuntimeError("video decode worker did not start")
        self._proc, self._conn = proc, parent

    def _stop(self) -> None:
        if self._proc is not None:
            self._proc.kill()
            self._proc.join(5)
            self._conn.close()
        self._proc = self._conn = None

    def decode(self, source: str | bytes, cfg: VideoConfig) -> VideoResult:
        if self._proc is None or not self._proc.is_alive():
            self._stop()
            self._start()
        started = time.monotonic()
        try:
            self._conn.send((source, cfg))
            if self._conn.poll(cfg.timeout):
                return self._conn.recv()
        except (EOFError, OSError, BrokenPipeError) as exc:
            self._stop()
            self.restarts += 1
            return VideoResult(False, "worker_crash", detail=f"{type(exc).__name__}: {exc}")
        self._stop()  # overran: kill it, whatever it is stuck in
        self.restarts += 1
        return VideoResult(False, "timeout", round(time.monotonic() - started, 3),
                           f"decode took over {cfg.timeout}s")

    def close(self) -> None:
        if self._conn is not None:
            try:
                self._conn.close()  # the child sees EOF and exits
            except OSError:
                pass
        if self._proc is not None:
            self._proc.join(2)
            if self._proc.is_alive():
                self._proc.kill()
                self._proc.join(2)
        self._proc = self._conn = None
