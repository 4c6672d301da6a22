"""One training sample per source kind, from a shard sample's members.

These decode and tokenize; they never curate. Whatever cannot be used (a missing or
undecodable member, an image node never stored) is counted under a named reason, and a sample
that cannot be used at all returns None, counted too. Token layout (Flamingo):

    interleaved: <BOS> window of the document, where the document is
                 text <EOC><image> text <EOC><image> text <EOC>
    pairs:       <BOS><image>caption<EOC><EOS>
    video:       <BOS><image>caption<EOC><EOS>, the <image> standing for T frames
"""

from __future__ import annotations

import io
import json
import re
from collections import Counter
from dataclasses import dataclass

import numpy as np
from PIL import Image

from train.shards import TarSample
from train.tokens import SpecialIds

MEAN_RGB = (122, 116, 104)  # CLIP's mean colour: the padding shows the encoder "nothing"
IMAGE_EXTS = ("jpg", "jpeg", "png", "webp")
FRAME = re.compile(r"^(\d+)\.(jpg|jpeg|png|webp)$")


@dataclass
class Item:
    """A tokenized sample: ids, its media (each (T, H, W, 3) uint8), and the p_next draw."""

    ids: list[int]
    media: list[np.ndarray]
    tie_next: bool = False


def decode_image(data: bytes, size: int) -> np.ndarray:
    """RGB, longer side resized to `size`, aspect kept, centred on a mean-colour square."""
    with Image.open(io.BytesIO(data)) as im:
        im.draft("RGB", (size, size))  # JPEG: decode at a reduced scale when possible
        im = im.convert("RGB")
        w, h = im.size
        scale = size / max(w, h)
        nw, nh = max(1, round(w * scale)), max(1, round(h * scale))
        im = im.resize((nw, nh), Image.BILINEAR)
        canvas = Image.new("RGB", (size, size), MEAN_RGB)
        canvas.paste(im, ((size - nw) // 2, (size - nh) // 2))
        return np.array(canvas, dtype=np.uint8)


def _try_decode(data: bytes, size: int, counters: Counter, reason: str) -> np.ndarray | None:
    try:
        return decode_image(data, size)
    except Exception:  # noqa: BLE001 - any decoder failure is the same fact: unusable member
        counters[reason] += 1
        return None


def _caption(sample: TarSample, counters: Counter) -> str | None:
    if "txt" in sample.members:
        return sample.members["txt"].decode("utf-8", errors="replace").strip()
    try:
        return str(json.loads(sample.members["json"])["caption"]).strip()
    except (KeyError, ValueError, TypeError):
        counters["missing_caption"] += 1
        return None


class Builder:
    def __init__(self, tokenizer, ids: SpecialIds, image_size: int, max_len: int):
        self.tok, self.ids, self.size, self.max_len = tokenizer, ids, image_size, max_len

    def encode(self, texts: list[str]) -> list[list[int]]:
        # split_special_tokens: a page that literally says "<image>" must not fake an image
        return self.tok(texts, add_special_tokens=False, split_special_tokens=True)["input_ids"]

    def __call__(self, sample: TarSample, rng: np.random.Generator,
                 counters: Counter) -> Item | None:
        raise NotImplementedError


class InterleavedBuilder(Builder):
    """A random window of `max_len` tokens of a document, keeping its first `max_images` images.

    `<image>` tokens beyond the limit are removed (counted `images_over_limit`) and the window
    extends to stay full. The document ends in <EOC> with no <EOS>, as in SPEC §1.
    """

    def __init__(self, tokenizer, ids: SpecialIds, image_size: int, max_len: int = 256,
                 max_images: int = 5, p_next: float = 0.5):
        super().__init__(tokenizer, ids, image_size, max_len)
        self.max_images, self.p_next = max_images, p_next

    def document(self, sample: TarSample, counters: Counter) -> tuple[list[int], list[str]]:
        """Token ids of the whole document, and the member of each `<image>` in order."""
        doc = json.loads(sample.members["json"])
        segments: list[list[str]] = [[]]
        members: list[str] = []
        for node in doc.get("nodes", []):
            if node.get("type") == "text":
                segments[-1].append(node.get("text", ""))
            elif node.get("type") == "image":
                member = node.get("member")
                if not member:
                    counters["image_not_stored"] += 1
                elif member not in sample.members:
                    counters["image_member_missing"] += 1
                else:
                    members.append(member)
                    segments.append([])
        encoded = self.encode(["\n".join(s) for s in segments])
        ids: list[int] = list(encoded[0])
        for seg in encoded[1:]:
            if ids:
                ids.append(self.ids.eoc)  # <EOC> closes the chunk before each image
            ids.append(self.ids.image)
            ids.extend(seg)
        ids.append(self.ids.eoc)
        return ids, members

    def __call__(self, sample: TarSample, rng: np.random.Generator,
                 counters: Counter) -> Item | None:
        try:
            doc_ids, members = self.document(sample, counters)
        except (KeyError, ValueError, TypeError, AttributeError):
            counters["document_unreadable"] += 1
            return None
        body = self.max_len - 1
        start = int(rng.integers(0, max(0, len(doc_ids) - body) + 1))
        tie_next = bool(rng.random() < self.p_next)
        k = doc_ids[:start].count(self.ids.image)  # ordinal of the next image in the document
        ids, media = [self.ids.bos], []
        for t in doc_ids[start:]:
            if len(ids) == self.max_len:
                break
            if t == self.ids.image:
                k += 1
                if len(media) == self.max_images:
                    counters["images_over_limit"] += 1
                    continue
                data = sample.members[members[k - 1]]
                img = _try_decode(data, self.size, counters, "image_undecodable")
                if img is None:
                    continue
                media.append(img[None])
            ids.append(t)
        return Item(ids, media, tie_next)


class PairBuilder(Builder):
    """`<BOS><image>caption<EOC><EOS>`, the caption truncated to fit `max_len`."""

    def __call__(self, sample: TarSample, rng: np.random.Generator,
                 counters: Counter) -> Item | None:
        ext = next((e for e in IMAGE_EXTS if e in sample.members), None)
        if ext is None:
            counters["image_member_missing"] += 1
            return None
        img = _try_decode(sample.members[ext], self.size, counters, "image_undecodable")
        caption = _caption(sample, counters)
        if img is None or caption is None:
            return None
        if not caption:
            counters["empty_caption"] += 1  # still usable: it teaches <EOC><EOS> after an image
        text = self.encode([caption])[0][: self.max_len - 4]
        ids = [self.ids.bos, self.ids.image, *text, self.ids.eoc, self.ids.eos]
        return Item(ids, [img[None]])


class VideoBuilder(Builder):
    """Like a pair, the one `<image>` standing for `frames` frames evenly spaced in time.

    A clip with fewer stored frames repeats some (counted `video_frames_repeated`).
    """

    def __init__(self, tokenizer, ids: SpecialIds, image_size: int, max_len: int = 64,
                 frames: int = 8):
        super().__init__(tokenizer, ids, image_size, max_len)
        self.frames = frames

    def __call__(self, sample: TarSample, rng: np.random.Generator,
                 counters: Counter) -> Item | None:
        names = sorted((int(m.group(1)), n) for n in sample.members if (m := FRAME.match(n)))
        decoded = []
        for _, name in names:
            img = _try_decode(sample.members[name], self.size, counters, "frame_undecodable")
            if img is not None:
                decoded.append(img)
        caption = _caption(sample, counters)
        if not decoded:
            counters["video_without_frames"] += 1
            return None
        if caption is None:
            return None
        if len(decoded) < self.frames:
            counters["video_frames_repeated"] += 1
        pick = np.linspace(0, len(decoded) - 1, self.frames).round().astype(int)
        text = self.encode([caption])[0][: self.max_len - 4]
        ids = [self.ids.bos, self.ids.image, *text, self.ids.eoc, self.ids.eos]
        return Item(ids, [np.stack([decoded[i] for i in pick])])
