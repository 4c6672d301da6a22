"""Existing corpora as build inputs.

OBELICS-schema Parquet (one document a row: ``texts`` and ``images`` aligned by position) and
MMC4-schema JSONL (one document a line, plain or gzipped: ``text_list`` and ``image_info``)
enter the interleaved build as Documents, after extraction, with their images referenced by
URL. From there they take the same road as pages read from WARCs: node and document filters,
dedup, decontamination, the image stage and the shards. Images whose bytes the row holds (an
``m3w export --embed-images`` file, or MMC4's ``image_base64``) are used as they are and never
fetched (``pipeline.imports.embedded``).

Accounting: every row is one record read and one html-like record, which ends as a Document
(stage ``extract``, out) or as a reject of stage ``extract`` with filter ``import/v1`` and a
reason from ``IMPORT_REASONS``; a file that cannot be read to its end adds one ``read`` reject,
as a broken WARC does.
"""
