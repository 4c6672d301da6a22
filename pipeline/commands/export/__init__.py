"""`m3w export DIR --format FORMAT --output OUT`: a build in the formats other tools read.

- ``obelics``: Parquet in OBELICS's schema (``obelics.py``), loadable with
  ``datasets.load_dataset("parquet", ...)``; ``--embed-images`` adds the JPEG bytes.
- ``mmc4``: WebDataset tars of MMC4 documents with base64 images, as OpenFlamingo's MMC4
  loader reads them (``mmc4.py``).
- ``hf``: the image-text pair sources as WebDataset tars with a fixed JSON schema, loadable
  with ``datasets.load_dataset("webdataset", ...)`` (``hf.py``).

Shards are read one at a time and output files are bounded (``sinks.py``), so memory does not
grow with the build; Beam options after ``--`` run it as a Beam job over the shard list
(``job.py``).
"""

from __future__ import annotations

import argparse
import sys
import time

FORMATS = ("obelics", "mmc4", "hf")


def add_arguments(p: argparse.ArgumentParser) -> None:
    from pipeline.commands.export.sinks import Limits

    d = Limits()
    p.add_argument("dir", help="a build's output directory (holding manifest.json)")
    p.add_argument("--format", required=True, choices=FORMATS, help="the format to write")
    p.add_argument("--output", required=True, metavar="OUT", help="output directory")
    p.add_argument("--embed-images", action="store_true",
                   help="obelics: add the stored JPEG bytes (column image_bytes)")
    p.add_argument("--sources", nargs="+", metavar="SOURCE",
                   help="hf: which pair sources (default: alt_text and image_text, as built)")
    p.add_argument("--max-rows", type=int, default=d.max_rows, metavar="N",
                   help=f"documents or pairs per output file (default {d.max_rows})")
    p.add_argument("--max-bytes", type=int, default=d.max_bytes, metavar="N",
                   help=f"bytes per output file, roughly (default {d.max_bytes})")
    p.add_argument("--row-group", type=int, default=d.row_group_rows, metavar="N",
                   help=f"obelics: rows per Parquet row group at most (default {d.row_group_rows};"
                   f" a group also closes at {d.row_group_bytes >> 20} MiB)")


def _sources(fmt: str, manifest: dict, asked: list[str] | None) -> list[str]:
    from pipeline.commands.export import hf, mmc4, obelics

    default = {"obelics": obelics.SOURCES, "mmc4": mmc4.SOURCES, "hf": hf.SOURCES}[fmt]
    if asked and fmt != "hf":
        raise ValueError("--sources applies to --format hf only")
    unknown = sorted(set(asked or ()) - set(hf.SOURCES))
    if unknown:
        raise ValueError(f"--sources: {', '.join(unknown)} are not image-text pair sources")
    built = manifest.get("sources", {})
    chosen = [s for s in (asked or default) if s in built]
    if not chosen:
        raise ValueError(f"the build has no {' or '.join(asked or default)} source to export")
    return chosen


def export_command(args: argparse.Namespace, beam_args: list[str]) -> int:
    from pipeline.commands.export.job import ExportSpec, remove_previous, run_beam, run_local
    from pipeline.commands.export.samples import shard_paths
    from pipeline.commands.export.sinks import Limits
    from pipeline.outputs.manifest import read_json

    t0 = time.perf_counter()
    try:
        if min(args.max_rows, args.max_bytes, args.row_group) < 1:
            raise ValueError("--max-rows, --max-bytes and --row-group must be positive")
        manifest = read_json(args.dir, "manifest.json")
        sources = _sources(args.format, manifest, args.sources)
    except (OSError, ValueError) as exc:
        print(f"m3w export: {exc}", file=sys.stderr)
        return 2
    limits = Limits(max_rows=args.max_rows, max_bytes=args.max_bytes,
                    row_group_rows=args.row_group)
    spec = ExportSpec(args.dir.rstrip("/"), args.output.rstrip("/"), args.format,
                      args.embed_images, limits)
    shards = [(s, path) for s in sources for path in shard_paths(spec.build, manifest, s)]
    remove_previous(spec.out)
    if beam_args:
        result = run_beam(spec, shards, sources, beam_args)
    else:
        result = run_local(spec, shards, sources)
    print(f"exported {result['samples']} samples ({result['images']} images) of "
          f"{', '.join(sources)} from {len(shards)} shards to {len(result['files'])} "
          f"{args.format} files in {spec.out} ({time.perf_counter() - t0:.1f}s)")
    if result["skipped"]:
        print(f"{result['skipped']} images or pairs had no bytes in their shard and were left "
              "out", file=sys.stderr)
    return 0
