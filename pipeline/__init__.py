"""The Beam side of m3w: the build DAG, its stages, sources and outputs, and the command line.

Importing the package first installs a filter for one notice Beam logs on import when its
optional GCP client libraries are absent: it says nothing about the user's build (those
libraries matter only for gs:// and BigQuery, whose extras bring them), yet every command would
print it. Every other warning still shows.
"""

from __future__ import annotations

import logging

_OPTIONAL_GCP_NOTICE = "apitools not found, and bigquery client libraries are not available"


class _DropOptionalGcpNotice(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith(_OPTIONAL_GCP_NOTICE)


if not any(isinstance(f, _DropOptionalGcpNotice) for f in logging.getLogger().filters):
    logging.getLogger().addFilter(_DropOptionalGcpNotice())
