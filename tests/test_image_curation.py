"""Image curation in the Beam image stage: URL words and URL counts before fetching, blank
images, exact and perceptual duplicates, and evaluation-image matches, each a named reject."""

import io

import apache_beam as beam
import numpy as np
from apache_beam.options.pipeline_options import PipelineOptions
from apache_beam.testing.test_pipeline import TestPipeline
from apache_beam.testing.util import assert_that, equal_to
from PIL import Image

from pipeline.config import load_config
from pipeline.rejects import REJECTS
from pipeline.stages.images import ResolveImages
from schemas import Document, ImageNode, TextNode
from scrapers.warc_read import WebRecord

OPTIONS = PipelineOptions(["--runner=FnApiRunner"])
SITE = "http://pics.example"


def picture(seed: int, w: int = 320, h: int = 240) -> Image.Image:
    """A smooth random picture: different seeds give perceptually different images."""
    rng = np.random.default_rng(seed)
    small = Image.fromarray((rng.random((6, 6, 3)) * 255).astype(np.uint8))
    return small.resize((w, h), Image.Resampling.BICUBIC)


def encode(im: Image.Image, fmt: str = "JPEG", quality: int = 90) -> bytes:
    buf = io.BytesIO()
    im.save(buf, fmt, **({"quality": quality} if fmt == "JPEG" else {}))
    return buf.getvalue()


def record(path: str, data: bytes, offset: int) -> WebRecord:
    return WebRecord(kind="image", url=SITE + path, source="t.warc.gz", offset=offset,
                     mime="image/jpeg", payload=data)


def doc(key: str, paths: list[str]) -> Document:
    nodes: list = [TextNode(f"Text of {key}.")]
    nodes += [ImageNode(src=SITE + p) for p in paths]
    return Document(url=f"{SITE}/{key}.html", key=key, nodes=nodes)


def stage_outputs(cfg, docs, records, kept_expected, rejected_expected):
    with TestPipeline(options=OPTIONS) as p:
        out = (p | "docs" >> beam.Create(docs), p | "imgs" >> beam.Create(records)) \
            | ResolveImages(cfg)
        kept = out.kept | beam.Map(lambda dm: (dm[0].key, [i.src[len(SITE):]
                                                           for i in dm[0].images]))
        assert_that(kept, equal_to(kept_expected), label="kept")
        why = out[REJECTS] | beam.Map(lambda r: (r.source, r.filter, r.reason,
                                                 r.url[len(SITE):]))
        assert_that(why, equal_to(rejected_expected), label="rejected")


def test_duplicates_blank_images_and_url_rules_are_rejected_by_name():
    cfg = load_config(overrides={"fetch": {"enabled": False},
                                 "dedup": {"image_urls": {"max_documents": 2}}})
    a = picture(1)
    records = [
        record("/a.jpg", encode(a), 1),
        record("/a-copy.jpg", encode(a), 2),  # same bytes at another URL
        record("/a-small.jpg", encode(a.resize((200, 150)), quality=60), 3),
        record("/blank.png", encode(Image.new("RGB", (200, 200), (200, 30, 30)), "PNG"), 4),
        record("/common.jpg", encode(picture(2)), 5),
        record("/b.jpg", encode(picture(3)), 6),
        record("/c.jpg", encode(picture(4)), 7),
        record("/d.jpg", encode(picture(5)), 8),
    ]
    docs = [
        doc("d1", ["/a.jpg", "/a-copy.jpg", "/a-small.jpg", "/blank.png", "/img/site-logo.png",
                   "/common.jpg"]),
        doc("d2", ["/b.jpg", "/common.jpg"]),
        doc("d3", ["/c.jpg", "/common.jpg", "/a.jpg"]),  # a.jpg again, in another document
        doc("d4", ["/d.jpg"]),
    ]
    stage_outputs(cfg, docs, records, [
        ("d1", ["/a.jpg"]), ("d2", ["/b.jpg"]), ("d3", ["/c.jpg", "/a.jpg"]),
        ("d4", ["/d.jpg"]),
    ], [
        ("d1", "image_dedup_exact/v1", "duplicate_image", "/a-copy.jpg"),
        ("d1", "image_dedup_phash/v1", "near_duplicate_image", "/a-small.jpg"),
        ("d1", "image_blank/v1", "single_color", "/blank.png"),
        ("d1", "image_url/v1", "url_pattern", "/img/site-logo.png"),
        ("d1", "image_url_count/v1", "too_common", "/common.jpg"),
        ("d2", "image_url_count/v1", "too_common", "/common.jpg"),
        ("d3", "image_url_count/v1", "too_common", "/common.jpg"),
    ])


def test_across_documents_keeps_one_copy_in_the_first_document():
    cfg = load_config(overrides={"fetch": {"enabled": False},
                                 "dedup": {"images": {"across_documents": True}}})
    a = picture(1)
    records = [record("/a.jpg", encode(a), 1), record("/a2.jpg", encode(a, quality=70), 2),
               record("/b.jpg", encode(picture(3)), 3)]
    docs = [doc("d1", ["/a.jpg"]), doc("d2", ["/b.jpg", "/a2.jpg"]), doc("d3", ["/a.jpg"])]
    stage_outputs(cfg, docs, records, [("d1", ["/a.jpg"]), ("d2", ["/b.jpg"])], [
        ("d2", "image_dedup_phash/v1", "near_duplicate_image", "/a2.jpg"),
        ("d3", "image_dedup_exact/v1", "duplicate_image", "/a.jpg"),
        ("d3", "min_images/v1", "too_few_images", "/d3.html"),
    ])


def test_images_matching_an_evaluation_set_are_removed(tmp_path):
    evals = tmp_path / "coco"
    evals.mkdir()
    picture(9, 640, 480).save(evals / "000000139.jpg", quality=95)
    cfg = load_config(overrides={"fetch": {"enabled": False},
                                 "decontam": {"eval_images": [str(evals)]}})
    records = [record("/leak.jpg", encode(picture(9)), 1), record("/ok.jpg", encode(picture(8)), 2)]
    with TestPipeline(options=OPTIONS) as p:
        out = (p | "docs" >> beam.Create([doc("d1", ["/leak.jpg", "/ok.jpg"])]),
               p | "imgs" >> beam.Create(records)) | ResolveImages(cfg)
        assert_that(out.kept | beam.Map(lambda dm: len(dm[0].images)), equal_to([1]),
                    label="kept")
        assert_that(out[REJECTS] | beam.Map(
            lambda r: (r.filter, r.reason, r.url[len(SITE):], "000000139.jpg" in r.detail)),
            equal_to([("decontam_image/v1", "eval_image_match", "/leak.jpg", True)]),
            label="rejected")


def test_tag_only_keeps_duplicates_and_records_why():
    cfg = load_config(overrides={"fetch": {"enabled": False}, "filters": {"tag_only": True}})
    a = picture(1)
    records = [record("/a.jpg", encode(a), 1), record("/a-copy.jpg", encode(a), 2)]
    with TestPipeline(options=OPTIONS) as p:
        out = (p | "docs" >> beam.Create([doc("d1", ["/a.jpg", "/a-copy.jpg"])]),
               p | "imgs" >> beam.Create(records)) | ResolveImages(cfg)
        assert_that(out.kept | beam.Map(lambda dm: (
            len(dm[0].images), sorted(dm[0].meta["image_filters"]["1"]))),
            equal_to([(2, ["image_blank/v1", "image_dedup_exact/v1", "image_url/v1"])]))
