"""The five page templates: each fills a ``Page`` with its main content and its boilerplate."""

from __future__ import annotations

from html import escape

from pipeline.sample_site import text
from pipeline.sample_site.assets import AD_BANNER, SHARE_ICONS, Assets
from pipeline.sample_site.pages import Page, ad_block, comments, figure, related, share_bar

STYLES = ("plain", "plain", "lazy", "srcset", "picture", "native-lazy", "bare")
DATES = ["3 March 2024", "11 March 2024", "19 February 2024", "27 January 2024", "2 April 2024"]


def _written(p: Page, path: str, base_url: str, page_dir: str) -> str:
    """How the page writes an image URL: site-absolute, ../ relative, local or a full URL."""
    if path.startswith(page_dir + "/") and p.rng.random() < 0.7:
        return path[len(page_dir) + 1:]
    r = p.rng.random()
    if r < 0.55:
        return path
    if r < 0.85:
        return ".." + path  # pages sit one folder deep, so ../ lands at the site root
    return base_url + path


def _figures(p: Page, a: Assets, n: int, base_url: str, page_dir: str, used: set[str],
             folder: str = "/img/photos", prefix: str = "p") -> None:
    """``n`` main-content images; one may be a copy (same bytes, new URL) of an earlier one."""
    for _ in range(n):
        good = sorted(u for u in used if a.images[u].reason is None)
        if good and p.rng.random() < 0.08:
            path, reason = a.copy(good[p.rng.randrange(len(good))], folder, prefix), "duplicate"
        else:
            path, reason = a.main_image(used, folder, prefix)
        used.add(path)
        style = p.rng.choice(STYLES)
        small = a.variant(path) if style == "srcset" and reason is None else None
        img = a.images[path]
        size = (img.width, img.height) if p.rng.random() < 0.5 else None
        written = _written(p, path, base_url, page_dir)
        small_w = _written(p, small, base_url, page_dir) if small else None
        figure(p, path, written, style if small or style != "srcset" else "plain",
               reason=reason, small=small_w, size=size)


def _head(p: Page, title: str, byline: bool = True) -> None:
    p.add(f'<article class="post"><header class="entry-header"><h1>{escape(title)}</h1>')
    p.other_text.append(title)
    if byline:
        who = p.rng.choice(["Anna Berg", "Tom Hale", "Staff reporter", "Lina Ortiz"])
        p.add(f'<p class="byline">By <a href="/authors/">{who}</a> · '
              f'<time>{p.rng.choice(DATES)}</time></p>')
    p.add('</header><div class="entry-content">')


def _tail(p: Page, a: Assets, links: list[tuple[str, str]]) -> None:
    p.add("</div></article>")
    share_bar(p, list(SHARE_ICONS))
    related(p, links)


def article(p: Page, a: Assets, title: str, base_url: str, page_dir: str,
            links: list[tuple[str, str]], n_img: int) -> None:
    _head(p, title)
    p.para(cls="lead")
    n_par = p.rng.randint(4, 8)
    at = set(p.rng.sample(range(n_par), min(n_img, n_par)))
    used: set[str] = set()
    for i in range(n_par):
        p.para()
        if i == 1:
            ad_block(p, AD_BANNER)
        if i in at:
            _figures(p, a, 1 + (n_img > n_par and i == 0), base_url, page_dir, used)
        if i == 2 and p.rng.random() < 0.3:
            p.heading(2, text.title(p.rng, p.topic, p.lang, p.used))
            rows = [(t, p.rng.randint(3, 250)) for t in text.phrases(p.rng, p.topic, 4, p.used)]
            p.other_text.extend(r[0] for r in rows)
            body = "".join(f"<tr><td>{escape(t)}</td><td>{v}</td></tr>" for t, v in rows)
            p.add(f"<table class='data'><thead><tr><th>Item</th><th>Number</th></tr></thead>"
                  f"<tbody>{body}</tbody></table>")
    _tail(p, a, links)


