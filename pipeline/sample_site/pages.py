"""HTML templates of the sample site, each recording what a correct extractor should keep.

A page is site chrome (cookie banner, header with logo and menu, sidebar with ads and "most
read" thumbnails, footer with a tracking pixel) around a main part made by one template:
article, listing, gallery, blog post with comments, or recipe. ``Page`` collects the HTML and,
in the same order, the main-content paragraphs and image references; everything else it writes
is boilerplate.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from html import escape

from pipeline.sample_site import text

SITE_NAME = "The Harbour Gazette"
TEMPLATES = ("article", "listing", "gallery", "blog", "recipe")
SECTIONS = {"article": "news", "listing": "topics", "gallery": "gallery", "blog": "blog",
            "recipe": "recipes"}
MENU = [("/", "Home"), ("/news/", "News"), ("/topics/", "Topics"), ("/gallery/", "Galleries"),
        ("/blog/", "Blog"), ("/recipes/", "Recipes"), ("/about.html", "About us")]
COOKIE_TEXT = "We use cookies to give you the best experience on our website."
FOOTER_TEXT = f"© 2024 {SITE_NAME}. All rights reserved."
BOILERPLATE_TEXT = (COOKIE_TEXT, FOOTER_TEXT, "Most read", "Related articles",
                    "Share this story", "Advertisement", "Subscribe to our newsletter")


@dataclass
class ImageRef:
    """An <img> the page shows: the URL as written in the HTML and the site path it resolves to."""

    path: str
    written: str
    main: bool
    reason: str | None = None  # expected rejection; None when the image should be kept


@dataclass
class Page:
    """HTML being built, with the truth recorded alongside."""

    rng: random.Random
    topic: str
    lang: str = "en"
    html: list[str] = field(default_factory=list)
    paragraphs: list[str] = field(default_factory=list)
    other_text: list[str] = field(default_factory=list)  # headings, list items, captions
    refs: list[ImageRef] = field(default_factory=list)
    used: set[str] = field(default_factory=set)  # phrases written so far (see text._pick)

    def add(self, markup: str) -> None:
        self.html.append(markup)

    def para(self, sentences: int | None = None, cls: str = "") -> str:
        body = text.paragraph(self.rng, self.topic, sentences, self.lang, self.used)
        self.paragraphs.append(body)
        attr = f' class="{cls}"' if cls else ""
        self.add(f"<p{attr}>{escape(body, quote=False)}</p>")
        return body

    def heading(self, level: int, s: str) -> None:
        self.other_text.append(s)
        self.add(f"<h{level}>{escape(s, quote=False)}</h{level}>")

    def items(self, tag: str, entries: list[str], cls: str = "") -> None:
        self.other_text.extend(entries)
        attr = f' class="{cls}"' if cls else ""
        lis = "".join(f"<li>{escape(e, quote=False)}</li>" for e in entries)
        self.add(f"<{tag}{attr}>{lis}</{tag}>")

    def image(self, path: str, written: str, *, main: bool, reason: str | None = None) -> None:
        self.refs.append(ImageRef(path, written, main, reason))


def _img(src: str, alt: str, extra: str = "") -> str:
    return f'<img src="{escape(src)}" alt="{escape(alt)}"{extra}>'


def figure(p: Page, path: str, written: str, style: str, *, reason: str | None = None,
           small: str | None = None, size: tuple[int, int] | None = None) -> None:
    """A main-content image in one of the ways sites write them; ``small``: a srcset variant."""
    cap = text.caption(p.rng, p.topic, p.lang, p.used)
    alt = escape(cap)
    dims = f' width="{size[0]}" height="{size[1]}"' if size else ""
    if style == "lazy":
        tag = (f'<img src="/static/blank.gif" data-src="{escape(written)}" alt="{alt}" '
               f'class="lazyload"{dims}>')
    elif style == "srcset" and small:
        tag = _img(written, cap, f' srcset="{escape(small)} 480w, {escape(written)} 1200w" '
                                 f'sizes="(max-width: 600px) 480px, 800px"{dims}')
    elif style == "picture":
        tag = (f'<picture><source media="(min-width: 800px)" srcset="{escape(written)}">'
               + _img(written, cap, dims) + "</picture>")
    elif style == "native-lazy":
        tag = _img(written, cap, f' loading="lazy" decoding="async"{dims}')
    else:
        tag = _img(written, cap, dims)
    p.image(path, written, main=True, reason=reason)
    if style == "bare":
        p.add(f"<p>{tag}</p>")
        return
    p.other_text.append(cap)
    p.add(f'<figure class="figure">{tag}<figcaption>{escape(cap, quote=False)}</figcaption>'
          "</figure>")


def ad_block(p: Page, path: str) -> None:
    p.image(path, path, main=False, reason="boilerplate")
    p.add('<div class="ad ad-banner" data-ad-slot="mid"><span class="ad-label">Advertisement'
          '</span><a href="http://ads.example.net/click?id=42" rel="nofollow">'
          + _img(path, "Advertisement", ' width="728" height="90"') + "</a></div>")


def share_bar(p: Page, icons: list[str]) -> None:
    links = []
    for path in icons:
        p.image(path, path, main=False, reason="boilerplate")
        name = path.rsplit("/", 1)[-1].split(".")[0]
        links.append(f'<a class="share-{name}" href="#share-{name}">'
                     + _img(path, name, ' width="24" height="24"') + "</a>")
    p.add(f'<div class="share-bar social-share"><span>Share this story</span>{"".join(links)}'
          "</div>")


def related(p: Page, titles: list[tuple[str, str]]) -> None:
    lis = "".join(f'<li><a href="{href}">{escape(t, quote=False)}</a></li>' for href, t in titles)
    p.add(f'<section class="related-links"><h2>Related articles</h2><ul>{lis}</ul></section>')


def comments(p: Page, avatars: list[str], n: int) -> None:
    out = []
    for i in range(n):
        av = avatars[p.rng.randrange(len(avatars))]
        p.image(av, av, main=False, reason="boilerplate")
        out.append(f'<li class="comment" id="c{i}"><img class="avatar" src="{av}" alt="" '
                   f'width="48" height="48"><span class="author">reader{p.rng.randint(1, 999)}'
                   f'</span><p>{escape(text.comment(p.rng), quote=False)}</p></li>')
    p.add(f'<section id="comments" class="comments"><h2>{n} comments</h2><ol>{"".join(out)}'
          '</ol><form class="comment-form"><textarea name="c"></textarea>'
          "<button>Post comment</button></form></section>")


def chrome(p: Page, title: str, charset: str, section: str, logo: str, pixel: str,
           sidebar: list[tuple[str, str]], sky: str, main: list[str]) -> str:
    """The whole document around ``main`` (the template's HTML)."""
    p.image(logo, logo, main=False, reason="boilerplate")
    p.image(pixel, pixel, main=False, reason="boilerplate")
    p.image(sky, sky, main=False, reason="boilerplate")
    menu = "".join(f'<li><a href="{h}">{t}</a></li>' for h, t in MENU)
    thumbs = []
    for path, t in sidebar:
        p.image(path, path, main=False, reason="boilerplate")
        thumbs.append(f'<li><a href="/news/"><img src="{path}" alt="" width="100" height="75">'
                      f"{escape(t, quote=False)}</a></li>")
    head_meta = (f'<meta charset="{charset}">' if p.rng.random() < 0.6 else
                 f'<meta http-equiv="Content-Type" content="text/html; charset={charset}">')
    return (
        f'<!DOCTYPE html>\n<html lang="{p.lang}"><head>{head_meta}'
        f"<title>{escape(title, quote=False)} | {SITE_NAME}</title>"
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<link rel="stylesheet" href="/static/site.css"><link rel="icon" href="/favicon.ico">'
        "<script>window.dataLayer = window.dataLayer || [];</script></head>\n<body>"
        f'<div id="cookie-banner" class="cookie-consent" role="dialog"><p>{COOKIE_TEXT} '
        '<a href="/privacy.html">Privacy policy</a></p><button>Accept all</button>'
        "<button>Settings</button></div>\n"
        f'<header class="site-header"><a href="/" class="brand"><img src="{logo}" '
        f'alt="{SITE_NAME}" class="logo" width="180" height="48"></a>'
        f'<nav class="main-menu" role="navigation"><ul>{menu}</ul></nav>'
        '<form class="search"><input name="q" placeholder="Search"></form></header>\n'
        f'<div class="breadcrumbs"><a href="/">Home</a> › <a href="/{section}/">'
        f"{section.title()}</a></div>\n"
        f'<main id="content" class="main">{"".join(main)}</main>\n'
        f'<aside class="sidebar"><h3>Most read</h3><ul class="most-read">{"".join(thumbs)}</ul>'
        f'<div class="ad ad-sidebar"><img src="{sky}" alt="Advertisement" width="160" '
        'height="600"><iframe src="/ads/frame.html" width="300" height="250" '
        'title="advertisement"></iframe></div>'
        '<div class="newsletter"><h3>Subscribe to our newsletter</h3><form><input name="e">'
        "</form></div></aside>\n"
        f'<footer class="site-footer"><p>{FOOTER_TEXT}</p><ul><li><a href="/terms.html">Terms'
        '</a></li><li><a href="/privacy.html">Privacy</a></li><li><a href="/contact.html">'
        f'Contact</a></li></ul><img src="{pixel}" width="1" height="1" alt="" '
        'style="display:none"></footer>\n<script src="/static/analytics.js" async></script>'
        "</body></html>\n")
