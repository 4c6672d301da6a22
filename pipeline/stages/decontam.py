"""Decontamination against evaluation sets: documents sharing a long word n-gram with an
evaluation text leave the build, with the matching evaluation item named in the reject.
(Images are matched in the image stage, once they are decoded.)"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from typing import Any

import apache_beam as beam
from apache_beam import pvalue
from apache_beam.utils.shared import Shared

from pipeline.rejects import REJECTS, excerpt
from schemas import Document, Reject

DECONTAM_STAGE = "decontam"
TEXT_FILTER = "decontam_text/v1"
IMAGE_FILTER = "decontam_image/v1"
DECONTAM_REASONS = {TEXT_FILTER: ("eval_text_match",), IMAGE_FILTER: ("eval_image_match",)}


def text_index(dcfg: dict[str, Any]):
    """The evaluation-text index of a ``decontam`` config section, or None when it names no
    text."""
    if not dcfg["eval_texts"]:
        return None
    from filters.decontam import EvalTextIndex
    from pipeline.sources.files import BEAM

    return EvalTextIndex.from_paths(list(dcfg["eval_texts"]), n=dcfg["ngram"],
                                    min_words=dcfg["min_words"], storage=BEAM)


def image_index(dcfg: dict[str, Any]):
    if not dcfg["eval_images"]:
        return None
    from filters.decontam import EvalImageIndex
    from pipeline.sources.files import BEAM

    return EvalImageIndex.from_paths(list(dcfg["eval_images"]),
                                     max_distance=dcfg["max_distance"], storage=BEAM)


class SharedIndex:
    """A read-only index (or None) as Beam's ``Shared`` holds it: Shared references what it
    hands out weakly, so the holder must stay referenced while the index is used."""

    def __init__(self, index: Any) -> None:
        self.index = index


def shared_index(build: Callable[[], Any], shared: Shared | None, tag: str = ""
                 ) -> SharedIndex:
    """``build()``, once per worker process when ``shared`` is given (every DoFn instance of
    the process then holds the same index), else once for the caller."""
    if shared is None:
        return SharedIndex(build())
    return shared.acquire(lambda: SharedIndex(build()), tag=tag)


class DecontamTextFn(beam.DoFn):
    """The index is built once per worker process from the evaluation files and shared by
    every DoFn instance (thread) of that process."""

    def __init__(self, dcfg: dict[str, Any], tag_only: bool) -> None:
        self.dcfg, self.tag_only = dcfg, tag_only
        self._shared = Shared()
        self._holder: SharedIndex | None = None

    def setup(self) -> None:
        self._holder = shared_index(lambda: text_index(self.dcfg), self._shared)

    def process(self, doc: Document) -> Iterator[Any]:
        index = self._holder.index if self._holder is not None else None
        hit = index.match(doc.text) if index is not None else None
        if hit is None:
            yield doc
        elif self.tag_only:  # a marked copy: Beam's inputs are not to be changed
            yield dataclasses.replace(doc, meta={**doc.meta, "eval_text_match": hit})
        else:
            yield pvalue.TaggedOutput(REJECTS, Reject(
                doc.key, DECONTAM_STAGE, TEXT_FILTER, "eval_text_match", None, doc.url,
                f"eval item {hit}", excerpt=excerpt(doc.text)))


class DecontaminateText(beam.PTransform):
    def __init__(self, cfg: dict[str, Any]) -> None:
        super().__init__()
        self.cfg = cfg

    def expand(self, docs):
        return docs | "MatchEvalTexts" >> beam.ParDo(
            DecontamTextFn(self.cfg["decontam"], self.cfg["filters"]["tag_only"])
        ).with_outputs(REJECTS, main="docs")


class DecontamPairFn(beam.DoFn):
    """Pair samples (key, members) of one source: a caption matching an evaluation text, or a
    stored image or video frame matching an evaluation image, becomes that source's reject."""

    def __init__(self, stage: str, dcfg: dict[str, Any]) -> None:
        self.stage, self.dcfg = stage, dcfg
        self._texts = self._images = None

    def setup(self) -> None:
        self._texts, self._images = text_index(self.dcfg), image_index(self.dcfg)

    def _match(self, members: dict[str, bytes], meta: dict[str, Any]) -> tuple[str, str] | None:
        if self._texts is not None:
            hit = self._texts.match(members.get("txt", b"").decode("utf-8", "replace"))
            if hit is not None:
                return TEXT_FILTER, hit
        if self._images is None:
            return None
        from filters.decontam import image_phash
        from pipeline.outputs.image_store import member_bytes

        for name in sorted(members):
            if name == "jpg" or name.endswith(".jpg"):
                # decoded as the evaluation images were; a stored image is read back by path
                ph = image_phash(member_bytes(members[name]))
                sha = meta.get("sha256") if name == "jpg" else None
                hit = self._images.match(sha or "", ph)
                if hit is not None:
                    return IMAGE_FILTER, hit
        return None

    def process(self, sample: tuple[str, dict[str, bytes]]) -> Iterator[Any]:
        import json

        key, members = sample
        meta = json.loads(members.get("json", b"{}"))
        found = self._match(members, meta)
        if found is None:
            yield sample
            return
        name, hit = found
        source = (meta.get("meta") or {}).get("source_id") or key
        yield pvalue.TaggedOutput(REJECTS, Reject(
            source, self.stage, name, DECONTAM_REASONS[name][0], None, meta.get("url", ""),
            f"eval item {hit}"))


def decontaminate_pairs(stage: str, samples: beam.PCollection, cfg: dict[str, Any],
                        rejects: list[beam.PCollection]) -> beam.PCollection:
    """Samples of one pair source, less those matching the evaluation sets."""
    dcfg = cfg.get("decontam") or {}
    if not dcfg.get("eval_texts") and not dcfg.get("eval_images"):
        return samples
    out = samples | f"{stage}_Decontam" >> beam.ParDo(DecontamPairFn(stage, dcfg)).with_outputs(
        REJECTS, main="samples")
    rejects.append(out[REJECTS])
    return out.samples
