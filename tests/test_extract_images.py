"""Image rules: sources, srcset, lazy loading, captions, skip reasons, positions."""

import re

import pytest

from schemas.document import ImageNode, TextNode
from scrapers.extract import extract, extract_detailed
from scrapers.extract_images import largest_candidate

URL = "https://blog.example.org/posts/spring/index.html"
P1 = ("Spring arrived early this year in the valley, and the orchards were in full bloom by the "
      "second week of March, weeks ahead of what the older farmers remember.")
P2 = ("We walked the old trail from the village to the lake, stopping often to photograph the "
      "blossoms, the bees and the patient donkeys that still carry the harvest.")


def doc_with(img_html: str, base: str = "", image_rules: bool = False):
    html = f"""<html><head>{base}<title>t</title></head><body>
        <nav><a href="/">Home</a><a href="/about">About</a></nav>
        <article><h1>Orchards</h1><p>{P1}</p>{img_html}<p>{P2}</p></article>
        <footer><p>All rights reserved, 2024, by the author of this blog.</p></footer>
        </body></html>"""
    return extract_detailed(html.encode(), URL, image_rules=image_rules)


def images(r) -> list[ImageNode]:
    return [] if r.document is None else r.document.images


def test_src_resolved_and_kept_in_place_with_alt_and_size():
    r = doc_with('<img src="../img/bloom.jpg" alt=" Apple  bloom " width="800" height="600">')
    (img,) = images(r)
    assert img.src == "https://blog.example.org/posts/img/bloom.jpg"
    assert (img.alt, img.width, img.height) == ("Apple bloom", 800, 600)
    kinds = [type(n).__name__ + (n.text[:6] if isinstance(n, TextNode) else "")
             for n in r.document.nodes]
    assert kinds == ["TextNodeOrchar", "TextNodeSpring", "ImageNode", "TextNodeWe wal"]


def test_non_numeric_size_is_none():
    (img,) = images(doc_with('<img src="a.jpg" width="100%" height="auto">'))
    assert img.width is None and img.height is None


def test_base_href_is_honoured():
    r = doc_with('<img src="pics/a.jpg">', base='<base href="https://cdn.example.net/media/">')
    assert images(r)[0].src == "https://cdn.example.net/media/pics/a.jpg"


@pytest.mark.parametrize("attr", ["data-src", "data-original", "data-lazy-src", "data-url"])
def test_lazy_loading_attributes(attr):
    r = doc_with(f'<img src="data:image/gif;base64,R0lGOD" {attr}="/full/photo.jpg">')
    assert [i.src for i in images(r)] == ["https://blog.example.org/full/photo.jpg"]


def test_srcset_largest_candidate():
    assert largest_candidate("a.jpg 320w, b.jpg 1024w, c.jpg 640w") == "b.jpg"
    assert largest_candidate("a.jpg 1x, b.jpg 2x") == "b.jpg"
    assert largest_candidate("only.jpg") == "only.jpg"
    assert largest_candidate("") is None
    r = doc_with('<img srcset="s.jpg 300w, l.jpg 1200w" alt="x">')
    assert images(r)[0].src.endswith("/l.jpg")
    r = doc_with('<img src="data:image/gif;base64,R0" data-srcset="s.jpg 1x, l.jpg 2x">')
    assert images(r)[0].src.endswith("/l.jpg")


def test_picture_sources():
    r = doc_with('<picture><source srcset="p-small.webp 480w, p-big.webp 1600w">'
                 '<img alt="pic"></picture>')
    (img,) = images(r)
    assert img.src.endswith("/p-big.webp") and img.alt == "pic"


def test_figcaption_and_caption_wrappers():
    r = doc_with('<figure><img src="f.jpg" alt="a"><figcaption>Blossoms in March.'
                 '</figcaption></figure>')
    (img,) = images(r)
    assert img.caption == "Blossoms in March."
    r = doc_with('<div class="wp-caption"><img src="w.jpg"><p class="wp-caption-text">'
                 'The lake at dawn.</p></div>')
    assert images(r)[0].caption == "The lake at dawn."


@pytest.mark.parametrize("img_html,reason", [
    ('<img src="data:image/png;base64,iVBORw0KGgo=">', "data_uri"),
    ('<img src="/img/diagram.svg">', "svg"),
    ('<img src="/t/p.gif" width="1" height="1">', "tracking_pixel"),
    ('<img src="https://www.google-analytics.com/collect?v=1">', "tracking_pixel"),
    ('<img src="/img/spacer.gif">', "spacer"),
    ('<img src="/img/star.png" class="icon">', "icon"),
    ('<img src="/img/x.png" width="16" height="16">', "icon"),
    ('<img src="/img/site-logo.png">', "logo"),
    ('<img src="https://gravatar.com/avatar/abc.jpg">', "avatar"),
    ('<img src="/img/share-button.png">', "button"),
    ('<img src="https://ads.example.com/banner.jpg">', "ad"),
    ('<img src="/x/promo.jpg" class="advert">', "ad"),
    ("<img alt='nothing'>", "no_src"),
])
def test_skip_reasons(img_html, reason):
    r = doc_with(img_html, image_rules=True)
    assert images(r) == []
    assert [why for _, why in r.skipped_images] == [reason]
    # Without the rules the picture is still the content's (unless it has no usable source).
    r = doc_with(img_html)
    assert len(images(r)) == (0 if reason in ("data_uri", "no_src") else 1)


