"""Reading a build for export: its manifest, and its shards in the manifest's order (each one's
samples are streamed by ``pipeline.outputs.tar.read_samples``)."""

from __future__ import annotations

from apache_beam.io.filesystems import FileSystems


def shard_paths(build_dir: str, manifest: dict, source: str) -> list[str]:
    """The shards of one built source, in the manifest's (sorted) order; none if not built."""
    listed = manifest.get("sources", {}).get(source, {}).get("shards", [])
    return [FileSystems.join(build_dir, s["path"]) for s in listed]
