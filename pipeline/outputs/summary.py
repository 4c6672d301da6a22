"""Distributions over what a build kept, combined per worker then merged: `m3w stats` shows
them."""

from __future__ import annotations

import json
from collections import Counter
from urllib.parse import urlsplit

import apache_beam as beam

from pipeline.file_shuffle import RUNNER, Shuffle
from schemas import Document


def doc_summary(item: tuple[Document, dict[str, bytes]]) -> tuple[int, int, int, str, str]:
    doc, _ = item
    host = (urlsplit(doc.url).hostname or "").lower()
    n_text = sum(1 for n in doc.nodes if not hasattr(n, "src"))
    return len(doc.images), len(doc.text), n_text, host, doc.language or ""


class _AdditiveCombineFn(beam.CombineFn):
    """Accumulators are dicts of numbers and Counters, merged by adding them key by key."""

    def merge_accumulators(self, accs):
        out = self.create_accumulator()
        for a in accs:
            for k, v in a.items():
                out[k] = out[k] + v
        return out


class SummaryFn(_AdditiveCombineFn):
    """Distributions over kept documents: images per doc, text length, languages. Domains are
    counted apart (``TopDomains``): one accumulator holding every host would not fit."""

    def create_accumulator(self):
        return {"docs": 0, "images": Counter(), "chars": Counter(),
                "languages": Counter(), "text_nodes": 0, "total_chars": 0, "total_images": 0}

    def add_input(self, acc, s):
        n_img, n_chars, n_text, _host, lang = s
        acc["docs"] += 1
        acc["images"][min(n_img, 50)] += 1
        acc["chars"][_log_bucket(n_chars)] += 1
        acc["languages"][lang or "unknown"] += 1
        acc["text_nodes"] += n_text
        acc["total_chars"] += n_chars
        acc["total_images"] += n_img
        return acc

    def extract_output(self, acc):
        return {
            "documents": acc["docs"],
            "images": acc["total_images"],
            "text_chars": acc["total_chars"],
            "text_nodes": acc["text_nodes"],
            "images_per_document": {str(k): v for k, v in sorted(acc["images"].items())},
            "text_chars_histogram": {str(k): v for k, v in sorted(acc["chars"].items())},
            "top_domains": [],  # filled by with_top_domains
            "languages": dict(acc["languages"].most_common()),
        }


TOP_DOMAINS = 50


def _rank(kv: tuple[str, int]) -> tuple[int, tuple[int, ...]]:
    # More documents first; among equals the alphabetically first host, so ties at the cut
    # never depend on the runner. Negated code points plus a sentinel invert string order.
    return kv[1], tuple(-ord(c) for c in kv[0]) + (1,)


class TopDomains(beam.PTransform):
    """doc_summary tuples -> one list of the TOP_DOMAINS (host, documents), most first.
    Hosts are summed per key across workers first, so no worker holds every host."""

    def __init__(self, n: int = TOP_DOMAINS, shuffle: Shuffle = RUNNER) -> None:
        super().__init__()
        self.n, self.sh = n, shuffle

    def expand(self, summaries):
        hosts = summaries | "Host" >> beam.Map(lambda s: (s[3], 1))
        return (self.sh.combine("PerHost", hosts, sum)
                | "Top" >> beam.combiners.Top.Of(self.n, key=_rank))


def with_top_domains(summary: dict, top: list[tuple[str, int]]) -> dict:
    out = dict(summary)
    out["top_domains"] = [[h, n] for h, n in sorted(top, key=_rank, reverse=True)]
    return out


def _log_bucket(n: int) -> int:
    """Lower bound of n's power-of-two bucket (0, 1, 2, 4, 8, ...)."""
    return 0 if n <= 0 else 1 << (n.bit_length() - 1)


def pair_summary(sample: tuple[str, dict[str, bytes]]) -> dict[str, float]:
    """The numbers `m3w stats` shows for one pair sample, read from its members."""
    _, members = sample
    meta = json.loads(members.get("json", b"{}"))
    caption = members.get("txt", b"").decode("utf-8", "replace")
    out = {"caption_chars": len(caption), "caption_words": len(caption.split())}
    if meta.get("width") and meta.get("height"):
        out["short_side"] = min(meta["width"], meta["height"])
    if "timestamps" in meta:
        out["frames"] = len(meta["timestamps"])
        out["duration"] = float(meta.get("duration") or 0.0)
    return out


class PairSummaryFn(_AdditiveCombineFn):
    """Per pair source: count, means, and histograms of caption words, sizes, frames."""

    def create_accumulator(self):
        return {"samples": 0, "sums": Counter(), "caption_words": Counter(),
                "short_side": Counter(), "frames": Counter()}

    def add_input(self, acc, s):
        acc["samples"] += 1
        acc["sums"].update({k: v for k, v in s.items()})
        acc["caption_words"][_log_bucket(s["caption_words"])] += 1
        if "short_side" in s:
            acc["short_side"][_log_bucket(int(s["short_side"]))] += 1
        if "frames" in s:
            acc["frames"][int(s["frames"])] += 1
        return acc

    def extract_output(self, acc):
        n = max(acc["samples"], 1)
        return {
            "samples": acc["samples"],
            "means": {k: round(v / n, 3) for k, v in sorted(acc["sums"].items())},
            "caption_words_histogram": {str(k): v for k, v in sorted(acc["caption_words"].items())},
            "short_side_histogram": {str(k): v for k, v in sorted(acc["short_side"].items())},
            "frames_per_clip": {str(k): v for k, v in sorted(acc["frames"].items())},
        }
