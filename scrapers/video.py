"""Video clips -> frames sampled at a fixed rate, as JPEGs, with their timestamps (PyAV).

`sample_video` does the work in-process and never raises. `DecodeWorker` runs it in a child
process and kills that child when a clip overruns its time limit: a demuxer blocked on a read
or a decoder stuck in C code cannot be interrupted from Python, but a process can be killed.
The child is started with subprocess, which works from any process, daemonic ones included.

Sampling: the first frame at or after each target time k / fps (k = 0, 1, ...), times measured
from the first decoded frame, stopping after `max_frames`. A 5.0 s clip at 1 FPS gives frames
at 0, 1, 2, 3, 4 s. Stored timestamps are the chosen frames' own presentation times.
"""

from __future__ import annotations

import hashlib
import io
import math
import os
import pickle
import select
import stat
import struct
import subprocess
import sys
import tempfile
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


_LEN = struct.Struct(">Q")


def _send(fh: Any, obj: Any) -> None:
    data = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    fh.write(_LEN.pack(len(data)) + data)
    fh.flush()


def _recv_blocking(fh: Any) -> Any:
    head = fh.read(_LEN.size)
    if len(head) < _LEN.size:
        raise EOFError
    n = _LEN.unpack(head)[0]
    return pickle.loads(fh.read(n))


def serve() -> None:
    """Child entry point: (path, VideoConfig) jobs on stdin, VideoResults on stdout, until
    stdin closes. Anything a library prints goes to stderr, never into the reply stream."""
    out = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    import av  # noqa: F401  (import once, before reporting ready)

    _send(out, "ready")
    jobs = sys.stdin.buffer
    while True:
        try:
            path, cfg = _recv_blocking(jobs)
        except (EOFError, OSError):
            return
        _send(out, sample_video(path, cfg))


def _read_exact(fd: int, n: int, deadline: float) -> bytes | None:
    """`n` bytes from `fd`, or None when `deadline` (a monotonic time) passes first."""
    buf = bytearray()
    while len(buf) < n:
        left = deadline - time.monotonic()
        if left <= 0:
            return None
        ready, _, _ = select.select([fd], [], [], left)
        if not ready:
            return None
        chunk = os.read(fd, min(n - len(buf), 1 << 20))
        if not chunk:
            raise EOFError("the decode process closed its output")
        buf += chunk
    return bytes(buf)


def _recv(fd: int, deadline: float) -> Any:
    """One reply from the child; None when the deadline passes first."""
    head = _read_exact(fd, _LEN.size, deadline)
    if head is None:
        return None
    body = _read_exact(fd, _LEN.unpack(head)[0], deadline)
    return None if body is None else pickle.loads(body)


_PROJECT_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_CHILD = "from scrapers.video import serve; serve()"


class DecodeWorker:
    """One child process that decodes clips with a real time limit per clip.

    The child is a fresh interpreter started with subprocess (not multiprocessing), so it also
    works inside daemonic worker processes, which may not have multiprocessing children. It
    always decodes a local file: bytes in hand are written to a temporary file first. A clip
    that overruns `cfg.timeout` gets its child killed (SIGKILL) and a `timeout` result; a
    child that dies gets `worker_crash`. The next clip starts a fresh child."""

    def __init__(self, start_timeout: float = 60.0) -> None:
        self.start_timeout = start_timeout
        self._proc: subprocess.Popen[bytes] | None = None
        self.restarts = 0

    def _start(self) -> None:
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(
            p for p in (_PROJECT_ROOT, env.get("PYTHONPATH", "")) if p)
        proc = subprocess.Popen([sys.executable, "-c", _CHILD], stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env,
                                close_fds=True)
        self._proc = proc
        try:
            ready = _recv(proc.stdout.fileno(), time.monotonic() + self.start_timeout)
        except (EOFError, OSError, pickle.UnpicklingError):
            ready = None
        if ready != "ready":
            self._stop()
            raise RuntimeError("video decode process did not start")

    def _stop(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
        proc.kill()
        proc.wait(5)
        for fh in (proc.stdin, proc.stdout):
            try:
                if fh is not None:
                    fh.close()
            except OSError:
                pass

    def decode(self, source: str | bytes, cfg: VideoConfig) -> VideoResult:
        if isinstance(source, bytes):
            with tempfile.NamedTemporaryFile(prefix="m3w-clip-") as tmp:
                tmp.write(source)
                tmp.flush()
                return self._decode_path(tmp.name, cfg)
        return self._decode_path(source, cfg)

    def _decode_path(self, path: str, cfg: VideoConfig) -> VideoResult:
        if self._proc is None or self._proc.poll() is not None:
            self._stop()
            self._start()
        proc = self._proc
        assert proc is not None and proc.stdin is not None and proc.stdout is not None
        started = time.monotonic()
        try:
            _send(proc.stdin, (path, cfg))  # a few hundred bytes: never blocks on the pipe
            res = _recv(proc.stdout.fileno(), started + cfg.timeout)
        except (EOFError, OSError, pickle.UnpicklingError) as exc:
            self._stop()
            self.restarts += 1
            return VideoResult(False, "worker_crash", detail=f"{type(exc).__name__}: {exc}")
        if res is not None:
            return res
        self._stop()  # overran: kill it, whatever it is stuck in
        self.restarts += 1
        return VideoResult(False, "timeout", round(time.monotonic() - started, 3),
                           f"decode took over {cfg.timeout}s")

    def close(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
        try:
            if proc.stdin is not None:
                proc.stdin.close()  # the child sees EOF and exits
        except OSError:
            pass
        try:
            proc.wait(2)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(2)
        if proc.stdout is not None:
            proc.stdout.close()
