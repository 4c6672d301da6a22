"""Reading built shards: the manifest, tar indexes, and a sample stream with an exact position.

Tars are read directly (no webdataset pipeline) so that a position is three integers: epoch,
shard, sample. The order is a pure function of (seed, epoch, shard), which makes resume exact
without replaying anything.
"""

from __future__ import annotations

import json
import os
import tarfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

KINDS = ("interleaved", "alt_text", "image_text", "video_text")


@dataclass
class SourceSpec:
    name: str
    kind: str
    weight: float
    samples: int
    shards: list[Path] = field(default_factory=list)


def read_manifest(path: str | os.PathLike) -> dict[str, SourceSpec]:
    """Sources of a build's manifest.json, shard paths resolved against its folder."""
    path = Path(path)
    if path.is_dir():
        path = path / "manifest.json"
    man = json.loads(path.read_text())
    out = {}
    for name, src in man.get("sources", {}).items():
        kind = src.get("kind", name)
        if kind not in KINDS:
            raise ValueError(f"{path}: source {name!r} has unknown kind {kind!r}")
        shards = [path.parent / s["path"] for s in src.get("shards", [])]
        out[name] = SourceSpec(name, kind, float(src.get("weight", 1.0)),
                               int(src.get("samples", 0)), shards)
    return out


@dataclass
class TarSample:
    key: str
    shard: str
    members: dict[str, bytes]  # extension after the key's first dot ("json", "000.jpg") -> bytes


def split_member(name: str) -> tuple[str, str]:
    """`dir/KEY.000.jpg` -> (`dir/KEY`, `000.jpg`): webdataset's rule, split at the first dot."""
    folder, base = os.path.split(name)
    key, _, ext = base.partition(".")
    return os.path.join(folder, key) if folder else key, ext


def index_tar(path: Path, counters: Counter | None = None) -> list[tuple[str, dict]]:
    """[(key, {ext: (offset, size)})] in the order keys first appear. A damaged tail is counted
    (`shard_damaged`) and what came before it kept."""
    samples: dict[str, dict] = {}
    try:
        with tarfile.open(path, "r:") as tf:
            while True:
                try:
                    info = tf.next()
                except tarfile.TarError:
                    if counters is not None:
                        counters["shard_damaged"] += 1
                    break
                if info is None:
                    break
                if not info.isfile():
                    continue
                key, ext = split_member(info.name)
                samples.setdefault(key, {})[ext] = (info.offset_data, info.size)
    except (OSError, tarfile.TarError):
        if counters is not None:
            counters["shard_unreadable"] += 1
    return list(samples.items())


class ShardStream:
    """Endless samples over a source's shards. Each epoch permutes the shards, and the samples in
    each shard, from (seed, epoch, shard); rank r of `world` takes every world-th sample."""

    def __init__(self, shards: list[Path], seed: int | list[int], rank: int = 0, world: int = 1,
                 shuffle: bool = True, counters: Counter | None = None):
        if not shards:
            raise ValueError("a source with no shards")
        self.shards, self.rank, self.world = list(shards), rank, world
        self.seed = list(seed) if isinstance(seed, (list, tuple)) else [seed]
        self.shuffle = shuffle
        self.counters = counters if counters is not None else Counter()
        self.epoch = self.shard_pos = self.sample_pos = 0
        self._index: dict[int, list] = {}
        self._order: tuple[int, int, list] | None = None  # (epoch, shard_pos, sample order)

    def state_dict(self) -> dict:
        return {"epoch": self.epoch, "shard_pos": self.shard_pos, "sample_pos": self.sample_pos}

    def load_state_dict(self, state: dict) -> None:
        self.epoch, self.shard_pos = int(state["epoch"]), int(state["shard_pos"])
        self.sample_pos = int(state["sample_pos"])
        self._order = None

    def _shard_order(self, epoch: int) -> list[int]:
        order = list(range(len(self.shards)))
        if self.shuffle:
            np.random.default_rng([*self.seed, epoch]).shuffle(order)
        return order

    def _current(self) -> tuple[int, list]:
        if self._order is None or self._order[:2] != (self.epoch, self.shard_pos):
            shard = self._shard_order(self.epoch)[self.shard_pos]
            if shard not in self._index:
                self._index[shard] = index_tar(self.shards[shard], self.counters)
            order = list(range(len(self._index[shard])))
            if self.shuffle:
                np.random.default_rng([*self.seed, self.epoch, shard]).shuffle(order)
            self._order = (self.epoch, self.shard_pos, order[self.rank::self.world])
        return self._shard_order(self.epoch)[self.shard_pos], self._order[2]

    def next(self) -> TarSample:
        empty_shards = 0
        while True:
            shard, order = self._current()
            if self.sample_pos < len(order):
                break
            empty_shards += 1 if self.sample_pos == 0 else 0
            if empty_shards > len(self.shards):
                raise RuntimeError(f"no samples in any shard of {self.shards[0].parent}")
            self.sample_pos = 0
            self.shard_pos += 1
            if self.shard_pos == len(self.shards):
                self.shard_pos, self.epoch = 0, self.epoch + 1
        key, members = self._index[shard][order[self.sample_pos]]
        self.sample_pos += 1
        path = self.shards[shard]
        data = {}
        with open(path, "rb") as f:
            for ext, (offset, size) in members.items():
                f.seek(offset)
                data[ext] = f.read(size)
        return TarSample(key=key, shard=path.name, members=data)
