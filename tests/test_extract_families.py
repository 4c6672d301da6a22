"""The extractor's image choices on generated pages of every hard kind (tests/extract_families):
tables, galleries, scripts without spaces, lazy loading, teasers, lead pictures. Each case is a
whole page; the document's images must be the article's, in page order."""

from __future__ import annotations

import pytest

from scrapers.extract import extract, extract_detailed
from scrapers.extract_images import picture_key, source_of
from tests.extract_families import BASE, FAMILIES, all_cases, page, paragraph, url

CASES = all_cases()


@pytest.mark.parametrize("case", CASES, ids=[f"{c.family}-{c.variant}" for c in CASES])
def test_the_article_images_in_page_order(case):
    doc = extract(case.html.encode(), BASE)
    assert doc is not None
    assert [i.src for i in doc.images] == case.expected


def test_every_family_varies_its_markup_and_language():
    for family, make in FAMILIES.items():
        cases = make()
        assert len(cases) >= 9, family
        assert len({c.html for c in cases}) == len(cases)
        langs = {c.variant.split("-")[-2] for c in cases}
        assert len(langs) >= 3, (family, langs)


def _doc(body: str, **kw) -> list[str]:
    import random

    html = page(random.Random(0), "en", "utility", body, **kw)
    doc = extract(html.encode(), BASE)
    return [] if doc is None else [i.src for i in doc.images]


def test_a_lone_picture_after_the_text_is_furniture_but_a_gallery_is_not():
    import random

    rng = random.Random(1)
    text = "".join(f"<p>{paragraph(rng, 'en')}</p>" for _ in range(3))
    ad = "<div><div class='slot'><img src='/x/banner-728.jpg' width='728' height='90'></div></div>"
    assert _doc(text, after=ad) == []
    gallery = "<div class='pics'>" + "".join(f"<img src='/g/{k}.jpg'>" for k in range(3)) + "</div>"
    assert _doc(text, after=gallery) == [url(f"/g/{k}.jpg") for k in range(3)]
    # pictures scattered among the page's furniture (link lists, notices) are not a gallery
    links = "".join(f"<li><a href='/more/{k}'>Another story about the harbour, part {k}</a></li>"
                    for k in range(8))
    busy = (f"<div><div><img src='/x/a.jpg'></div><ul>{links}</ul><p>Reprints need the "
            f"written consent of the publisher.</p><div><img src='/x/b.jpg'></div></div>")
    assert _doc(text, after=busy) == []


def test_two_different_pictures_with_the_same_plain_file_name_are_both_kept():
    import random

    rng = random.Random(2)
    body = (f"<p>{paragraph(rng, 'en')}</p><img src='https://i.example.net/a1f/master/4800.jpg'>"
            f"<img src='https://i.example.net/b2e/master/4800.jpg'><p>{paragraph(rng, 'en')}</p>")
    assert len(_doc(body)) == 2
    assert picture_key("https://c.example.net/max/60/1*AbCdEfGhIjK.jpeg?q=20") == \
        picture_key("https://c.example.net/max/1200/1*AbCdEfGhIjK.jpeg")
    assert picture_key("https://w.example.org/thumb/a/ab/Lake_Taupo.jpg/120px-Lake_Taupo.jpg") \
        != picture_key("https://w.example.org/thumb/a/ab/Lake_Rotorua.jpg/120px-Lake_Rotorua.jpg")


def test_source_choice_order():
    blank = "data:image/gif;base64,R0lGOD"
    assert source_of({"src": "/a.jpg", "data-orig-file": "/a-full.jpg"}, []) == ("/a.jpg", "real")
    assert source_of({"src": blank, "data-zoom-image": "/z.jpg"}, []) == ("/z.jpg", "real")
    assert source_of({"class": "b-lazy", "src": "/a.jpg?w=20",
                      "data-srcset": "/a-640.jpg 640w, /a-1280.jpg 1280w"}, []) == \
        ("/a-1280.jpg", "real")
    assert source_of({"src": "/img/blank.gif"}, []) == ("/img/blank.gif", "placeholder")
    assert source_of({"src": blank}, []) == (None, "data")
    assert source_of({"alt": "x", "title": "photo.jpg"}, []) == (None, "none")


def test_image_rules_are_the_builds_step_after_extraction():
    import random

    rng = random.Random(3)
    body = (f"<p>{paragraph(rng, 'en')}</p><p><img src='/flags/23px-Flag.png' width='23' "
            f"height='15'> <img src='/photos/harbour.jpg'></p><p>{paragraph(rng, 'en')}</p>")
    html = page(rng, "en", "classes", body)
    assert [i.src for i in extract(html.encode(), BASE).images] == \
        [url("/flags/23px-Flag.png"), url("/photos/harbour.jpg")]
    ruled = extract_detailed(html.encode(), BASE, image_rules=True)
    assert [i.src for i in ruled.document.images] == [url("/photos/harbour.jpg")]
    assert (url("/flags/23px-Flag.png"), "icon") in ruled.skipped_images
