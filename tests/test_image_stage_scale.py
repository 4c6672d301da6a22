"""The image stage's data flow at scale: lazy groups, per-host fetching through one fetcher and
one thread pool, metrics counted on the bundle thread, sub-quadratic near-dedup, survivors by
crawl date, immutable inputs and an image funnel where every image node ends in one place."""

from __future__ import annotations

import copy
import random
import threading
import tracemalloc

import apache_beam as beam
import pytest
from apache_beam.metrics.metric import MetricsFilter
from apache_beam.options.pipeline_options import PipelineOptions
from apache_beam.testing.test_pipeline import TestPipeline
from apache_beam.testing.util import assert_that, equal_to
from apache_beam.transforms.window import GlobalWindow
from apache_beam.utils.shared import Shared
from apache_beam.utils.timestamp import MIN_TIMESTAMP

from filters.phash import phash_bands
from pipeline.config import load_config
from pipeline.rejects import REJECTS
from pipeline.stages.image_dedup import (
    EXACT_FILTER,
    PERCEPTUAL_FILTER,
    DuplicateImages,
    near_marks,
)
from pipeline.stages.images import (
    _DOC,
    _DUP,
    _IMG,
    AssembleFn,
    FetchHostFn,
    ImageChecks,
    ImageOutcome,
    ResolveImages,
    fan_out,
    host_parallelism,
)
from schemas import Document, ImageNode, TextNode
from scrapers.warc_read import WebRecord
from tests.imagegen import image_bytes
from tests.localserver import LocalServer, robots_txt

OPTIONS = PipelineOptions(["--runner=FnApiRunner"])
SITE = "http://pics.example"


def doc(key: str, paths: list[str], crawl_date: str = "", site: str = SITE) -> Document:
    nodes: list = [TextNode(f"Text of {key}.")]
    nodes += [ImageNode(src=site + p) for p in paths]
    return Document(url=f"{site}/{key}.html", key=key, nodes=nodes, crawl_date=crawl_date)


def record(path: str, data: bytes, offset: int) -> WebRecord:
    return WebRecord(kind="image", url=SITE + path, source="t.warc.gz", offset=offset,
                     mime="image/jpeg", payload=data)


class Regrouped:
    """A re-iterable group made on the fly, as Beam pages a large group from its shuffle:
    reading it never holds more than one element."""

    def __init__(self, make, n: int) -> None:
        self.make, self.n = make, n

    def __iter__(self):
        return (self.make(i) for i in range(self.n))


# -- lazy groups -------------------------------------------------------------------------

def test_a_very_common_url_is_fanned_out_without_holding_its_requests():
    n = 50_000
    too_common = ImageOutcome(False, "http", "too_common", "image_url_count/v1", float(n))

    def make(i: int):  # the outcome arrives last: the worst case for a one-pass join
        return (0, too_common) if i == n - 1 else (1, (f"d{i:07d}", 2, f"~|d{i:07d}"))

    tracemalloc.start()
    seen = 0
    for _key, (idx, outcome, _rank) in fan_out(("http://x/emoji.png", Regrouped(make, n))):
        assert outcome is too_common and idx == 2
        seen += 1
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert seen == n - 1
    assert peak < 1_000_000, f"{peak} bytes: the group was held in memory"


def test_one_shot_groups_are_refused_rather_than_half_read():
    with pytest.raises(TypeError):
        list(fan_out(("u", iter([(0, None), (1, ("d", 0, "~|d"))]))))


# -- image near-dedup --------------------------------------------------------------------

def one_band_hashes(n: int, seed: int = 0) -> list[int]:
    """Distinct hashes sharing their first pHash band (one bucket), pairwise far apart."""
    rng = random.Random(seed)
    out: set[int] = set()
    while len(out) < n:
        out.add((rng.getrandbits(64) & ~0x1FFF) | 0x5A5)
    return sorted(out)


def checked(sha: str, ph: int) -> ImageOutcome:
    return ImageOutcome(True, "warc", sha256=sha, phash=ph)


def test_identical_hashes_beyond_the_comparison_bound_are_all_matched():
    # 300 distinct hashes in one band bucket (more than MAX_COMPARED), each stored 3 times
    # with different bytes: every copy after the first is a perceptual duplicate.
    hashes = one_band_hashes(300)
    assert len({phash_bands(h, 4)[0] for h in hashes}) == 1
    items = [(f"d{copy_:d}-{i:03d}", (0, checked(f"sha-{copy_}-{i}", h)))
             for i, h in enumerate(hashes) for copy_ in range(3)]
    icfg = {"across_documents": True, "exact": True, "perceptual": True, "max_distance": 4}
    expected = [(f"d{c}-{i:03d}", (0, PERCEPTUAL_FILTER, f"d0-{i:03d}#0", 0.0))
                for i in range(300) for c in (1, 2)]
    with TestPipeline(options=OPTIONS) as p:
        marks = p | beam.Create(items) | DuplicateImages(icfg)
        assert_that(marks, equal_to(expected))


