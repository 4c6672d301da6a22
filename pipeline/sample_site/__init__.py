"""A realistic sample website, generated from a seed, for `make demo`, the benchmarks and tests.

Around 220 pages in five templates (article, listing, gallery, blog post with comments,
recipe) wrapped in site chrome: cookie banner, header with logo and menu, sidebar with ads and
"most read" thumbnails, sharing bar, related links, footer with a tracking pixel. The main
content has prose, lists, tables and images written every way sites write them (<figure> with
<figcaption>, lazy ``data-src``, ``srcset``, <picture>, site-absolute, ``../`` and local relative
URLs, a few full ones). Images are real JPEGs and PNGs from 16 px to 1200 px, among them
too-small, extreme-aspect, truncated, random-byte and duplicated ones. A few pages are German or
French, in windows-1252 or ISO-8859-1, near-duplicates, have invalid UTF-8 or are pure garbage,
and some have no usable image. ``Site.truth`` records, page by page, the paragraphs and images a
correct build keeps and why the rest goes.

The demo flow: bind the server first, so the site can be generated for its address, then write
the WARC (pages and about half the images) and serve the other images over HTTP:

    with prepare_demo("out/demo/input", seed=0, n_pages=220) as demo:
        run_build(..., inputs=demo.warc_paths)   # or demo.url_list for the URL-list path

or step by step:

    with SiteServer() as srv:
        site = generate_site(seed=0, n_pages=220, base_url=srv.base_url)
        summary = write_site_warc(site, "site.warc.gz", images_in_warc=0.5)
        srv.serve(site, exclude=summary["warc_images"])
        ...
"""

from pipeline.sample_site.publish import (
    Demo,
    SiteServer,
    in_warc,
    prepare_demo,
    serve_site,
    write_site_warc,
    write_url_list,
)
from pipeline.sample_site.site import PageTruth, Site, generate_site

__all__ = ["Demo", "PageTruth", "Site", "SiteServer", "generate_site", "in_warc", "prepare_demo",
           "serve_site", "write_site_warc", "write_url_list"]
