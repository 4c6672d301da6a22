"""Image-text and video-text pair records."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class ImageTextPair:
    key: str
    caption: str
    url: str = ""
    width: int | None = None
    height: int | None = None
    sha256: str | None = None
    source: str = ""
    meta: dict[str, Any] = field(default_factory=dict)


@dataclass
class VideoTextPair:
    key: str
    caption: str
    url: str = ""
    duration: float = 0.0
    fps: float = 0.0
    width: int = 0
    height: int = 0
    codec: str = ""
    timestamps: list[float] = field(default_factory=list)
    meta: dict[str, Any] = field(default_factory=dict)
