"""Live progress for local runs: DoFns bump process-wide counters, a thread prints them.

On the in-process runner every DoFn shares this process, so the counters are the build's. On a
distributed runner each worker has its own copy and nothing is printed: watch the runner's UI
(the same names are exported as Beam metrics there).
"""

from __future__ import annotations

import sys
import threading
import time

from apache_beam.metrics import Metrics

_lock = threading.Lock()
_counts: dict[str, int] = {}
_metrics: dict[str, object] = {}

# The image path's own CPU (decode, resize, hash, statistics, encode; thread time in µs) and
# its calls: the benches split a build's CPU into the image path and the rest with them.
IMAGE_PATH_CPU_US, IMAGE_PATH_CALLS = "image_path_cpu_us", "image_path_calls"
SHOWN = ("records_read", "documents_extracted", "images_resolved", "images_fetched",
         "documents_kept")


def add(name: str, n: int = 1) -> None:
    with _lock:
        _counts[name] = _counts.get(name, 0) + n
        counter = _metrics.get(name)
        if counter is None:
            counter = _metrics[name] = Metrics.counter("m3w", name)
    counter.inc(n)  # type: ignore[attr-defined]


def snapshot() -> dict[str, int]:
    with _lock:
        return dict(_counts)


def reset() -> None:
    with _lock:
        _counts.clear()


class Reporter:
    """Prints one status line every ``interval`` seconds to stderr while a build runs."""

    def __init__(self, interval: float = 2.0, stream=sys.stderr) -> None:
        self.interval = interval
        self.stream = stream
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._start = time.monotonic()

    def __enter__(self) -> Reporter:
        reset()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self._line()

    def _line(self) -> None:
        c = snapshot()
        dt = max(time.monotonic() - self._start, 1e-6)
        parts = [f"{k.replace('_', ' ')} {c.get(k, 0):,}" for k in SHOWN]
        rate = c.get("records_read", 0) / dt
        print(f"[{dt:6.1f}s] " + " | ".join(parts) + f" | {rate:,.0f} records/s",
              file=self.stream, flush=True)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self._line()
