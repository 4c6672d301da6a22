"""Image path benchmark: checked images per CPU-second and output quality, path by path.

Usage: python bench/image_bench.py [--rounds 3] [--generated 200] [--dev ../shared/data/dev]

Paths compared on the same bytes:
- ``pillow_before``: the image path as it was before the one-decode rewrite (a PNG decoded
  once more to read its EXIF, a second open to verify, a draft decode, an oriented copy, one
  LANCZOS resize, the hash and the statistics each resizing the image again, Pillow's
  encoder);
- ``pillow_draft``: Pillow alone done once: one draft decode, one LANCZOS resize, the shared
  64 x 64 thumbnail, Pillow's encoder;
- ``opencv_fast`` (what ``scrapers.images.process_image`` does): a JPEG decoded by OpenCV at
  the largest DCT reduction that still covers the output, one resize with box averaging
  (see ``scrapers.images.RESIZE``), the thumbnail, OpenCV's encoder; other formats decoded
  by Pillow;
- ``opencv_area``: the same with OpenCV's exact area filter (slow for fractional factors);
- ``opencv_linear``: the same with a bilinear resize whenever the factor is under 2;
- ``opencv_lanczos``: the same with a Lanczos-3 low-pass and cubic sampling;
- ``opencv_full_area``: ``opencv_area`` without the reduced decode.

Quality: every stored JPEG is decoded and compared with a reference made from the full
decode (no reduction) with one LANCZOS resize to the same size: PSNR (dB) and mean absolute
error (of 255), over the images every path kept. ``phash_bits`` is the mean Hamming distance
between a path's pHash and ``filters.phash.phash`` of the reference.

Images: the real ones under the dev data folder (its image files, plus crops at web sizes of
those over 1000 px, re-encoded as JPEG) when it is there, and always generated ones: the
sample site's photos and charts at its size mix, and a fine-detail set (zone plates, small
text) where a resize that skips pixels shows its aliasing. Throughput is CPU time (this
process), all paths interleaved round by round.
"""

from __future__ import annotations

import argparse
import glob
import io
import os
import sys
import time
from collections.abc import Callable

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from PIL import Image, ImageOps, ImageStat  # noqa: E402

import scrapers.images as si  # noqa: E402
from filters import phash as ph  # noqa: E402
from filters.image_rules import thumb_stats  # noqa: E402
from filters.thumbnail import thumbnail, to_rgb  # noqa: E402

DEV = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "..",
                   "shared", "data", "dev")
SUFFIXES = (".jpg", ".jpeg", ".png", ".gif", ".webp")


# --- the path before the rewrite, kept here to measure against --------------------------------

def _old_gray32(img: Image.Image) -> np.ndarray:
    gray = to_rgb(img).convert("L")
    small = gray.resize((32, 32), Image.Resampling.LANCZOS, reducing_gap=2.0)
    return np.asarray(small, dtype=np.float64)


def _old_phash(img: Image.Image) -> int:
    coeffs = (ph._DCT @ _old_gray32(img) @ ph._DCT.T).ravel()[ph._PICK]
    coeffs = np.where(np.abs(coeffs) < 1e-6, 0.0, coeffs)
    return ph._bits_to_int(coeffs > np.median(coeffs))


_LUT = [v & 0xF0 for v in range(256)] * 3


