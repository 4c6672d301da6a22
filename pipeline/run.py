"""`m3w build`: load the config, run the DAG on the chosen runner, check the error budget."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
from collections.abc import Iterator
from typing import Any

from pipeline.config import ConfigError, config_hash, load_config
from pipeline.outputs.image_store import WORK_DIR

LOCAL_RUNNER = "FnApiRunner"  # in-process and offline-safe (the default runner may fetch Prism)
# Beam's portable job API on this machine: the graph goes to a job service as a pipeline proto
# and runs in an SDK worker process of its own, as Flink and Spark receive and run it. Not the
# local runner, so `shuffle.mode: auto` keeps the runner's shuffle, as on a cluster.
PORTABLE_HERE = ["--runner=PortableRunner", "--job_endpoint=embed",
                 "--environment_type=LOOPBACK", "--experiments=use_loopback_process_worker"]


def pipeline_options(beam_args: list[str]):
    """Beam options from the command line's Beam arguments. The local runner is the default.
    Graph-time type inference is off: it disassembles every DoFn's bytecode (about 2 s of CPU
    per build) to guess element types that nothing here uses, since annotations are not read
    and element coders are registered explicitly (pipeline/__init__.py)."""
    from apache_beam.options.pipeline_options import TypeOptions

    from pipeline.beam_startup import BuildOptions

    args = list(beam_args)
    if not any(a == "--runner" or a.startswith("--runner=") for a in args):
        args.append(f"--runner={LOCAL_RUNNER}")
    opts = BuildOptions(args)
    opts.view_as(TypeOptions).pipeline_type_check = False
    return opts


def is_local(beam_args: list[str]) -> bool:
    runner = LOCAL_RUNNER
    for i, a in enumerate(beam_args):
        if a.startswith("--runner="):
            runner = a.split("=", 1)[1]
        elif a == "--runner" and i + 1 < len(beam_args):
            runner = beam_args[i + 1]
    return runner in (LOCAL_RUNNER, "DirectRunner", "BundleBasedDirectRunner")


@contextlib.contextmanager
def worker_python(opts) -> Iterator[None]:  # noqa: ANN001 - Beam's PipelineOptions
    """Beam starts a loopback worker process as `python` from PATH. Put this interpreter's
    folder first while the build runs: a `python` without Beam and m3w dies at start-up,
    and the job then waits for its worker forever."""
    from apache_beam.options.pipeline_options import DebugOptions

    if not opts.view_as(DebugOptions).lookup_experiment("use_loopback_process_worker"):
        yield
        return
    old = os.environ.get("PATH")
    os.environ["PATH"] = os.pathsep.join(filter(None, (os.path.dirname(sys.executable), old)))
    try:
        yield
    finally:
        if old is None:
            del os.environ["PATH"]
        else:
            os.environ["PATH"] = old


def prepare_output(out_dir: str, chash: str, overwrite: bool) -> None:
    """Refuse to mix two configs in one directory; clear leftovers of a killed run."""
    from apache_beam.io.filesystems import FileSystems

    from pipeline.outputs.atomic import TMP_MARK

    mpath = FileSystems.join(out_dir, "manifest.json")
    if FileSystems.exists(mpath) and not overwrite:
        with FileSystems.open(mpath) as fh:
            old = json.loads(fh.read().decode())
        if old.get("config_hash") != chash:
            raise ConfigError(f"{out_dir} holds a build with another config; "
                              "use --overwrite or another --output")
    # Nothing a killed run left in the work folder is referenced again: spool files, run
    # files and image packs are named at random per bundle (pipeline.outputs.spool,
    # pipeline.file_shuffle, pipeline.outputs.image_store).
    listed = _list(out_dir)
    stale = [m.path for m in listed if overwrite or TMP_MARK in m.path]
    if stale:
        FileSystems.delete(stale)
    delete_tree(FileSystems.join(out_dir, WORK_DIR))


def _list(out_dir: str):
    """The outputs a build writes by name (not the work folder, which is removed as a tree)."""
    from apache_beam.io.filesystems import FileSystems

    found = []
    for sub in ("shards/**", "rejects/*", "stats/*", "manifest.json*"):
        for res in FileSystems.match([FileSystems.join(out_dir, sub)]):
            found.extend(res.metadata_list)
    return found


def delete_tree(path: str) -> None:
    """Delete a folder and all under it without holding a listing of all of it: the local
    filesystem removes the tree; an object store deletes the prefix (GCS pages through it)."""
    import shutil

    from apache_beam.io.filesystems import FileSystems
    from apache_beam.io.localfilesystem import LocalFileSystem

    if isinstance(FileSystems.get_filesystem(path), LocalFileSystem):
        shutil.rmtree(path, ignore_errors=True)
    else:
        FileSystems.delete([path.rstrip("/") + "/"])


def remove_work(out_dir: str) -> None:
    """The spool, run files and image packs are in the shards now."""
    from apache_beam.io.filesystems import FileSystems

    delete_tree(FileSystems.join(out_dir, WORK_DIR))


def remove_unlisted(out_dir: str, manifest: dict[str, Any]) -> None:
    """Delete shards and reject files a previous run left that this run did not write."""
    from apache_beam.io.filesystems import FileSystems

    keep = {FileSystems.join(out_dir, s["path"]) for src in manifest["sources"].values()
            for s in src["shards"]}
    keep |= {FileSystems.join(out_dir, r) for r in manifest.get("rejects", [])}
    old = [m.path for m in _list(out_dir)
           if ("/shards/" in m.path or "/rejects/" in m.path) and m.path not in keep]
    if old:
        FileSystems.delete(old)


def run_build(cfg: dict[str, Any], out_dir: str, beam_args: list[str] | None = None,
              progress: bool = True, overwrite: bool = False) -> dict[str, Any]:
    """Run the whole build; returns the funnel. Raises BuildFailed past the error budget."""
    import apache_beam as beam
    from apache_beam.io.filesystems import FileSystems

    from pipeline.build import build_graph, built_sources
    from pipeline.progress import Reporter
    from pipeline.stages.read import check_inputs

    beam_args = list(beam_args or [])
    if not built_sources(cfg):
        raise ConfigError("nothing to build: give --input GLOB... or name sources in the config")
    out_dir = out_dir.rstrip("/")
    if "interleaved" in built_sources(cfg):
        check_inputs(list(cfg["sources"]["interleaved"]["input"]))
    prepare_output(out_dir, config_hash(cfg), overwrite)
    opts = pipeline_options(beam_args)
    show = progress and is_local(beam_args)
    p = beam.Pipeline(options=opts)
    build_graph(p, cfg, out_dir, local=is_local(beam_args))
    with worker_python(opts), (Reporter() if show else contextlib.nullcontext()):
        p.run().wait_until_finish()
    with FileSystems.open(FileSystems.join(out_dir, "manifest.json")) as fh:
        manifest = json.loads(fh.read().decode())
    remove_unlisted(out_dir, manifest)
    remove_work(out_dir)
    with FileSystems.open(FileSystems.join(out_dir, "stats/funnel.json")) as fh:
        funnel = json.loads(fh.read().decode())
    check_error_budget(funnel, cfg["errors"]["max_error_rate"])
    check_identities(funnel)
    return funnel


class BuildFailed(RuntimeError):
    pass


def check_identities(funnel: dict[str, Any]) -> None:
    """A broken funnel identity means an input was lost or counted twice: fail loudly."""
    from pipeline.commands.stats import failed_checks

    broken = failed_checks(funnel)
    if broken:
        parts = [f"{c['identity']} ({c['left']} != {' + '.join(c['right'])}: "
                 f"{c['values'][0]} != {c['values'][1]})" for c in broken]
        raise BuildFailed("funnel identities broken: " + "; ".join(parts))


def check_error_budget(funnel: dict[str, Any], max_rate: float) -> None:
    for stage in funnel["stages"]:
        errors = sum(n for reason, n in stage["rejected_by_reason"].items()
                     if reason.split(":", 1)[-1].startswith("error"))
        if stage["stage"] == "read":  # unreadable files are input faults, not our errors
            continue
        if stage["in"] and errors / stage["in"] > max_rate:
            raise BuildFailed(f"stage {stage['stage']}: {errors} unexpected errors in "
                              f"{stage['in']} inputs exceeds errors.max_error_rate={max_rate}")


def build_command(args: argparse.Namespace, beam_args: list[str]) -> int:
    from pipeline.commands.stats import print_funnel

    try:
        cfg = load_config(args.config)
        if args.input:
            cfg["sources"]["interleaved"]["input"] = list(
                cfg["sources"]["interleaved"]["input"]) + list(args.input)
        for flag, key in ((args.eval_images, "eval_images"), (args.eval_texts, "eval_texts")):
            cfg["decontam"][key] = list(cfg["decontam"][key]) + list(flag)
        if args.allow_network:
            cfg["fetch"]["allowed_networks"] = list(cfg["fetch"]["allowed_networks"]) + list(
                args.allow_network)
        funnel = run_build(cfg, args.output, beam_args, progress=not args.no_progress,
                           overwrite=args.overwrite)
    except (ConfigError, ValueError) as exc:
        print(f"m3w build: {exc}", file=sys.stderr)
        return 2
    except BuildFailed as exc:
        print(f"m3w build FAILED: {exc}", file=sys.stderr)
        return 1
    print_funnel(funnel)
    print(f"\nwrote {args.output}/manifest.json")
    return 0