def test_near_duplicates_after_the_head_of_a_large_bucket_are_still_found():
    hashes = one_band_hashes(40, seed=1)
    occs = [(f"~|d{i:03d}", 0, f"d{i:03d}", "", h) for i, h in enumerate(hashes)]
    late = ("~|z", 0, "z", "", hashes[3] ^ 0b1011 << 20)  # 3 bits from d003's hash
    marks = list(near_marks(("bucket", occs + [late]), 4, max_compared=16))
    assert marks == [(("z", 0), (PERCEPTUAL_FILTER, ("~|d003", 0), "d003#0", 3.0))]


def test_the_newest_crawl_keeps_a_shared_image():
    cfg = load_config(overrides={"fetch": {"enabled": False},
                                 "dedup": {"images": {"across_documents": True}}})
    data = image_bytes(300, 200, seed=5)
    records = [record("/a.jpg", data, 1), record("/b.jpg", image_bytes(200, 200, seed=6), 2)]
    docs = [doc("a-old", ["/a.jpg", "/b.jpg"], "2019-01-01"),
            doc("z-new", ["/a.jpg"], "2024-06-01"),
            doc("m-undated", ["/a.jpg"])]
    with TestPipeline(options=OPTIONS) as p:
        out = (p | "docs" >> beam.Create(docs), p | "imgs" >> beam.Create(records)) \
            | ResolveImages(cfg)
        assert_that(out.kept | beam.Map(lambda dm: (dm[0].key, [i.src[len(SITE):]
                                                                for i in dm[0].images])),
                    equal_to([("z-new", ["/a.jpg"]), ("a-old", ["/b.jpg"])]), label="kept")
        assert_that(out[REJECTS] | beam.Map(lambda r: (r.source, r.stage, r.reason, r.detail)),
                    equal_to([("a-old", "image", "duplicate_image", "survivor z-new#0"),
                              ("m-undated", "image", "duplicate_image", "survivor z-new#0"),
                              ("m-undated", "document", "too_few_images", "")]),
                    label="rejected")


# -- funnel identity ---------------------------------------------------------------------

def test_every_image_node_is_stored_or_rejected_exactly_once():
    cfg = load_config(overrides={"fetch": {"enabled": False},
                                 "images": {"min_per_document": 2}})
    records = [record(f"/{n}.jpg", image_bytes(200 + n, 150, seed=n), n) for n in range(1, 6)]
    docs = [doc("keep", ["/1.jpg", "/2.jpg"]),
            doc("drop", ["/3.jpg", "/missing.jpg"]),  # one stored image: under the minimum
            doc("none", ["/missing.jpg"])]
    requests = sum(len(d.images) for d in docs)
    with TestPipeline(options=OPTIONS) as p:
        out = (p | "docs" >> beam.Create(docs), p | "imgs" >> beam.Create(records)) \
            | ResolveImages(cfg)
        stored = out.kept | "stored" >> beam.FlatMap(lambda dm: ["stored"] * len(dm[1]))
        image_rejects = (out[REJECTS] | beam.Filter(lambda r: r.stage == "image")
                         | beam.Map(lambda r: "rejected"))
        total = ((stored, image_rejects) | beam.Flatten()
                 | beam.combiners.Count.Globally())
        assert_that(total, equal_to([requests]), label="identity")
        assert_that(out[REJECTS] | "why" >> beam.Map(lambda r: (r.source, r.stage, r.filter,
                                                                 r.reason)),
                    equal_to([("drop", "image", "min_images/v1", "document_dropped"),
                              ("drop", "image", "fetch/v1", "not_in_warc"),
                              ("drop", "document", "min_images/v1", "too_few_images"),
                              ("none", "image", "fetch/v1", "not_in_warc"),
                              ("none", "document", "min_images/v1", "too_few_images")]),
                    label="reasons")


# -- assembly leaves its inputs alone ----------------------------------------------------

def test_assembly_never_mutates_its_inputs():
    cfg = load_config(overrides={"filters": {"tag_only": True}})
    tags = {"image_url/v1": {"url_words": 0}}
    jpeg = image_bytes(100, 100)
    d = doc("d1", ["/a.jpg", "/b.jpg"])
    d.meta["origin"] = {"crawl": "x"}
    item = ("d1", [
        (_DOC, d),
        (_IMG, (0, ImageOutcome(True, "warc", jpeg=jpeg, width=100, height=100, sha256="s",
                                phash=1, tags=tags), "~|d1")),
        (_IMG, (1, ImageOutcome(True, "warc", jpeg=jpeg, width=100, height=100, sha256="s",
                                phash=1, tags=dict(tags)), "~|d1")),
        (_DUP, (1, EXACT_FILTER, "d1#0", 0.0)),
    ])
    before = copy.deepcopy(item)
    out = list(AssembleFn(cfg["images"], tag_only=True).process(item))
    assert item == before
    kept = [o for o in out if isinstance(o, tuple)]
    assert len(kept) == 1 and kept[0][0] is not d
    assert kept[0][0].meta["image_filters"]["1"][EXACT_FILTER] == "d1#0"
    assert [n.member for n in kept[0][0].images] == ["000.jpg", "001.jpg"]


