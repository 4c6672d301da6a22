"""Inputs on a non-local file system: WARCs, URL lists, pair lists, clips and evaluation sets
are all read through Beam's FileSystems, proven with an in-process `mem://` store."""

from __future__ import annotations

import io
import json
import os

import apache_beam as beam
import pytest
from apache_beam.io.filesystem import BeamIOError, FileMetadata, FileSystem
from apache_beam.options.pipeline_options import PipelineOptions
from apache_beam.testing.test_pipeline import TestPipeline
from apache_beam.testing.util import assert_that, equal_to

from filters.decontam import EvalImageIndex, EvalTextIndex, image_phash
from pipeline.config import load_config
from pipeline.rejects import REJECTS
from pipeline.sources.common import expand_inputs
from pipeline.sources.files import BEAM
from pipeline.sources.pairs import add_pair_sources
from pipeline.stages.read import FILES, ReadInputs, read_url_list
from scrapers.pair_lists import ListOptions, iter_items
from tests.imagegen import image_bytes
from tests.localserver import LocalServer
from tests.mediagen import clip
from tests.warcgen import PROSE, page, warc_bytes

OPTIONS = PipelineOptions(["--runner=FnApiRunner"])


class MemFileSystem(FileSystem):
    """Files held in a class-level dict, under mem://. Beam finds file systems by subclass,
    so defining this class registers the scheme in this process."""

    files: dict[str, bytes] = {}

    @classmethod
    def scheme(cls) -> str:
        return "mem"

    def join(self, basepath: str, *paths: str) -> str:
        return "/".join([basepath.rstrip("/"), *(p.strip("/") for p in paths)])

    def split(self, path: str) -> tuple[str, str]:
        head, _, tail = path.rstrip("/").rpartition("/")
        return head, tail

    def mkdirs(self, path: str) -> None:
        pass

    def has_dirs(self) -> bool:
        return False

    def _list(self, dir_or_prefix: str):
        for path, data in sorted(self.files.items()):
            if path.startswith(dir_or_prefix):
                yield FileMetadata(path, len(data), 0.0)

    def create(self, path, mime_type="application/octet-stream", compression_type=None):
        files = self.files

        class Writer(io.BytesIO):
            def close(self) -> None:
                files[path] = self.getvalue()
                super().close()

        return Writer()

    def open(self, path, mime_type="application/octet-stream", compression_type=None):
        if path not in self.files:
            raise BeamIOError(f"no such file {path}", {path: FileNotFoundError(path)})
        return io.BytesIO(self.files[path])

    def copy(self, source_file_names, destination_file_names):
        for s, d in zip(source_file_names, destination_file_names):
            self.files[d] = self.files[s]

    def rename(self, source_file_names, destination_file_names):
        for s, d in zip(source_file_names, destination_file_names):
            self.files[d] = self.files.pop(s)

    def exists(self, path: str) -> bool:
        return path in self.files

    def size(self, path: str) -> int:
        return len(self.files[path])

    def last_updated(self, path: str) -> float:
        return 0.0

    def checksum(self, path: str) -> str:
        return str(len(self.files[path]))

    def metadata(self, path: str) -> FileMetadata:
        return FileMetadata(path, len(self.files[path]), 0.0)

    def delete(self, paths) -> None:
        for p in paths:
            self.files.pop(p, None)


@pytest.fixture
def mem():
    MemFileSystem.files.clear()
    yield MemFileSystem.files
    MemFileSystem.files.clear()


