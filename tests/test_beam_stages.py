"""The Beam stages with TestPipeline: kept and rejected outputs of extract and images."""

import apache_beam as beam
from apache_beam.options.pipeline_options import PipelineOptions
from apache_beam.testing.test_pipeline import TestPipeline
from apache_beam.testing.util import assert_that, equal_to

from pipeline.config import load_config
from pipeline.rejects import REJECTS, rejects_in
from pipeline.stages.extract import ExtractFn
from pipeline.stages.images import ResolveImages
from scrapers.warc_read import WebRecord
from tests.imagegen import image_bytes, truncated_jpeg
from tests.warcgen import PROSE, page

OPTIONS = PipelineOptions(["--runner=FnApiRunner"])


def html(url: str, body: bytes, offset: int = 0) -> WebRecord:
    return WebRecord(kind="html", url=url, source="t.warc.gz", offset=offset,
                     content_type="text/html", payload=body)


def img(url: str, body: bytes, offset: int) -> WebRecord:
    return WebRecord(kind="image", url=url, source="t.warc.gz", offset=offset,
                     mime="image/jpeg", payload=body)


def test_extract_stage_keeps_pages_and_rejects_empty_and_oversized():
    cfg = load_config()
    good = html("http://a.example/good",
                page("Good", [PROSE] * 3, ["/i.jpg", "/icons/icon.png", "/ads/ad.gif"]), 0)
    empty = html("http://a.example/empty", b"   ", 100)
    big = WebRecord(kind="html", url="http://a.example/big", source="t.warc.gz", offset=200,
                    reason="too_large", detail="over")
    with TestPipeline(options=OPTIONS) as p:
        out = (p | beam.Create([good, empty, big])
               | beam.ParDo(ExtractFn(cfg)).with_outputs(REJECTS, main="docs"))
        assert_that(out.docs | "urls" >> beam.Map(lambda d: (d.url, len(d.images))),
                    equal_to([("http://a.example/good", 1)]), label="kept")
        # One element a page: a kept page's image-rule rejects arrive together.
        reasons = out[REJECTS] | "reasons" >> beam.Map(
            lambda rs: sorted((r.url, r.stage, r.reason) for r in rejects_in(rs)))
        assert_that(reasons, equal_to([
            [("http://a.example/empty", "extract", "empty")],
            [("http://a.example/big", "extract", "too_large")],
            [("http://a.example/ads/ad.gif", "image", "ad"),
             ("http://a.example/icons/icon.png", "image", "icon")],
        ]), label="rejected")


def test_image_stage_uses_warc_images_checks_them_and_drops_imageless_docs():
    cfg = load_config(overrides={"fetch": {"enabled": False}})
    pages = [
        html("http://a.example/1", page("One", [PROSE, PROSE, PROSE],
                                        ["/ok.jpg", "/small.jpg", "/ok2.png"]), 0),
        html("http://a.example/2", page("Two", [PROSE, PROSE], ["/bad.jpg", "/gone.jpg"]), 10),
    ]
    images = [
        img("http://a.example/ok.jpg", image_bytes(300, 200), 20),
        img("http://a.example/ok2.png", image_bytes(120, 100, "PNG"), 21),
        img("http://a.example/small.jpg", image_bytes(40, 40), 22),
        img("http://a.example/bad.jpg", truncated_jpeg(), 23),
        img("http://a.example/unused.jpg", image_bytes(100, 100), 24),
    ]
    with TestPipeline(options=OPTIONS) as p:
        docs = (p | "pages" >> beam.Create(pages) | beam.ParDo(ExtractFn(cfg)).with_outputs(
            REJECTS, main="docs")).docs
        warc_images = p | "images" >> beam.Create(images)
        out = (docs, warc_images) | ResolveImages(cfg)
        kept = out.kept | "kept" >> beam.Map(
            lambda dm: (dm[0].url, [(i.src, i.member, i.width) for i in dm[0].images],
                        sorted(dm[1])))
        assert_that(kept, equal_to([(
            "http://a.example/1",
            [("http://a.example/ok.jpg", "000.jpg", 300),
             ("http://a.example/ok2.png", "001.jpg", 120)],
            ["000.jpg", "001.jpg"],
        )]), label="kept")
        rejected = out[REJECTS] | "rej" >> beam.Map(lambda r: (r.stage, r.reason, r.url))
        assert_that(rejected, equal_to([
            ("image", "too_small", "http://a.example/small.jpg"),
            ("image", "undecodable", "http://a.example/bad.jpg"),
            ("image", "not_in_warc", "http://a.example/gone.jpg"),
            ("document", "too_few_images", "http://a.example/2"),
        ]), label="rejected")
