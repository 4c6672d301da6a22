"""Real media made in tests: H.264 clips and audio-only files with PyAV, images with Pillow."""

from __future__ import annotations

from pipeline.sample_site.media import audio_only, clip, empty_clip, truncated
from tests.imagegen import image_bytes, truncated_jpeg

__all__ = ["audio_only", "clip", "empty_clip", "image_bytes", "truncated", "truncated_jpeg"]