def _old_pixel_stats(img: Image.Image) -> tuple[float, int]:
    rgb = to_rgb(img)
    if rgb.width > 256 or rgb.height > 256:
        rgb = rgb.reduce(max(1, min(rgb.width, rgb.height) // 128))
    thumb = rgb.resize((64, 64), Image.Resampling.BOX)
    std = ImageStat.Stat(thumb.convert("L")).stddev[0]
    small = thumb.resize((32, 32), Image.Resampling.BOX).point(_LUT)
    return float(std), len(small.getcolors(1024) or [])


def _pillow_checked(data: bytes, cfg: si.ImageConfig) -> tuple[si.ImageResult, si._Header]:
    res = si.ImageResult(False)
    return res, si._check(data, cfg, res)


def _encoded(res: si.ImageResult, im: Image.Image, cfg: si.ImageConfig) -> si.ImageResult:
    """The Pillow paths' last step: one JPEG encode, and the result filled in."""
    buf = io.BytesIO()
    im.save(buf, "JPEG", quality=cfg.jpeg_quality)
    res.ok, res.jpeg, (res.width, res.height) = True, buf.getvalue(), im.size
    return res


def _failed(exc: Exception) -> si.ImageResult:
    """A rule's reject keeps its reason and value; anything else is undecodable."""
    if isinstance(exc, si._Reject):
        return si.ImageResult(False, exc.reason, exc.value)
    return si.ImageResult(False, "undecodable", detail=str(exc))


def pillow_before(data: bytes, cfg: si.ImageConfig) -> si.ImageResult:
    try:
        res, hdr = _pillow_checked(data, cfg)
        opener = ["JPEG"] if hdr.fmt in si._JPEG_LIKE else [hdr.fmt]
        if hdr.fmt == "PNG":  # its header check asked a PNG for EXIF, which decodes it
            with Image.open(io.BytesIO(data), formats=opener) as im:
                im.getexif()
        with Image.open(io.BytesIO(data), formats=opener) as probe:
            probe.verify()
        im = Image.open(io.BytesIO(data), formats=opener)
        if hdr.fmt in si._JPEG_LIKE:
            im.draft("RGB", (hdr.out_w, hdr.out_h))
        im.load()
        im = to_rgb(ImageOps.exif_transpose(im) or im)
        w, h = im.size
        if max(w, h) > cfg.max_side:
            s = cfg.max_side / max(w, h)
            im = im.resize((max(1, round(w * s)), max(1, round(h * s))),
                           Image.Resampling.LANCZOS, reducing_gap=3.0)
        res.phash = _old_phash(im)
        res.gray_std, res.colors = _old_pixel_stats(im)
        return _encoded(res, im, cfg)
    except Exception as exc:
        return _failed(exc)


def pillow_draft(data: bytes, cfg: si.ImageConfig) -> si.ImageResult:
    try:
        res, hdr = _pillow_checked(data, cfg)
        opener = ["JPEG"] if hdr.fmt in si._JPEG_LIKE else [hdr.fmt]
        with Image.open(io.BytesIO(data), formats=opener) as im:
            if hdr.fmt in si._JPEG_LIKE:
                im.draft("RGB", (hdr.out_w, hdr.out_h))
            im.load()
            out = to_rgb(im)
            if out.size != (hdr.out_w, hdr.out_h):
                out = out.resize((hdr.out_w, hdr.out_h), Image.Resampling.LANCZOS,
                                 reducing_gap=3.0)
            if hdr.orientation > 1:
                out = out.transpose(_TRANSPOSE[hdr.orientation])
        thumb = thumbnail(out)
        res.phash = ph.phash_thumb(thumb)
        res.gray_std, res.colors = thumb_stats(thumb)
        return _encoded(res, out, cfg)
    except Exception as exc:
        return _failed(exc)


_T = Image.Transpose
_TRANSPOSE = {2: _T.FLIP_LEFT_RIGHT, 3: _T.ROTATE_180, 4: _T.FLIP_TOP_BOTTOM, 5: _T.TRANSPOSE,
              6: _T.ROTATE_270, 7: _T.TRANSVERSE, 8: _T.ROTATE_90}


def _with(resize: str, reduce: bool) -> Callable[[bytes, si.ImageConfig], si.ImageResult]:
    def run(data: bytes, cfg: si.ImageConfig) -> si.ImageResult:
        saved = si.RESIZE, si._reduction
        si.RESIZE = resize
        if not reduce:
            si._reduction = lambda hdr: 1
        try:
            return si.process_image(data, cfg)
        finally:
            si.RESIZE, si._reduction = saved
    return run


PATHS: dict[str, Callable[[bytes, si.ImageConfig], si.ImageResult]] = {
    "pillow_before": pillow_before,
    "pillow_draft": pillow_draft,
    "opencv_fast": _with("fast", True),
    "opencv_area": _with("area", True),
    "opencv_linear": _with("linear", True),
    "opencv_lanczos": _with("lanczos", True),
    "opencv_full_area": _with("area", False),
}


# --- images ----------------------------------------------------------------------------------

def _jpeg(im: Image.Image, quality: int = 90) -> bytes:
    buf = io.BytesIO()
    im.convert("RGB").save(buf, "JPEG", quality=quality)
    return buf.getvalue()


def dev_images(root: str, seed: int = 0) -> list[bytes]:
    """The dev data's image files, and crops at web sizes of the larger ones."""
    rng = np.random.default_rng(seed)
    out = []
    for path in sorted(glob.glob(os.path.join(root, "**", "*"), recursive=True)):
        if not path.lower().endswith(SUFFIXES):
            continue
        with open(path, "rb") as fh:
            data = fh.read()
        out.append(data)
        with Image.open(io.BytesIO(data)) as im:
            if max(im.size) < 1000:
                continue
            rgb = to_rgb(im)
            for _ in range(12):
                w = int(rng.integers(560, rgb.width + 1))
                h = int(min(rgb.height, w * rng.uniform(0.6, 1.2)))
                x = int(rng.integers(0, rgb.width - w + 1))
                y = int(rng.integers(0, rgb.height - h + 1))
                out.append(_jpeg(rgb.crop((x, y, x + w, y + h))))
    return out


def generated_images(n: int, seed: int = 0) -> list[bytes]:
    """Sample-site photos and charts at its size mix, with a few larger photos."""
    from pipeline.sample_site import images as site

    rng = np.random.default_rng(seed)
    sides = [320, 400, 480, 560, 640, 720, 800, 960, 1200, 1600, 2400]
    p = [.09, .12, .16, .14, .13, .1, .08, .06, .05, .04, .03]
    out = []
    for i in range(n):
        w = int(rng.choice(sides, p=p))
        h = int(w * rng.uniform(0.6, 1.4))
        if i % 10 == 9:
            out.append(site.make("chart", rng, w, int(w * 0.6), "PNG").data)
        else:
            out.append(site.make("photo", rng, w, h, "PNG" if w <= 320 and i % 3 == 0
                                 else "JPEG").data)
    return out


def detail_images() -> list[bytes]:
    """Fine detail, where a resize that skips pixels aliases: zone plates (rings whose
    frequency rises to the pixel pitch) and pages of small text, at several sizes."""
    from PIL import ImageDraw

    out = []
    for side in (600, 700, 800, 900, 1000, 1500):
        y, x = np.mgrid[0:side, 0:side] - side / 2
        zone = 127.5 + 127.5 * np.cos(np.pi * (x * x + y * y) / (1.2 * side))
        out.append(_jpeg(Image.fromarray(zone.astype(np.uint8)).convert("RGB"), 95))
    for w in (700, 900, 1000, 1400):
        page = Image.new("RGB", (w, w * 3 // 4), "white")
        draw = ImageDraw.Draw(page)
        for row in range(0, page.height - 12, 12):
            draw.text((8, row), "The quick brown fox jumps over the lazy dog 0123456789 " * 3,
                      fill=(20, 20, 60))
        out.append(_jpeg(page, 95))
    return out


# --- measures --------------------------------------------------------------------------------

def reference(data: bytes, size: tuple[int, int]) -> Image.Image:
    """Full decode, oriented, one LANCZOS resize to the stored ``size``."""
    with Image.open(io.BytesIO(data)) as im:
        im.load()
        rgb = to_rgb(ImageOps.exif_transpose(im) or im)
    return rgb if rgb.size == size else rgb.resize(size, Image.Resampling.LANCZOS)


def quality(results: list[si.ImageResult], images: list[bytes], keep: list[bool],
            refs: dict[tuple[int, int, int], Image.Image]) -> tuple[float, float, float]:
    psnr, mae, bits = [], [], []
    for i, (res, data) in enumerate(zip(results, images)):
        if not keep[i] or not res.ok:
            continue
        key = (i, res.width, res.height)
        if key not in refs:
            refs[key] = reference(data, (res.width, res.height))
        ref = refs[key]
        got = np.asarray(Image.open(io.BytesIO(res.jpeg)).convert("RGB"), dtype=np.float64)
        diff = got - np.asarray(ref, dtype=np.float64)
        mse = float(np.mean(diff * diff))
        psnr.append(10 * np.log10(255.0 ** 2 / max(mse, 1e-6)))
        mae.append(float(np.mean(np.abs(diff))))
        bits.append(ph.hamming(res.phash, ph.phash(ref)))
    return float(np.mean(psnr)), float(np.mean(mae)), float(np.mean(bits))


def run_set(name: str, images: list[bytes], rounds: int, cfg: si.ImageConfig) -> None:
    base = [pillow_before(d, cfg) for d in images]
    keep = [r.ok for r in base]
    refs: dict[tuple[int, int, int], Image.Image] = {}
    cpu = dict.fromkeys(PATHS, 0.0)
    for _ in range(rounds):
        for path, fn in PATHS.items():
            t = time.process_time()
            for data in images:
                fn(data, cfg)
            cpu[path] += time.process_time() - t
    print(f"\n{name}: {len(images)} images, {sum(r.ok for r in base)} kept, {rounds} rounds")
    print(f"{'path':18s} {'img/CPU-s':>10s} {'ms/img':>7s} {'PSNR dB':>8s} {'MAE':>6s} "
          f"{'phash_bits':>10s} {'same verdict':>12s}")
    for path, fn in PATHS.items():
        results = [fn(d, cfg) for d in images]
        same = sum((r.ok, r.reason) == (b.ok, b.reason) for r, b in zip(results, base))
        p, m, b = quality(results, images, keep, refs)
        rate = rounds * len(images) / cpu[path]
        print(f"{path:18s} {rate:10.1f} {1000 / rate:7.2f} {p:8.2f} {m:6.2f} {b:10.2f} "
              f"{same:>7d}/{len(images)}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--generated", type=int, default=200)
    ap.add_argument("--dev", default=DEV)
    a = ap.parse_args()
    cfg = si.ImageConfig()
    si._cv2()  # import OpenCV before timing
    if os.path.isdir(a.dev):
        run_set(f"dev images ({os.path.abspath(a.dev)})", dev_images(a.dev), a.rounds, cfg)
    else:
        print(f"dev data not found at {a.dev}: generated images only")
    run_set("generated images", generated_images(a.generated), a.rounds, cfg)
    run_set("fine detail (generated)", detail_images(), a.rounds, cfg)


if __name__ == "__main__":
    main()
