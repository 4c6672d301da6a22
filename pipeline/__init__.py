"""The Beam side of m3w: the build DAG, its stages, sources and outputs, and the command line.

Importing the package first installs a filter for one notice Beam logs on import when its
optional GCP client libraries are absent: it says nothing about the user's build (those
libraries matter only for gs:// and BigQuery, whose extras bring them), yet every command would
print it. Every other warning still shows.

It also tells Beam not to read the package's type annotations. They describe Python values for
readers and linters; Beam would turn them into coders and checks that do not hold (a 64-bit
unsigned perceptual hash annotated ``int`` gets the signed VarInt coder, a lazily read group is
not a ``list``). Element coders are registered explicitly (pipeline.coders).

And it has Beam look up each DoFn class's state and timer specs once (pipeline.beam_startup).
"""

from __future__ import annotations

import logging

_OPTIONAL_GCP_NOTICE = "apitools not found, and bigquery client libraries are not available"


class _DropOptionalGcpNotice(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith(_OPTIONAL_GCP_NOTICE)


if not any(isinstance(f, _DropOptionalGcpNotice) for f in logging.getLogger().filters):
    logging.getLogger().addFilter(_DropOptionalGcpNotice())

from apache_beam.typehints import disable_type_annotations  # noqa: E402 - after the filter

disable_type_annotations()

from pipeline.beam_startup import cache_dofn_specs, cache_function_args  # noqa: E402

cache_dofn_specs()
cache_function_args()