# -- evaluation images shared per process ------------------------------------------------

def test_the_evaluation_index_is_built_once_per_process(tmp_path):
    from PIL import Image

    evals = tmp_path / "eval"
    evals.mkdir()
    Image.new("RGB", (64, 48), (10, 200, 30)).save(evals / "e1.png")
    cfg = load_config(overrides={"decontam": {"eval_images": [str(evals)]}})
    shared = Shared()
    a, b = ImageChecks(cfg, shared), ImageChecks(cfg, shared)
    assert a.eval_index is not None and a.eval_index is b.eval_index
    assert ImageChecks(cfg).eval_index is not a.eval_index  # without Shared: its own


# -- fetching by host --------------------------------------------------------------------

def fetch_cfg(**fetch):
    return load_config(overrides={
        "fetch": {"enabled": True, "allow_private": True, "retries": 0, "threads": 4,
                  "per_host_interval": 0.0, "timeout": 2.0, "deadline": 5.0, **fetch},
        "dedup": {"images": {"enabled": False}}})


def image_routes(n: int) -> dict:
    routes = {"/robots.txt": robots_txt("User-agent: *\nAllow: /\n")}
    for i in range(n):
        routes[f"/i{i}.jpg"] = (200, {"Content-Type": "image/jpeg"},
                                image_bytes(120 + i, 100, seed=i))
    return routes


def test_one_pool_per_fetch_worker_and_results_on_the_bundle_thread():
    with LocalServer(image_routes(12)) as srv:
        fn = FetchHostFn(fetch_cfg(threads=3))
        fn.setup()
        fn.start_bundle()
        out = []
        for host, paths in (("127.0.0.1", range(0, 6)), ("localhost", range(6, 12))):
            base = srv.base_url.replace("127.0.0.1", host)
            urls = ((f"{base}/i{i}.jpg", 1) for i in paths)
            out += list(fn.process((host, urls), window=GlobalWindow(), timestamp=MIN_TIMESTAMP))
        pool_threads = {t.name for t in threading.enumerate()
                        if t.name.startswith("image-fetch")}
        out += list(fn.finish_bundle())
        fn.teardown()
        left = [t for t in threading.enumerate() if t.name.startswith("image-fetch")]
    assert len(out) == 12 and all(wv.value[1].ok for wv in out)
    assert all(wv.windows == [GlobalWindow()] for wv in out)
    assert len(pool_threads) <= 3
    assert left == []


def test_host_parallelism_keeps_polite_waits_inside_the_deadline():
    assert host_parallelism({"per_host_interval": 0.0, "deadline": 30}, 16) == 16
    assert host_parallelism({"per_host_interval": 1.0, "deadline": 30}, 16) == 15
    assert host_parallelism({"per_host_interval": 5.0, "deadline": 30}, 16) == 3
    assert host_parallelism({"per_host_interval": 60.0, "deadline": 30}, 16) == 1


def test_fetches_are_paced_per_host_across_workers_and_counted():
    interval, per_host = 0.12, 6
    routes = image_routes(2 * per_host)
    with LocalServer(routes) as srv:
        hosts = {"127.0.0.1": srv.base_url,
                 "localhost": srv.base_url.replace("127.0.0.1", "localhost")}
        docs = []
        for h, base in enumerate(hosts.values()):
            for i in range(per_host):
                n = h * per_host + i
                docs.append(doc(f"d{n:02d}", [f"/i{n}.jpg"], site=base))
        cfg = fetch_cfg(per_host_interval=interval, threads=4)
        opts = PipelineOptions(["--runner=FnApiRunner", "--direct_num_workers=2",
                                "--direct_running_mode=multi_threading"])
        p = beam.Pipeline(options=opts)
        out = (p | "docs" >> beam.Create(docs), p | "imgs" >> beam.Create([])) \
            | ResolveImages(cfg)
        assert_that(out.kept | beam.Map(lambda dm: len(dm[1])), equal_to([1] * len(docs)))
        result = p.run()
        result.wait_until_finish()
        reqs = srv.requests
    fetched = result.metrics().query(MetricsFilter().with_name("images_fetched"))["counters"]
    assert sum(c.committed for c in fetched) == 2 * per_host
    images = [r for r in reqs if r.path.endswith(".jpg")]
    assert len(images) == 2 * per_host
    for host in hosts:
        times = sorted(r.time for r in images if r.headers["host"].startswith(host + ":"))
        assert len(times) == per_host
        gaps = [b - a for a, b in zip(times, times[1:])]
        assert min(gaps) >= interval * 0.75, (host, gaps)  # scheduling jitter
        assert sum(1 for r in reqs if r.path == "/robots.txt"
                   and r.headers["host"].startswith(host + ":")) == 1