def test_storage_and_patterns_on_a_non_local_store(mem):
    mem["mem://b/lists/a.jsonl"] = b'{"url": "http://x/1.jpg", "caption": "one"}\n'
    mem["mem://b/lists/b.jsonl"] = b""
    mem["mem://b/imgs/x.jpg"] = b"jpg"
    mem["mem://b/imgs/x.txt"] = b"a caption"
    found, missing = expand_inputs(["mem://b/lists/*.jsonl", "mem://b/imgs", "mem://b/no*.csv",
                                    "mem://b/none.csv"])
    assert found == ["mem://b/imgs", "mem://b/lists/a.jsonl", "mem://b/lists/b.jsonl"]
    assert missing == ["mem://b/no*.csv", "mem://b/none.csv"]
    assert BEAM.size("mem://b/imgs/x.jpg") == 3 and BEAM.size("mem://b/imgs/y.jpg") is None
    assert BEAM.is_dir("mem://b/imgs") and not BEAM.is_dir("mem://b/imgs/x.jpg")
    items = list(iter_items("mem://b/imgs", ListOptions(media="image"), BEAM))
    assert [(i.path, i.caption) for i in items] == [("mem://b/imgs/x.jpg", "a caption")]
    # relative paths in a list resolve against the list's own folder on the store
    mem["mem://b/lists/p.jsonl"] = b'{"image": "../imgs/x.jpg", "caption": "c"}\n' \
                                   b'{"image": "gs://other/y.jpg", "caption": "d"}\n'
    paths = [i.path for i in iter_items("mem://b/lists/p.jsonl", ListOptions(), BEAM)]
    assert paths == ["mem://b/lists/../imgs/x.jpg", "gs://other/y.jpg"]


def test_read_inputs_counts_every_file_where_it_reads(mem, tmp_path):
    good = warc_bytes([{"url": f"http://a.example/{i}", "body": page("A", [PROSE], [])}
                       for i in range(3)])
    mem["mem://in/good.warc.gz"] = good
    mem["mem://in/cut.warc.gz"] = good[: len(good) - 40]
    mem["mem://in/notes.pdf"] = b"%PDF"
    with LocalServer({"/p.html": (200, {"Content-Type": "text/html"}, page("P", [PROSE], [])),
                      "/robots.txt": (404, {}, b"")}) as srv:
        mem["mem://in/urls.txt"] = ("# a comment\n" + srv.url("/p.html") + "\n\n"
                                    + srv.url("/p.html?x") + "\n").encode()
        cfg = load_config()
        cfg["fetch"].update(allowed_networks=["127.0.0.0/8"], per_host_interval=0.0,
                            retries=0, archive=False)
        with TestPipeline(options=OPTIONS) as p:
            out = p | ReadInputs(["mem://in/*"], cfg, str(tmp_path))
            assert_that(out[FILES], equal_to([
                ("mem://in/good.warc.gz", 3, True), ("mem://in/cut.warc.gz", 3, False),
                ("mem://in/notes.pdf", 1, True), ("mem://in/urls.txt", 2, True)]), label="files")
            kinds = out["records"] | beam.Map(lambda r: (r.url.rsplit("/", 1)[-1] or r.source,
                                                          r.kind, r.reason))
            assert_that(kinds, equal_to(
                [("0", "html", None), ("1", "html", None)] * 2 + [("2", "html", None)]
                + [("p.html", "html", None), ("p.html?x", "html", None)]), label="records")
            # The other records read are read rejects, in lists: the cut file's last record
            # and the file of unknown kind.
            reasons = tuple(out[REJECTS]) | "AllRejects" >> beam.Flatten() | beam.FlatMap(
                lambda rs: [(r.stage, r.reason, r.url.rsplit("/", 1)[-1] or r.source)
                            for r in rs])
            assert_that(reasons, equal_to([("read", "truncated", "2"),
                                           ("read", "unknown_input", "notes.pdf@0")]),
                        label="rejects")