def listing(p: Page, a: Assets, title: str, base_url: str, page_dir: str,
            links: list[tuple[str, str]], n_img: int) -> None:
    _head(p, title, byline=False)
    p.para(cls="intro")
    p.add('<div class="teasers">')
    used: set[str] = set()
    for j in range(max(n_img, 3)):
        t = text.title(p.rng, p.topic, p.lang, p.used)
        p.add(f'<div class="teaser"><h2><a href="{links[j % len(links)][0]}">{escape(t)}</a>'
              "</h2>")
        p.other_text.append(t)
        if j < n_img:
            _figures(p, a, 1, base_url, page_dir, used)
        p.para(2)
        p.add("</div>")
    p.add("</div>")
    p.para(cls="outro")
    _tail(p, a, links)


def gallery(p: Page, a: Assets, title: str, base_url: str, page_dir: str,
            links: list[tuple[str, str]], n_img: int) -> None:
    _head(p, title)
    p.para(5, cls="intro")
    used: set[str] = set()
    for _ in range(n_img):
        _figures(p, a, 1, base_url, page_dir, used, folder=page_dir + "/img", prefix="g")
        if p.rng.random() < 0.6:
            p.para(2)
    _tail(p, a, links)


def blog(p: Page, a: Assets, title: str, base_url: str, page_dir: str,
         links: list[tuple[str, str]], n_img: int) -> None:
    _head(p, title)
    n_par = p.rng.randint(3, 7)
    used: set[str] = set()
    for i in range(n_par):
        p.para()
        if i < n_img:
            _figures(p, a, 1, base_url, page_dir, used)
        if i == 1:
            p.items("ul", text.phrases(p.rng, p.topic, p.rng.randint(3, 5), p.used))
    _figures(p, a, max(0, n_img - n_par), base_url, page_dir, used)
    p.add('<div class="tags">Tags: <a href="/tag/local">local</a>, '
          '<a href="/tag/news">news</a></div>')
    _tail(p, a, links)
    comments(p, a.avatars, p.rng.randint(2, 6))


def recipe(p: Page, a: Assets, title: str, base_url: str, page_dir: str,
           links: list[tuple[str, str]], n_img: int) -> None:
    _head(p, title)
    p.para(cls="intro")
    used: set[str] = set()
    _figures(p, a, min(n_img, 1), base_url, page_dir, used, folder=page_dir + "/img", prefix="r")
    p.add('<div class="recipe-meta"><span>Serves 4</span> <span>Prep: 20 min</span> '
          "<span>Cook: 45 min</span></div>")
    p.heading(2, "Ingredients")
    food = ["500 g strong flour", "2 tsp dried yeast", "1 tsp salt", "300 ml warm water",
            "2 tbsp olive oil", "1 large onion", "200 g smoked fish", "a handful of parsley",
            "3 eggs", "150 g crème fraîche", "1 lemon", "black pepper"]
    p.items("ul", p.rng.sample(food, p.rng.randint(5, 9)), cls="ingredients")
    p.heading(2, "Method")
    p.items("ol", [text.sentence(p.rng, "food", p.used) for _ in range(p.rng.randint(4, 7))],
            cls="steps")
    p.para()
    _figures(p, a, max(0, n_img - 1), base_url, page_dir, used, folder=page_dir + "/img",
             prefix="r")
    p.add("<table class='nutrition'><caption>Nutrition per serving</caption><tr><th>Energy</th>"
          f"<td>{p.rng.randint(250, 700)} kcal</td></tr><tr><th>Protein</th>"
          f"<td>{p.rng.randint(5, 40)} g</td></tr></table>")
    p.para(2, cls="tip")
    _tail(p, a, links)


BUILDERS = {"article": article, "listing": listing, "gallery": gallery, "blog": blog,
            "recipe": recipe}
