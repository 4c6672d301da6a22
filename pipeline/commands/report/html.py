"""HTML building blocks. Everything a build holds (page text, URLs, alt text, captions, config
values) is hostile input: it reaches the page only through ``esc``, and only http(s) URLs
become links."""

from __future__ import annotations

import hashlib
import html
import re
from collections.abc import Iterable
from urllib.parse import urlsplit

PAGES = (("index.html", "Overview"), ("rejects.html", "Rejects"),
         ("documents.html", "Documents"), ("pairs.html", "Pair sources"),
         ("distributions.html", "Distributions"))
_SLUG = re.compile(r"[^a-z0-9]+")
_NUMBER = re.compile(r"^[-+]?[\d,]*\.?\d+(e[-+]?\d+)?$|^–$")


def esc(value: object) -> str:
    """Text or attribute value, escaped (quotes included)."""
    return html.escape("" if value is None else str(value), quote=True)


def anchor_id(*parts: str) -> str:
    """A stable, readable element id; the hash keeps ids apart that slug to the same text."""
    text = "\x1f".join(parts)
    slug = _SLUG.sub("-", text.lower()).strip("-")[:60]
    return f"{slug}-{hashlib.sha1(text.encode('utf-8', 'replace')).hexdigest()[:6]}"


def reason_id(stage: str, name: str) -> str:
    """The id of a reject reason's section on rejects.html (``name`` is filter:reason)."""
    return "r-" + anchor_id(stage, name)


def is_web_url(url: str) -> bool:
    try:
        parts = urlsplit(url)
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.netloc)


def url_link(url: str, text: str | None = None) -> str:
    """A link for http(s) URLs; anything else (javascript:, local paths) stays text."""
    label = esc(text if text is not None else url)
    if is_web_url(url):
        return (f'<a class="url" href="{esc(url)}" rel="noopener noreferrer nofollow">'
                f"{label}</a>")
    return f'<span class="url">{label}</span>'


def fmt_number(value: float | int | None) -> str:
    if value is None:
        return "–"
    if isinstance(value, int) or float(value).is_integer():
        return f"{int(value):,}"
    return f"{value:.4g}"


def _cell(content: str) -> str:
    return f'<td class="n">{content}</td>' if _NUMBER.match(content) else f"<td>{content}</td>"


def table(headers: Iterable[str], rows: Iterable[Iterable[str]], cls: str = "") -> str:
    """A table of already-escaped cells; numbers are aligned right."""
    head = "".join(f"<th>{h}</th>" for h in headers)
    body = "".join("<tr>" + "".join(_cell(c) for c in row) + "</tr>" for row in rows)
    return f'<table class="{cls}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def page(title: str, current: str, body: str, build_name: str) -> str:
    """A whole page: navigation, the shipped stylesheet and script, ``body`` (escaped HTML)."""
    here = ' class="here"'
    nav = "".join(f'<a href="{href}"{here if href == current else ""}>{esc(label)}</a>'
                  for href, label in PAGES)
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
        f"<title>{esc(title)} · {esc(build_name)}</title>"
        '<link rel="stylesheet" href="static/style.css">'
        '<script src="static/app.js" defer></script></head>'
        f'<body><header class="top"><span class="brand">m3w report</span>'
        f'<span class="build">{esc(build_name)}</span><nav>{nav}</nav></header>'
        f'<main><h1>{esc(title)}</h1>{body}</main></body></html>\n'
    )
