"""Funnel counting without per-element traffic: each bundle sums its elements' labels and
emits one (label, count) pair per label when it finishes.

A label element per record would be one more element per record crossing the runner, and
the funnel's branches join at a Flatten after many stages, so a local runner would also
buffer them all. Counted per bundle, what moves is a few pairs per bundle and stage.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import apache_beam as beam
from apache_beam.utils.windowed_value import WindowedValue

from pipeline.bundles import at_bundle_end

Label = tuple[str, ...]
Counts = Iterable[tuple[Label, int]]


class _CountLabelsFn(beam.DoFn):
    def __init__(self, counts_of: Callable[[Any], Counts]) -> None:
        self._counts_of = counts_of

    def start_bundle(self) -> None:
        self._counts = Counter()

    def process(self, element: Any) -> Iterator[Any]:
        counts = self._counts
        for label, n in self._counts_of(element):
            counts[label] += n
        return iter(())  # everything leaves in finish_bundle

    def finish_bundle(self) -> Iterable[WindowedValue]:
        for label, n in self._counts.items():  # zeros too: a stage that ran says so
            yield at_bundle_end((label, n))


def count_labels(pcoll: beam.PCollection, name: str,
                 counts_of: Callable[[Any], Counts]) -> beam.PCollection:
    """(label, n) pairs summed per bundle over ``counts_of(element)`` for every element."""
    return pcoll | name >> beam.ParDo(_CountLabelsFn(counts_of))


def count_each(pcoll: beam.PCollection, name: str,
               label_of: Callable[[Any], Label]) -> beam.PCollection:
    """One count for ``label_of(element)`` per element, summed per bundle."""
    return count_labels(pcoll, name, lambda e: ((label_of(e), 1),))
