"""Samples -> WebDataset shards under shards/<source>/, through Beam's filesystems."""

from __future__ import annotations

import json
import math
import zlib

import apache_beam as beam

from pipeline.outputs.tar import write_bucket
from schemas import Document


def stable_bucket(key: str, n: int) -> int:
    return zlib.crc32(key.encode("utf-8", "replace")) % n


def document_sample(item: tuple[Document, dict[str, bytes]]) -> tuple[str, dict[str, bytes]]:
    doc, images = item
    members = {"json": json.dumps(doc.to_dict(), ensure_ascii=False, sort_keys=True).encode()}
    members.update(images)
    return doc.key, members


class _SizeFn(beam.CombineFn):
    def create_accumulator(self):
        return (0, 0)

    def add_input(self, acc, sample):
        return acc[0] + 1, acc[1] + sum(len(v) for v in sample[1].values())

    def merge_accumulators(self, accs):
        return tuple(map(sum, zip(*accs))) if accs else (0, 0)

    def extract_output(self, acc):
        return acc


def _n_buckets(size: tuple[int, int], max_samples: int, max_bytes: int) -> int:
    return max(1, math.ceil(size[0] / max_samples), math.ceil(size[1] / max_bytes))


class WriteShards(beam.PTransform):
    """(key, {ext: bytes}) samples -> shards/<source>/*.tar; emits (source, ShardInfo).

    Samples are spread over N buckets by a hash of their key, N from the total count and bytes,
    so names and contents depend only on the data, never on the runner's bundling."""

    def __init__(self, out_dir: str, source: str, max_samples: int, max_bytes: int) -> None:
        super().__init__()
        self.out_dir, self.source = out_dir, source
        self.max_samples, self.max_bytes = max_samples, max_bytes

    def expand(self, samples):
        size = samples | "Size" >> beam.CombineGlobally(_SizeFn())
        ms, mb = self.max_samples, self.max_bytes

        def keyed(sample, size):
            return stable_bucket(sample[0], _n_buckets(size, ms, mb)), sample

        def write(group):
            bucket, items = group
            infos = write_bucket(self.out_dir, self.source, bucket, items, ms, mb)
            return [(self.source, info) for info in infos]

        return (
            samples
            | "Bucket" >> beam.Map(keyed, size=beam.pvalue.AsSingleton(size))
            | "GroupBucket" >> beam.GroupByKey()
            | "WriteTar" >> beam.FlatMap(write)
        )