def test_boilerplate_images_are_not_taken():
    html = f"""<html><body><header><img src="/banner/top.jpg"></header>
        <div class="sidebar"><img src="/side/promo-box.jpg"><a href="/x">Other post</a></div>
        <article><p>{P1}</p><img src="/in/content.jpg"><p>{P2}</p></article>
        <footer><img src="/foot/partner.jpg"></footer></body></html>"""
    r = extract_detailed(html.encode(), URL)
    assert [i.src for i in images(r)] == ["https://blog.example.org/in/content.jpg"]
    reasons = dict(r.skipped_images)
    assert reasons["https://blog.example.org/side/promo-box.jpg"] == "boilerplate"
    assert reasons["https://blog.example.org/foot/partner.jpg"] == "boilerplate"


def test_images_keep_order_between_paragraphs():
    html = f"""<html><body><article><p>{P1}</p><img src="1.jpg"><p>{P2}</p>
        <p><img src="2.jpg"></p><p>{P1[::-1]}</p><figure><img src="3.jpg"></figure>
        </article></body></html>"""
    doc = extract(html.encode(), URL)
    seq = [n.src.rsplit("/", 1)[1] if isinstance(n, ImageNode) else "t" for n in doc.nodes]
    assert seq == ["t", "1.jpg", "t", "2.jpg", "t", "3.jpg"]


def test_noscript_image_replaces_placeholder():
    r = doc_with('<img src="data:image/gif;base64,R0lGOD" class="lazy">'
                 '<noscript><img src="/real/photo.jpg" alt="real"></noscript>')
    assert [(i.src, i.alt) for i in images(r)] == [("https://blog.example.org/real/photo.jpg",
                                                    "real")]
    # a usable image before the <noscript> wins; its copy is not taken twice
    r = doc_with('<img data-src="/lazy/a.jpg"><noscript><img src="/lazy/a.jpg"></noscript>')
    assert [i.src for i in images(r)] == ["https://blog.example.org/lazy/a.jpg"]


def test_thumbnail_strip_is_dropped_but_gallery_with_captions_kept():
    strip = "".join(f'<li><a href="/s/{i}"><img src="/t/{i}.jpg"></a></li>' for i in range(4))
    r = doc_with(f'<img src="/big.jpg"><ul class="carousel">{strip}</ul>')
    assert [i.src.rsplit("/", 1)[1] for i in images(r)] == ["big.jpg"]
    gallery = "".join(f'<li><img src="/g/{i}.jpg"><p>Photo number {i} of the valley.</p></li>'
                      for i in range(4))
    r = doc_with(f"<ul>{gallery}</ul>")
    assert len(images(r)) == 4


def test_duplicates_are_taken_once():
    r = doc_with('<img src="/same.jpg"><p>Between the two.</p><img src="/same.jpg">')
    assert len(images(r)) == 1
    assert ("https://blog.example.org/same.jpg", "duplicate") in r.skipped_images


def test_picture_without_img_shows_nothing():
    r = doc_with('<picture><source srcset="/wide.jpg" media="(min-width: 900px)"></picture>'
                 '<picture><source srcset="/narrow.jpg"><img src="/real.jpg"></picture>')
    assert [i.src.rsplit("/", 1)[1] for i in images(r)] == ["real.jpg"]


def test_background_image_is_decorative():
    r = doc_with('<img class="hero__background-image" src="/hero-1440.png">', image_rules=True)
    assert images(r) == []
    assert [why for _, why in r.skipped_images] == ["decorative"]


def test_image_embed_in_widget_box_is_kept_but_linked_widget_is_not():
    embed = ('<div class="editor-widget-wrapper type-image"><div><img src="/embed.jpg"></div>'
             '<div class="caption-wrapper">Rooms are not always cleaned.</div></div>')
    r = doc_with(embed)
    assert [i.src.rsplit("/", 1)[1] for i in images(r)] == ["embed.jpg"]
    assert "Rooms are not always cleaned." in r.document.text
    promo = '<div class="widget"><a href="/shop"><img src="/promo.jpg"></a></div>'
    assert images(doc_with(promo)) == []


def test_teaser_cards_lose_their_thumbnails():
    cards = "".join(
        f'<div class="story-block"><h4><a href="/s{i}">Other story number {i}</a></h4>'
        f'<a href="/s{i}"><img src="/thumb{i}.jpg"></a><p>A short teaser line for story {i}, '
        f'with a few words.</p></div>' for i in range(4))
    r = doc_with(f'<img src="/lead.jpg"><div class="group">{cards}</div>')
    assert [i.src.rsplit("/", 1)[1] for i in images(r)] == ["lead.jpg"]
    # linked figures in the article body itself are not cards
    figs = "".join(f'<p>{P1}</p><a href="/big{i}.jpg"><img src="/f{i}.jpg"></a>'
                   for i in range(4))
    assert len(images(doc_with(f"<h2><a href='#top'>Section</a></h2>{figs}"))) == 4