def test_url_lists_are_read_in_splits_that_cover_every_line_once(mem, tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    from pipeline.stages.read import MAX_LINE, ReadUrlSplitFn, split_parquet, url_list_splits

    urls = [f"http://h{i % 7}.example/{'p' * (i % 13)}{i}" for i in range(300)]
    text = "".join(("# c\r\n" if i % 50 == 0 else "") + u + ("\r\n" if i % 2 else "\n")
                   for i, u in enumerate(urls))
    huge = "http://long.example/" + "x" * (2 * MAX_LINE)  # cut, but still one record
    mem["mem://l/u.txt"] = (text + huge + "\n" + urls[0] + "\n").encode()
    expected = [*urls, huge[:MAX_LINE], urls[0]]
    for split_bytes in (1, 7, 64, 1000, MAX_LINE + 3, 10**9):
        got = []
        for piece in url_list_splits("mem://l/u.txt", len(mem["mem://l/u.txt"]), split_bytes):
            got += [u for u in ReadUrlSplitFn().process(piece) if isinstance(u, str)]
        assert got == expected, split_bytes
    mem["mem://l/u.txt"] = text.encode()
    buf = io.BytesIO()
    pq.write_table(pa.table({"url": urls + [None, ""]}), buf, row_group_size=64)
    mem["mem://l/u.parquet"] = buf.getvalue()
    pieces = [s for p in url_list_splits("mem://l/u.parquet", 0) for s in split_parquet(p)]
    assert len(pieces) == 5
    assert read_url_list("mem://l/u.parquet") == urls == read_url_list("mem://l/u.txt")


def test_pair_sources_and_clips_on_a_non_local_store(mem, tmp_path):
    mem["mem://d/img/a.jpg"] = image_bytes(128, 96)
    mem["mem://d/img/a.txt"] = b"A picture from the store"
    mem["mem://d/clip.mp4"] = open(clip(tmp_path / "c.mp4", 2.0), "rb").read()
    mem["mem://d/clips.jsonl"] = (json.dumps({"video": "clip.mp4", "caption": "A bar moves"})
                                  + "\n" + json.dumps({"video": "gone.mp4", "caption": "Gone"})
                                  + "\n").encode()
    cfg = {"sources": {"image_text": {"input": ["mem://d/img"]},
                       "video_text": {"input": ["mem://d/clips.jsonl"], "keep_clip": True}},
           "shards": {"max_samples": 100, "max_bytes": 10**9}}
    out = str(tmp_path / "out")
    with TestPipeline(options=OPTIONS) as p:
        shards, rejects, counts = add_pair_sources(p, cfg, out, None)
        assert_that(rejects | "R" >> beam.Flatten() | beam.Map(lambda r: (r.source, r.reason)),
                    equal_to([("mem://d/clips.jsonl#1", "missing")]), label="rejects")
        assert_that(counts | "L" >> beam.Flatten() | "Sum" >> beam.CombinePerKey(sum),
                    equal_to([(("image_text", "out", ""), 1), (("video_text", "out", ""), 1)]),
                    label="counts")
    from tests.test_video import read_shards

    video = next(iter(read_shards(os.path.join(out, "shards", "video_text")).values()))
    assert json.loads(video["json"])["timestamps"] == [0.0, 1.0]
    assert video["mp4"] == mem["mem://d/clip.mp4"]
    image = next(iter(read_shards(os.path.join(out, "shards", "image_text")).values()))
    assert image["txt"] == b"A picture from the store"


def test_evaluation_sets_on_a_non_local_store(mem):
    question = "what colour is the small wooden boat floating near the old harbour wall today"
    mem["mem://e/texts/vqa.jsonl"] = json.dumps({"question": question}).encode() + b"\n"
    mem["mem://e/texts/caps.txt"] = b"a short line\n" + question.upper().encode() + b"\n"
    picture = image_bytes(96, 96, seed=3)
    mem["mem://e/images/p.png"] = picture
    texts = EvalTextIndex.from_paths(["mem://e/texts"], n=8, storage=BEAM)
    assert texts.match("He asked: " + question) == "caps.txt:1"
    images = EvalImageIndex.from_paths(["mem://e/images"], storage=BEAM)
    assert images.ids == ["mem://e/images/p.png"]
    assert images.match(None, image_phash(picture)) == "mem://e/images/p.png"
    with pytest.raises(FileNotFoundError):
        EvalTextIndex.from_paths(["mem://e/nothing.txt"], storage=BEAM)
