"""The image filter cores on ImageFacts values and on small images drawn here with Pillow."""

from __future__ import annotations

import io
import random

import pytest
from PIL import Image, ImageDraw

from filters.base import REGISTRY, make_filter
from filters.image_rules import ImageFacts, pixel_stats, url_tokens

IMAGE_FILTERS = ("image_blank", "image_url", "image_format", "image_size")


def run(key: str, facts: ImageFacts, **params):
    return make_filter(key, params).filter(facts)


def reencode(im: Image.Image, fmt: str = "JPEG", **kw) -> Image.Image:
    buf = io.BytesIO()
    im.save(buf, fmt, **kw)
    return Image.open(io.BytesIO(buf.getvalue()))


def noisy(w: int, h: int, base: int, spread: int, seed: int = 0) -> Image.Image:
    rnd = random.Random(seed)
    im = Image.new("L", (w, h))
    im.putdata([max(0, min(255, base + rnd.randint(-spread, spread))) for _ in range(w * h)])
    return im.convert("RGB")


def drawing() -> Image.Image:
    im = Image.new("RGB", (240, 160), "white")
    d = ImageDraw.Draw(im)
    d.line((10, 10, 230, 150), fill="black", width=3)
    d.ellipse((60, 40, 120, 100), outline=(200, 30, 30), width=4)
    d.text((20, 130), "a sketch", fill="navy")
    return im


def gradient(w: int = 200, h: int = 150) -> Image.Image:
    g = Image.linear_gradient("L").resize((w, h))
    return Image.merge("RGB", (g, g.transpose(Image.Transpose.FLIP_LEFT_RIGHT),
                               Image.new("L", (w, h), 90)))


# --- pixel statistics --------------------------------------------------------------------------

def test_pixel_stats_of_a_flat_colour_in_every_mode():
    flat = Image.new("RGB", (120, 80), (40, 120, 200))
    for im in (flat, flat.convert("L"), flat.convert("CMYK"), flat.convert("RGBA"),
               flat.convert("P", palette=Image.Palette.ADAPTIVE), reencode(flat, "GIF"),
               reencode(flat, quality=60), reencode(flat, "PNG")):
        std, colors = pixel_stats(im)
        assert colors == 1, im.mode
        assert std < 2.0, im.mode


def test_pixel_stats_see_content():
    std, colors = pixel_stats(gradient())
    assert std > 30 and colors > 10
    std, colors = pixel_stats(drawing())
    assert std > 5 and colors > 1
    std, colors = pixel_stats(reencode(gradient().convert("CMYK"), quality=80))
    assert std > 30 and colors > 10


def test_pixel_stats_composite_transparency_on_white():
    clear = Image.new("RGBA", (64, 64), (10, 200, 30, 0))  # invisible green: a white spacer
    assert pixel_stats(clear) == (0.0, 1)
    half = Image.new("RGBA", (64, 64), (0, 0, 0, 0))
    ImageDraw.Draw(half).rectangle((0, 0, 31, 63), fill=(0, 0, 0, 255))
    std, colors = pixel_stats(half)
    assert colors == 2 and std > 100
    la = half.convert("LA")
    assert pixel_stats(la)[1] == 2


def test_pixel_stats_scale_sixteen_bit_grey():
    im = Image.new("I;16", (64, 64))
    im.putdata([i * 16 for i in range(64 * 64)])  # a ramp over the whole 16-bit range
    std, colors = pixel_stats(im)
    assert std > 50 and colors > 8


def test_pixel_stats_on_large_images():
    std, colors = pixel_stats(gradient(3000, 2000))
    assert std > 30 and colors > 10


# --- image_blank --------------------------------------------------------------------------------

def facts_of(im: Image.Image, url: str = "https://img.example/p.jpg") -> ImageFacts:
    std, colors = pixel_stats(im)
    return ImageFacts(url, im.width, im.height, "JPEG", std, colors)


def test_image_blank_single_color():
    drop = run("image_blank", facts_of(Image.new("RGB", (300, 200), "red")))
    assert drop.reason == "single_color" and drop.value == 1.0
    assert run("image_blank", facts_of(Image.new("RGB", (300, 200), "red")),
               max_colors=None, min_gray_std=None) is None


def test_image_blank_near_blank():
    # Faint halves straddling a quantisation step: two colours, but almost no contrast.
    im = Image.new("L", (200, 200), 126)
    ImageDraw.Draw(im).rectangle((0, 0, 99, 199), fill=129)
    facts = facts_of(im.convert("RGB"))
    assert facts.colors == 2 and facts.gray_std == pytest.approx(1.5, abs=0.1)
    drop = run("image_blank", facts)
    assert drop.reason == "near_blank" and drop.value == pytest.approx(facts.gray_std)
    assert run("image_blank", facts, min_gray_std=None) is None


def test_image_blank_keeps_real_pictures():
    for im in (gradient(), drawing(), reencode(noisy(200, 150, 128, 60), quality=85)):
        assert run("image_blank", facts_of(im)) is None


