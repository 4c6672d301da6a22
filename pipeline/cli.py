"""The `m3w` command line: build, stats, inspect, report, export, train, demo. Heavy imports
happen lazily."""

from __future__ import annotations

import argparse
import sys


def _split_beam_args(argv: list[str]) -> tuple[list[str], list[str]]:
    if "--" in argv:
        i = argv.index("--")
        return argv[:i], argv[i + 1 :]
    return argv, []


def _add_build(sub) -> None:
    p = sub.add_parser("build", help="run the corpus-building Beam pipeline",
                       description="Build shards from WARC/ARC files or URL lists. Beam options "
                       "after `--` pass through, e.g. `-- --runner DataflowRunner --project P`.")
    p.add_argument("config", nargs="?", help="YAML build config (default: the m3w preset)")
    # action="extend": `--input a --input b` adds up (plain nargs="+" keeps only the last).
    p.add_argument("--input", nargs="+", action="extend", default=[], metavar="GLOB",
                   help="WARC/ARC files or URL lists (local, gs://, s3://); adds to the config; "
                   "may be repeated")
    p.add_argument("--output", required=True, metavar="DIR", help="output directory")
    p.add_argument("--overwrite", action="store_true",
                   help="replace an output directory built with another config")
    p.add_argument("--allow-network", action="append", default=[], metavar="CIDR",
                   help="let the fetcher reach this private network (e.g. 127.0.0.0/8)")
    p.add_argument("--no-progress", action="store_true", help="no live progress lines")
    p.add_argument("--eval-images", nargs="+", action="extend", default=[], metavar="PATH",
                   help="evaluation images to decontaminate against: folders or .tar shards")
    p.add_argument("--eval-texts", nargs="+", action="extend", default=[], metavar="PATH",
                   help="evaluation texts (.txt/.json/.jsonl captions or questions)")


def _add_stats(sub) -> None:
    p = sub.add_parser("stats", help="show a build's funnel and distributions")
    p.add_argument("dir", help="a build's output directory")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--plot", metavar="PNG", help="also draw the funnel and histograms to PNG")


def _add_inspect(sub) -> None:
    p = sub.add_parser("inspect", help="print documents from a shard")
    p.add_argument("shard", help="a .tar shard")
    p.add_argument("-n", type=int, default=3, help="how many samples (default 3)")
    p.add_argument("--chars", type=int, default=600, help="text characters per sample")


def _add_export(sub) -> None:
    p = sub.add_parser("export", help="write a build as OBELICS Parquet, MMC4 or HF WebDataset",
                       description="Export a build's shards to other corpora's formats. Beam "
                       "options after `--` run it as a Beam job over the shard list.")
    from pipeline.commands.export import add_arguments

    add_arguments(p)


def _add_report(sub) -> None:
    p = sub.add_parser("report", help="write a static HTML report of a build",
                       description="A self-contained site (no server, nothing fetched): the "
                       "overview and funnel, rejects by reason, documents, pairs, distributions.")
    p.add_argument("dir", help="a build's output directory")
    p.add_argument("--output", metavar="DIR", help="where to write it (default: DIR/report)")
    p.add_argument("--samples", type=int, default=50, metavar="N",
                   help="documents and pairs per source, examples per reason (default 50)")
    p.add_argument("--seed", type=int, default=0, help="sampling seed (default 0)")


def _add_demo(sub) -> None:
    p = sub.add_parser("demo", help="generate a sample site, build, inspect and train on it")
    p.add_argument("--output", default="out/demo", metavar="DIR")
    p.add_argument("--pages", type=int, default=220)
    p.add_argument("--train-steps", type=int, default=100)
    p.add_argument("--seed", type=int, default=0)


def _add_train(sub) -> None:
    p = sub.add_parser("train", help="train the gated cross-attention model on built shards")
    try:
        from train.cli import add_arguments
    except ImportError as exc:  # keep the rest of the CLI usable
        p.set_defaults(train_unavailable=str(exc))
        return
    add_arguments(p)


def parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="m3w", description=__doc__)
    sub = ap.add_subparsers(dest="command", required=True)
    _add_build(sub)
    _add_stats(sub)
    _add_inspect(sub)
    _add_report(sub)
    _add_export(sub)
    _add_train(sub)
    _add_demo(sub)
    return ap


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    own, beam_args = _split_beam_args(argv)
    args = parser().parse_args(own)
    if args.command == "build":
        from pipeline.run import build_command

        return build_command(args, beam_args)
    if args.command == "stats":
        from pipeline.commands.stats import stats_command

        return stats_command(args)
    if args.command == "inspect":
        from pipeline.commands.inspect import inspect_command

        return inspect_command(args)
    if args.command == "train":
        if getattr(args, "train_unavailable", None):
            print(f"m3w train is unavailable: {args.train_unavailable}", file=sys.stderr)
            return 2
        from train.cli import run

        return run(args)
    if args.command == "export":
        from pipeline.commands.export import export_command

        return export_command(args, beam_args)
    if args.command == "report":
        from pipeline.commands.report import report_command

        return report_command(args)
    if args.command == "demo":
        from pipeline.commands.demo import demo_command

        return demo_command(args)
    return 2


if __name__ == "__main__":
    sys.exit(main())
