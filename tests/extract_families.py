"""Generated pages, one family per kind of page where choosing a document's images is hard.

Each case is a whole page (site header, navigation, sidebar, footer around the article) and
the images a reader sees as the article's own, in page order. Inside a family the markup
varies: class-name vocabularies (semantic tags, descriptive classes, meaningless utility
classes), nesting depth, and the language of the text (Latin scripts, and Chinese, Japanese
and Thai, which put no spaces between words). A rule keyed to one spelling fails some variant.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from itertools import product

BASE = "https://site.example.com/2024/05/article.html"

_WORDS = {
    "en": ("the river valley farmers harvest autumn village market bridge morning light old "
           "stone walls museum visitors history winter road north coast fishermen boats").split(),
    "de": ("der Fluss Tal Bauern Ernte Herbst Dorf Markt Brücke Morgen Licht alte Mauern "
           "Museum Besucher Geschichte Winter Straße Norden Küste Fischer Boote").split(),
}
# Phrases of scripts written without spaces between words.
_PHRASES = {
    "zh": (
        "今年秋天河谷里的农民开始收获",
        "村子里的市场每天早上都很热闹",
        "老石桥在晨光中显得格外美丽",
        "博物馆的游客了解了这座城市的历史",
        "冬天北方海岸的渔民修补他们的船只",
        "这条路通向山上的古老寺庙",
    ),
    "ja": (
        "今年の秋に谷の農家は収穫を始めました",
        "村の市場は毎朝とてもにぎやかです",
        "古い石の橋は朝の光の中で美しく見えます",
        "博物館の来館者はこの町の歴史を学びました",
        "冬になると北の海岸の漁師は船を修理します",
        "この道は山の上の古い寺へ続いています",
    ),
    "th": (
        "ฤดูใบไม้ร่วงปีนี้ชาวนาในหุบเขาเริ่มเก็บเกี่ยว",
        "ตลาดในหมู่บ้านคึกคักทุกเช้า",
        "สะพานหินเก่าดูสวยงามในแสงยามเช้า",
        "นักท่องเที่ยวในพิพิธภัณฑ์ได้เรียนรู้ประวัติศาสตร์ของเมืองนี้",
        "ฤดูหนาวชาวประมงชายฝั่งทางเหนือซ่อมเรือของพวกเขา",
        "ถนนสายนี้นำไปสู่วัดเก่าบนภูเขา",
    ),
}
_STOP = {"zh": "。", "ja": "。", "th": " "}

LANGS = ("en", "de", "zh", "ja", "th")

# Class vocabularies for the page's regions: (article wrapper, body, sidebar, teaser block).
STYLES = {
    "semantic": ("article", "div class='body'", "aside", "section class='more'"),
    "classes": ("div class='post hentry'", "div class='entry-content'",
                "div class='sidebar widget-area'", "div class='related-posts'"),
    "utility": ("div class='col-8 px-3 mb-4'", "div class='x1 r-2'", "div class='col-4 d-md-block'",
                "div class='grid g-3 mt-5'"),
}


@dataclass
class Case:
    family: str
    variant: str
    html: str
    expected: list[str]  # absolute image URLs, in page order


def sentence(rng: random.Random, lang: str) -> str:
    if lang in _PHRASES:
        return "".join(rng.choice(_PHRASES[lang]) for _ in range(2)) + _STOP[lang]
    words = [rng.choice(_WORDS[lang]) for _ in range(rng.randint(9, 16))]
    return " ".join(words).capitalize() + "."


def paragraph(rng: random.Random, lang: str, n: int = 3) -> str:
    sep = "" if lang in ("zh", "ja") else " "
    return sep.join(sentence(rng, lang) for _ in range(n))


def url(path: str) -> str:
    return "https://site.example.com" + path


def _tag(open_tag: str) -> tuple[str, str]:
    name = open_tag.split()[0]
    return f"<{open_tag}>", f"</{name}>"


def page(rng: random.Random, lang: str, style: str, body: str, depth: int = 1,
         teasers: bool = True, before: str = "", after: str = "") -> str:
    """A whole page around `body` (the article's text, in its own box): header with a logo, a
    menu with icons, a sidebar and a footer, each with images that are not the article's.
    `before` and `after` go inside the article, outside the text box (a lead picture, a
    gallery under the text)."""
    art_o, art_c = _tag(STYLES[style][0])
    body_o, body_c = _tag(STYLES[style][1])
    side_o, side_c = _tag(STYLES[style][2])
    # Links under the text (tags, sharing): the article's own furniture, which lowers its
    # score below that of its text box.
    tags_cls = {"semantic": "tags", "classes": "entry-tags share-links",
                "utility": "mt-2 f6"}[style]
    tag_links = " ".join(f"<a href='/tag/{w}'>{w}</a>" for w in rng.sample(_WORDS["en"], 8))
    wrap_o = "".join(f"<div class='wrap-{i}'>" for i in range(depth))
    wrap_c = "</div>" * depth
    menu = "".join(f"<li><a href='/s/{i}'><img src='/static/ico-{i}.png' width='16' "
                   f"height='16'>{rng.choice(_WORDS['en'])}</a></li>" for i in range(5))
    side = "".join(f"<li><a href='/p/{i}'><img src='/media/side-{i}.jpg'>Popular story {i}</a>"
                   f"</li>" for i in range(3)) if teasers else ""
    return f"""<!doctype html><html lang="{lang}"><head><meta charset="utf-8">
<title>Article</title></head><body>
<header class="site-header"><a href="/"><img src="/static/brand.png" alt="Site"></a>
<nav><ul>{menu}</ul></nav></header>
<div class="page">{wrap_o}{art_o}<h1>{sentence(rng, lang)}</h1>
{before}{body_o}{body}{body_c}{after}
<div class='{tags_cls}'>{tag_links}</div>{art_c}{wrap_c}
{side_o}<h3>Popular</h3><ul>{side}</ul>{side_c}</div>
<footer><p><a href="/about">About</a> <a href="/privacy">Privacy</a></p>
<img src="/static/partner-badge.png" alt="partner"></footer></body></html>"""


def _variants(langs: tuple[str, ...] = LANGS):
    """(index, rng, lang, style, depth) over the cross of languages and styles."""
    for i, (lang, style) in enumerate(product(langs, STYLES)):
        yield i, random.Random(f"{lang}-{style}"), lang, style, 1 + i % 3


def tables() -> list[Case]:
    """Images inside tables: a data table with a picture per row inside the article, and an
    old layout whose whole article sits in nested tables beside a link column."""
    out = []
    for i, rng, lang, style, depth in _variants():
        rows, want = [], []
        for r in range(5):
            src = f"/img/t{i}-row{r}.jpg"
            img = f"<img src='{src}' width='{rng.choice([60, 80, 120])}' height='60'>"
            if r % 2:
                img = f"<a href='/item/{r}'>{img}</a>"
            rows.append(f"<tr><td>{sentence(rng, lang)[:24]}</td><td>{img}</td>"
                        f"<td>{rng.randint(10, 999)}</td></tr>")
            want.append(url(src))
        if i % 2:  # rows linking to each item's own page, the picture linked too
            rows = [r.replace("<td>", "<td><a href='/item/x'>", 1).replace("</td>", "</a></td>", 1)
                    for r in rows]
        table_cls = ["", " class='wikitable sortable'", " class='data'"][i % 3]
        body = (f"<p>{paragraph(rng, lang)}</p><img src='/img/t{i}-lead.jpg'>"
                f"<p>{paragraph(rng, lang)}</p><table{table_cls}><tr><th>Name</th><th>Photo</th>"
                f"<th>Count</th></tr>{''.join(rows)}</table><p>{paragraph(rng, lang)}</p>")
        out.append(Case("tables", f"data-{lang}-{style}", page(rng, lang, style, body, depth),
                        [url(f"/img/t{i}-lead.jpg")] + want))
        # A table layout: no article element, no classes, text broken by <br> and <font>.
        cells = []
        want = []
        for r in range(3):
            src = f"/img/l{i}-{r}.jpg"
            want.append(url(src))
            text = (f"<font size='2'>{paragraph(rng, lang)}<br><br>"
                    f"{paragraph(rng, lang, 2)}</font>")
            pic = (f"<img src='{src}' width='400' height='300'><br>"
                   f"<font size='1'>{sentence(rng, lang)[:30]}</font>")
            if (i + r) % 2:  # the picture in a row of its own
                cells.append(f"<tr><td>{text}</td></tr><tr><td align='center'>{pic}</td></tr>")
            else:  # the picture in the cell beside the text
                cells.append(f"<tr><td valign='top'>{pic}</td><td>{text}</td></tr>")
        if i % 2:  # a menu of text links with bullets
            links = "".join(f"<a href='/c/{k}'><img src='/gfx/bullet.gif' width='8' "
                            f"height='8'>Section {k}</a><br>" for k in range(6))
        else:  # a menu of picture buttons, sometimes with one text link under it
            links = "".join(f"<a href='/c/{k}'><img src='/gfx/button{k}.gif' width='120' "
                            f"height='20'></a><br>" for k in range(6))
            links += "<br><a href='/links'>Links</a>" if i % 4 == 0 else ""
        html = f"""<html><body><table width="100%"><tr><td colspan="2">
<img src="/gfx/masthead.gif" width="760" height="90"></td></tr><tr>
<td width="160" valign="top">{links}</td><td valign="top">{"<table><tr><td>" * depth}
<table width="100%"><tr><td><b>{sentence(rng, lang)}</b></td></tr>{''.join(cells)}</table>
{"</td></tr></table>" * depth}</td></tr><tr><td colspan="2"><font size="1">
<a href="/">Home</a> | <a href="/mail">Mail</a></font></td></tr></table></body></html>"""
        out.append(Case("tables", f"layout-{lang}-{style}", html, want))
    return out


def galleries() -> list[Case]:
    """Many small-to-medium images together inside the article: captioned thumbnail
    galleries, plain image lists, multi-image figures, an infobox."""
    out = []
    for i, rng, lang, style, depth in _variants():
        kind = ("captioned", "plain-list", "figure-grid", "infobox", "block-gallery")[i % 5]
        after = ""
        pics = [f"/img/g{i}-{k}.jpg" for k in range(6)]
        if kind == "captioned":
            items = "".join(f"<li class='gallerybox'><div class='thumb'><a href='/file/{k}'>"
                            f"<img src='{p}' width='120' height='90'></a></div>"
                            f"<div class='gallerytext'><p>{sentence(rng, lang)[:40]}</p></div></li>"
                            for k, p in enumerate(pics))
            block = f"<ul class='gallery'>{items}</ul>"
        elif kind == "plain-list":
            block = "<ul class='photos'>" + "".join(
                f"<li><img src='{p}' alt='photo {k}'></li>" for k, p in enumerate(pics)) + "</ul>"
        elif kind == "figure-grid":
            block = ("<figure class='multi'>" + "".join(f"<img src='{p}'>" for p in pics)
                     + f"<figcaption>{sentence(rng, lang)}</figcaption></figure>")
        elif kind == "block-gallery":
            block = ("<figure class='wp-block-gallery columns-3'><ul class='blocks-gallery-grid'>"
                     + "".join(f"<li class='blocks-gallery-item'><figure><a href='{p}'>"
                               f"<img src='{p.replace('.jpg', '-300x200.jpg')}'></a></figure></li>"
                               for p in pics) + "</ul></figure>")
            pics = [p.replace(".jpg", "-300x200.jpg") for p in pics]
        else:  # an infobox table floating at the top of the article, then figures in the text
            block = ""
        if kind == "infobox":
            box = (f"<table class='infobox vcard'><tr><th colspan='2'>{sentence(rng, lang)[:20]}"
                   f"</th></tr><tr><td colspan='2'><a href='/file/map'><img src='{pics[0]}' "
                   f"width='250' height='200'></a><div>{sentence(rng, lang)[:30]}</div></td></tr>"
                   + "".join(f"<tr><th>Key {k}</th><td>{rng.randint(1, 99)}</td></tr>"
                             for k in range(6)) + "</table>")
            figs = "".join(f"<div class='thumb tright'><div class='thumbinner'>"
                           f"<a href='/file/{k}'><img src='{p}' width='220' height='160'></a>"
                           f"<div class='thumbcaption'>{sentence(rng, lang)[:40]}</div></div></div>"
                           f"<p>{paragraph(rng, lang)}</p>" for k, p in enumerate(pics[1:4]))
            body = f"{box}<p>{paragraph(rng, lang)}</p>{figs}<p>{paragraph(rng, lang)}</p>"
            pics = pics[:4]
        elif i % 2:  # under the text, outside its box
            body, after = f"<p>{paragraph(rng, lang)}</p><p>{paragraph(rng, lang)}</p>", block
        else:
            body = (f"<p>{paragraph(rng, lang)}</p><p>{paragraph(rng, lang)}</p>{block}"
                    f"<p>{paragraph(rng, lang)}</p>")
        where = "under" if after else "in"
        out.append(Case("galleries", f"{kind}-{where}-{lang}-{style}",
                        page(rng, lang, style, body, depth, after=after), [url(p) for p in pics]))
    return out


def scripts_without_spaces() -> list[Case]:
    """Short paragraphs in Chinese, Japanese and Thai with images between and after them."""
    out = []
    for i, rng, lang, style, depth in _variants(("zh", "ja", "th")):
        parts, want = [], []
        for k in range(5):
            if k == 2:  # a "read also" line of links in the middle of the text: not content
                parts.append("<p>" + " ".join(f"<a href='/n/{j}'>{sentence(rng, lang)[:10]}</a>"
                                              for j in range(3)) + "</p>")
            parts.append(f"<p>{paragraph(rng, lang, rng.randint(1, 2))}</p>")
            if k % 2 == 0:
                src = f"/img/c{i}-{k}.jpg"
                want.append(url(src))
                parts.append(f"<p style='text-align:center'><img src='{src}'></p>"
                             f"<p>{sentence(rng, lang)[:14]}</p>")
        src = f"/img/c{i}-end.jpg"
        want.append(url(src))
        parts.append(f"<div class='pic'><img src='{src}'></div><p>{sentence(rng, lang)[:12]}</p>")
        out.append(Case("cjk-thai", f"{lang}-{style}",
                        page(rng, lang, style, "".join(parts), depth), want))
    return out


def lazy_loading() -> list[Case]:
    """Placeholders with the real picture named elsewhere: the real source, once."""
    forms = [
        ("data-src", "<img src='data:image/gif;base64,R0lGODlhAQABAAAAACw=' data-src='{r}'>"),
        ("blurred", "<img class='lazyload' src='{r}?q=20&w=40' data-src='{r}'>"),
        ("data-srcset", "<img class='lazy' data-srcset='{s} 480w, {r} 1200w'>"),
        ("picture", "<picture><source srcset='{s} 480w, {r} 1200w' type='image/webp'>"
                    "<img src='data:image/gif;base64,R0lGODlhAQABAAAAACw='></picture>"),
        ("noscript", "<div class='media'><img class='js-lazy' src='/static/blank.gif'>"
                     "<noscript><img src='{r}'></noscript></div>"),
        ("noscript-span", "<span class='image-wrap'><img src='data:image/gif;base64,R0lGOD'"
                          " alt=''></span><noscript><img src='{r}' alt=''></noscript>"),
        ("unnamed-attr", "<img class='lazy-img' data-lazy-load-src='{r}'>"),
        ("figure-attr", "<figure data-image='{r}'><figcaption>Photo credit</figcaption></figure>"),
        ("progressive", "<figure><div class='media-box'><img class='media-thumb' "
                        "src='https://cdn.example.net/max/60/{n}.jpeg?q=20'><canvas></canvas>"
                        "<img class='media-image' data-src='https://cdn.example.net/max/1200/{n}.jpeg'>"
                        "<noscript><img src='https://cdn.example.net/max/1200/{n}.jpeg'></noscript>"
                        "</div></figure>"),
    ]
    out = []
    for i, rng, lang, style, depth in _variants(("en", "de", "ja")):
        parts, want = [f"<p>{paragraph(rng, lang)}</p>"], []
        for k, (name, form) in enumerate(forms):
            real, small = f"/media/z{i}-{k}.jpg", f"/media/z{i}-{k}-480.jpg"
            parts.append(form.format(r=real, s=small, n=f"1*z{i}k{k}Rq8eWdPnQ"))
            parts.append(f"<p>{paragraph(rng, lang, 2)}</p>")
            want.append(f"https://cdn.example.net/max/1200/1*z{i}k{k}Rq8eWdPnQ.jpeg"
                        if name == "progressive" else url(real))
        out.append(Case("lazy", f"{lang}-{style}", page(rng, lang, style, "".join(parts), depth),
                        want))
    return out


def teasers() -> list[Case]:
    """Cards linking to other stories, inside or next to the article: not its images."""
    out = []
    for i, rng, lang, style, depth in _variants():
        tz_o, tz_c = _tag(STYLES[style][3])
        if i % 3 == 2:  # no headings: a list of linked pictures with linked titles
            cards = "<ul>" + "".join(
                f"<li><a href='/story/{k}'><img src='/media/tz{i}-{k}.jpg'>"
                f"<span>{sentence(rng, lang)[:40]}</span></a></li>" for k in range(4)) + "</ul>"
        else:
            cards = "".join(
                f"<div class='card c{k}'><a href='/story/{k}'><img src='/media/tz{i}-{k}.jpg'></a>"
                f"<h3><a href='/story/{k}'>{sentence(rng, lang)[:40]}</a></h3>"
                f"<p>{sentence(rng, lang)[:60]}</p></div>" for k in range(4))
        figs = [f"/img/a{i}-{k}.jpg" for k in range(2)]
        body = (f"<p>{paragraph(rng, lang)}</p><figure><img src='{figs[0]}'><figcaption>"
                f"{sentence(rng, lang)[:30]}</figcaption></figure><p>{paragraph(rng, lang)}</p>"
                f"<p>{paragraph(rng, lang)}</p><p><img src='{figs[1]}'></p>"
                f"<p>{paragraph(rng, lang)}</p>")
        inside = i % 2 == 0
        if inside:
            body += f"{tz_o}<h2>More</h2>{cards}{tz_c}"
        html = page(rng, lang, style, body, depth)
        if not inside:
            html = html.replace("<footer>", f"{tz_o}<h2>More</h2>{cards}{tz_c}<footer>")
        out.append(Case("teasers", f"{'in' if inside else 'after'}-{lang}-{style}", html,
                        [url(f) for f in figs]))
    return out


def lead_pictures() -> list[Case]:
    """The article's picture above its text box (a hero figure in the article's header) and
    one inside the text; the site's banner above the article is not the article's."""
    out = []
    for i, rng, lang, style, depth in _variants():
        lead, inner = f"/img/lead{i}.jpg", f"/img/in{i}.jpg"
        before = [
            f"<figure class='lead'><img src='{lead}' width='1200' height='675'><figcaption>"
            f"{sentence(rng, lang)[:40]}</figcaption></figure>",
            f"<div class='hero-media'><picture><source srcset='{lead} 1200w'>"
            f"<img src='{lead}' alt='{sentence(rng, lang)[:20]}'></picture></div>",
            f"<header><p class='byline'>By A. Writer</p><img src='{lead}'></header>",
        ][i % 3]
        body = (f"<p>{paragraph(rng, lang)}</p><p>{paragraph(rng, lang)}</p>"
                f"<p><img src='{inner}'></p><p>{paragraph(rng, lang)}</p>")
        html = page(rng, lang, style, body, depth, before=before)
        out.append(Case("lead", f"{i % 3}-{lang}-{style}", html, [url(lead), url(inner)]))
    return out


FAMILIES = {"lead": lead_pictures, "tables": tables, "galleries": galleries,
            "cjk-thai": scripts_without_spaces, "lazy": lazy_loading, "teasers": teasers}


def all_cases() -> list[Case]:
    return [c for make in FAMILIES.values() for c in make()]