def test_image_blank_skips_unmeasured_images():
    assert make_filter("image_blank", {}).measure(ImageFacts("https://a/x.png")) == {}
    assert run("image_blank", ImageFacts("https://a/x.png")) is None


# --- image_url ----------------------------------------------------------------------------------

def test_url_tokens():
    assert url_tokens("https://cdn.example/img/siteLogo2.png?v=3") == ["img", "site", "logo",
                                                                      "png"]
    assert url_tokens("https://a.example/f/a3ad9f%20x.jpg") == ["f", "a3ad9f", "x", "jpg"]


@pytest.mark.parametrize("url, word", [
    ("https://example.com/static/logo.png", "logo"),
    ("https://example.com/img/company_Logo-2x.png", "logo"),
    ("https://example.com/icons/home.svg", "icon"),
    ("https://example.com/assets/ShareButton.gif", "button"),
    ("https://ads.example.com/ad/300x250.jpg", "ad"),
    ("https://example.com/banners/summer.jpg", "banner"),
    ("https://example.com/wp-content/plugins/gallery/thumb.jpg", "plugin"),
    ("https://example.com/t/pixel.gif?id=42", "pixel"),
    ("https://example.com/images/spacer.gif", "spacer"),
])
def test_image_url_matches_whole_words(url, word):
    drop = run("image_url", ImageFacts(url))
    assert (drop.reason, drop.detail) == ("url_pattern", word)


@pytest.mark.parametrize("url", [
    "https://example.com/download/photo.jpg",
    "https://example.com/2021/headline.jpg",
    "https://example.com/uploads/bread-loaf.jpg",
    "https://example.com/images/iconic-bridge.jpg",
    "https://example.com/p/3ad91fe.webp",
    "https://logo.example.com/photos/beach.jpg",  # the host is not looked at
])
def test_image_url_leaves_content_images(url):
    assert run("image_url", ImageFacts(url)) is None


def test_image_url_custom_words():
    facts = ImageFacts("https://example.com/thumbs/cat.jpg")
    assert run("image_url", facts) is None
    assert run("image_url", facts, words=["thumb"]).detail == "thumb"
    with pytest.raises(ValueError, match="list"):
        make_filter("image_url", {"words": "logo"})


# --- image_format and image_size ----------------------------------------------------------------

def test_image_format():
    drop = run("image_format", ImageFacts("u", 100, 100, "BMP"))
    assert (drop.reason, drop.detail) == ("format", "BMP")
    for fmt in ("JPEG", "PNG", "WEBP", "GIF", "MPO", "jpeg"):
        assert run("image_format", ImageFacts("u", 100, 100, fmt)) is None, fmt
    assert run("image_format", ImageFacts("u")) is None  # not decoded yet
    obelics = {"formats": ["jpg", "png", "webp"]}
    assert run("image_format", ImageFacts("u", 9, 9, "GIF"), **obelics).reason == "format"
    assert run("image_format", ImageFacts("u", 9, 9, "JPEG"), **obelics) is None


def test_image_size():
    assert run("image_size", ImageFacts("u", 300, 200)) is None
    drop = run("image_size", ImageFacts("u", 300, 50))
    assert (drop.reason, drop.value) == ("too_small", 50.0)
    drop = run("image_size", ImageFacts("u", 100, 400))
    assert drop.reason == "aspect_ratio" and drop.value == 4.0
    assert run("image_size", ImageFacts("u", 400, 100)).reason == "aspect_ratio"
    drop = run("image_size", ImageFacts("u", 30000, 20000), max_side=20000)
    assert (drop.reason, drop.value) == ("too_large", 30000.0)
    assert run("image_size", ImageFacts("u", 30000, 20000)) is None  # no maximum by default
    assert run("image_size", ImageFacts("u")) is None  # size unknown


def test_image_size_obelics_preset():
    obelics = {"min_side": 150, "max_side": 20000, "max_aspect": 2}
    assert run("image_size", ImageFacts("u", 149, 200), **obelics).reason == "too_small"
    assert run("image_size", ImageFacts("u", 450, 200), **obelics).reason == "aspect_ratio"
    assert run("image_size", ImageFacts("u", 400, 200), **obelics) is None
    assert run("image_size", ImageFacts("u", 100, 400), max_aspect=None) is None


# --- contract ----------------------------------------------------------------------------------

def test_image_filters_are_registered_at_image_level():
    for key in IMAGE_FILTERS:
        cls = REGISTRY[key]
        assert cls.level == "image" and cls.name == f"{key}/v1" and cls.reasons


@pytest.mark.parametrize("key", IMAGE_FILTERS)
def test_image_measures_have_the_same_keys_passing_or_failing(key):
    f = make_filter(key, {})
    good = facts_of(gradient(), "https://example.com/photos/harbour.jpg")
    bad = ImageFacts("https://example.com/logo.bmp", 20, 400, "BMP", 0.0, 1)
    assert f.judge(f.measure(good)) is None and f.judge(f.measure(bad)) is not None
    assert set(f.measure(good)) == set(f.measure(bad)) and f.measure(good)


def test_image_filter_unknown_param():
    with pytest.raises(ValueError, match="min_size"):
        make_filter("image_size", {"min_size": 10})
