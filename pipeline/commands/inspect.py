"""`m3w inspect SHARD`: documents as a person reads them, `<image>` markers in place."""

from __future__ import annotations

import argparse
import io
import json
import textwrap

from pipeline.outputs.tar import read_samples


def _image_size(data: bytes) -> str:
    from PIL import Image

    try:
        with Image.open(io.BytesIO(data)) as im:
            return f"{im.width}x{im.height} {im.format}"
    except Exception as exc:
        return f"undecodable ({type(exc).__name__})"


def inspect_command(args: argparse.Namespace) -> int:
    for i, (key, members) in enumerate(read_samples(args.shard)):
        if i >= args.n:
            break
        meta = json.loads(members.get("json", b"{}"))
        print(f"=== {key}  {meta.get('url', '')}")
        if "nodes" in meta:
            budget = args.chars
            for node in meta["nodes"]:
                if node["type"] == "image":
                    data = members.get(node["member"], b"")
                    print(f"  <image> {node['member']} {_image_size(data)} {node['src']}")
                    if node.get("alt") or node.get("caption"):
                        print(f"          alt={node.get('alt', '')!r} "
                              f"caption={node.get('caption', '')!r}"[:200])
                elif budget > 0:
                    text = node["text"][:budget]
                    budget -= len(text)
                    print(textwrap.indent(textwrap.fill(text, 96), "  "))
        else:
            caption = members.get("txt", b"").decode("utf-8", "replace")
            print(f"  caption: {caption[: args.chars]}")
            for ext in sorted(e for e in members if e.endswith("jpg")):
                print(f"  <image> {ext} {_image_size(members[ext])}")
        print()
    return 0
