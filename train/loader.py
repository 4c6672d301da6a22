"""One loader per source: stream -> sample builder -> padded batch, with an exact position.

A loader's state is its stream position, its RNG state and its counters; restoring it makes
the following batches identical to the ones an uninterrupted run would have drawn.
"""

from __future__ import annotations

import copy
import queue
import threading
import zlib
from collections import Counter

import numpy as np
import torch

from train.samples import Builder, InterleavedBuilder, Item, PairBuilder, VideoBuilder
from train.shards import ShardStream, SourceSpec
from train.tokens import SpecialIds


def collate(items: list[Item], ids: SpecialIds) -> dict[str, torch.Tensor]:
    """Right-pad to the longest sample; media to the most images, padding slots masked out.

    labels are the inputs with -100 where nothing is to be predicted: padding and `<image>`
    (its position is given, not generated). The first token is never a target (shifted loss).
    """
    b = len(items)
    length = max(len(it.ids) for it in items)
    n_media = max(1, max(len(it.media) for it in items))
    frame = next((m for it in items for m in it.media), None)
    t, h, w = frame.shape[:3] if frame is not None else (1, 1, 1)
    input_ids = torch.full((b, length), ids.pad, dtype=torch.long)
    attention = torch.zeros((b, length), dtype=torch.long)
    media = torch.zeros((b, n_media, t, 3, h, w), dtype=torch.uint8)
    media_mask = torch.zeros((b, n_media), dtype=torch.bool)
    for i, it in enumerate(items):
        input_ids[i, : len(it.ids)] = torch.tensor(it.ids)
        attention[i, : len(it.ids)] = 1
        for j, m in enumerate(it.media):
            media[i, j] = torch.from_numpy(m).permute(0, 3, 1, 2)
            media_mask[i, j] = True
    labels = input_ids.masked_fill((attention == 0) | (input_ids == ids.image), -100)
    tie_next = torch.tensor([it.tie_next for it in items], dtype=torch.bool)
    return {"input_ids": input_ids, "attention_mask": attention, "labels": labels,
            "media": media, "media_mask": media_mask, "tie_next": tie_next}


def make_builder(kind: str, tokenizer, ids: SpecialIds, image_size: int, *, max_len: int,
                 pair_max_len: int, max_images: int, p_next: float, frames: int) -> Builder:
    if kind == "interleaved":
        return InterleavedBuilder(tokenizer, ids, image_size, max_len, max_images, p_next)
    if kind == "video_text":
        return VideoBuilder(tokenizer, ids, image_size, pair_max_len, frames)
    return PairBuilder(tokenizer, ids, image_size, pair_max_len)


class SourceLoader:
    def __init__(self, spec: SourceSpec, builder: Builder, ids: SpecialIds, batch_size: int,
                 seed: int, rank: int = 0, world: int = 1):
        self.name, self.builder, self.ids, self.batch_size = spec.name, builder, ids, batch_size
        self.counters: Counter = Counter()
        source_seed = zlib.crc32(spec.name.encode())  # sources draw independent orders
        self.stream = ShardStream(spec.shards, [seed, source_seed], rank, world,
                                  counters=self.counters)
        self.rng = np.random.default_rng([seed, source_seed, rank])
        self.max_tries = 100 * batch_size + 10 * max(spec.samples, 1)

    def next_batch(self) -> dict[str, torch.Tensor]:
        items: list[Item] = []
        tries = 0
        while len(items) < self.batch_size:
            tries += 1
            if tries > self.max_tries:
                raise RuntimeError(f"source {self.name}: no usable sample in {tries - 1} tries; "
                                   f"counters {dict(self.counters)}")
            sample = self.stream.next()
            self.counters["samples_read"] += 1
            item = self.builder(sample, self.rng, self.counters)
            if item is None:
                self.counters["samples_unusable"] += 1
                continue
            items.append(item)
        return collate(items, self.ids)

    def state_dict(self) -> dict:
        return {"stream": self.stream.state_dict(), "rng": self.rng.bit_generator.state,
                "counters": dict(self.counters)}

    def load_state_dict(self, state: dict) -> None:
        self.stream.load_state_dict(state["stream"])
        self.rng.bit_generator.state = state["rng"]
        self.counters.clear()
        self.counters.update(state["counters"])


class Prefetcher:
    """Builds batches in a background thread. Each batch travels with the loader state right
    after it was drawn, so a checkpoint records the position of what was consumed, not of what
    was prefetched. Pillow and the tokenizer release the GIL for most of their work."""

    def __init__(self, loader: SourceLoader, depth: int = 2, pin: bool = False):
        self.loader, self.pin = loader, pin
        self.state = copy.deepcopy(loader.state_dict())
        self.counters = Counter(self.state["counters"])
        self._q: queue.Queue = queue.Queue(maxsize=depth)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._work, daemon=True)
        self._thread.start()

    def _work(self) -> None:
        while not self._stop.is_set():
            try:
                batch = self.loader.next_batch()
                if self.pin:
                    batch = {k: v.pin_memory() for k, v in batch.items()}
                item = (batch, copy.deepcopy(self.loader.state_dict()))
            except Exception as exc:  # noqa: BLE001 - re-raised in the consumer
                item = exc
            while not self._stop.is_set():
                try:
                    self._q.put(item, timeout=0.1)
                    break
                except queue.Full:
                    continue
            if isinstance(item, Exception):
                return

    def next_batch(self) -> dict[str, torch.Tensor]:
        item = self._q.get()
        if isinstance(item, Exception):
            raise item
        batch, self.state = item
        self.counters = Counter(self.state["counters"])
        return batch

    def state_dict(self) -> dict:
        return self.state

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