def test_figure_closing_the_last_step_is_kept():
    html = f"""<html><body><article><h1>How to</h1><p>{P1}</p>
        <div class="step"><div class="text"><p>{P2}</p></div>
        <figure><img src="/last-step.jpg"></figure></div></article>
        <div class="below"><div><img src="/teaser.jpg"></div></div></body></html>"""
    doc = extract(html.encode(), URL)
    assert [i.src.rsplit("/", 1)[1] for i in doc.images] == ["last-step.jpg"]


TRACKER_URLS = [
    "https://ad.DoubleClick.net/x.gif", "https://www.google-analytics.com/collect?v=1",
    "https://www.googletagmanager.com/ns.html", "https://www.facebook.com/tr?id=1",
    "https://sb.scorecardresearch.com/p?c1=2", "https://pixel.quantserve.com/pixel/x.gif",
    "https://a.2o7.net/b", "https://x.omtrdc.net/b", "https://secure-us.imrworldwide.com/cgi",
    "https://ping.chartbeat.net/ping", "https://pixel.wp.com/g.gif", "https://x.org/pixel.gif",
    "https://x.org/PIXEL/", "https://x.org/beacon?x", "https://x.org/b/ss/suite/1",
    "https://stats.wordpress.com/b.gif", "https://x.org/tracking/1.png", "https://x.org/track.gif",
    "https://x.org/track?u=1", "https://x.org/hitcounter.php", "https://x.org/hits.gif",
    "https://x.org/counter.php", "https://x.org/__utm.gif", "https://bat.bing.com/action",
    "https://analytics.x.org/a.png", "https://x.org/1x1.gif", "https://c.statcounter.com/1",
    "https://feeds.feedburner.com/~r/blog/~4/x", "https://s.sitemeter.com/x",
    "https://x.nedstat.net/x", "https://x.webtrends.com/x", "https://x.org/ping?x=1",
]


@pytest.mark.parametrize("url", TRACKER_URLS + [u.upper() for u in TRACKER_URLS])
def test_tracker_pattern_fast_path_matches_case_insensitive_regex(url):
    from scrapers.extract_images import _TRACKER

    full = re.compile(_TRACKER._plain.pattern, re.I)
    assert bool(_TRACKER.search(url)) == bool(full.search(url)) is True
    assert not _TRACKER.search("https://cdn.example.org/photos/bloom-800.jpg")


@pytest.mark.parametrize("text", ["Foo-Bar_baz9/x.JPG?a=1", "a b\tc", "", "--", "ÄbC-x²", "İx"])
def test_word_split_fast_path_matches_regex(text):
    from scrapers.extract_images import _WORD, _words

    assert _words(text) == set(_WORD.findall(text.lower()))


@pytest.mark.parametrize("text", ["Copyright 2020", "© x", "ALL RIGHTS RESERVED", "Cookie Policy",
                                  "COOKIE ſettings", "plain prose", "(C) 1999", "Straße"])
def test_case_free_regex_matches_re_ignorecase(text):
    from scrapers.extract_select import _NOTICE_RE

    full = re.compile(_NOTICE_RE._plain.pattern, re.I)
    assert bool(_NOTICE_RE.search(text)) == bool(full.search(text))


def test_relative_sources_resolve_exactly_as_urljoin_does(monkeypatch):
    import random
    from urllib.parse import urljoin

    import scrapers.extract_images as ei

    joined = []  # the references left to urljoin
    monkeypatch.setattr(ei, "urljoin", lambda b, r: joined.append(r) or urljoin(b, r))

    rng = random.Random(0)
    parts = ["a", "img", "x.jpg", "..", ".", "", "%20", "?q=1", "#f", ";p", "//", "/", "\u00e9",
             "\\", " ", "\t", ":", "c:d", "~u", ".hidden", "..x", "x..", "@", "&"]
    bases = ["http://h", "http://h/", "http://h/a", "http://h/a/b.html", "https://h.example/a/b?x=1#y",
             "http://h/a//b/", "http://h/a/./b", "http://h/a/../b/c", "http://h:8080/a/b",
             "http://u@h/a", "http://h/a;p/b;q", "ftp://h/a/", "http:/h/a", "http://h/\u00e9/",
             "http://h/a b/", "http://h?x", "http://h#f", "http://h/a?b/c"]
    tried = 0
    for _ in range(20000):
        base = rng.choice(bases)
        raw = "".join(rng.choice(parts) + rng.choice(["", "/"]) for _ in range(rng.randint(1, 4)))
        if raw.startswith(("http://", "https://")):
            continue
        try:
            want = urljoin(base, raw)
        except ValueError:
            want = ""
        assert ei._absolute(base, raw) == want, (base, raw)
        tried += 1
    assert 0 < len(joined) < tried - 1000  # plain paths were appended, the others joined
