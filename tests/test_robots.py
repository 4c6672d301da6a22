"""robots.txt rules as RFC 9309 reads them: patterns, longest match, ties and groups."""

from __future__ import annotations

import pytest

from scrapers.robots import RobotsCache, parse_robots, policy_for

RULES = b"""\
User-agent: *
Disallow: /*.pdf$
Disallow: /shop/*/cart
Allow: /docs/public
Disallow: /docs
Allow: /tie
Disallow: /tie
Disallow: /private/
Allow: /private/open.html

User-agent: OtherBot
Disallow: /
"""


@pytest.mark.parametrize("path,allowed", [
    ("/a/b/report.pdf", False),  # `*` spans folders, `$` anchors the end
    ("/a/b/report.pdf?x=1", True),  # ...so a query after .pdf is not matched
    ("/report.pdfx", True),
    ("/shop/42/cart", False),
    ("/shop/cart", True),
    ("/docs/public/x.html", True),  # the longer Allow beats the shorter Disallow
    ("/docs/secret.html", False),
    ("/tie", True),  # equal length: Allow wins
    ("/private/open.html", True),  # longest match, although Disallow comes first
    ("/private/closed.html", False),
    ("/", True),
])
def test_patterns_and_longest_match(path, allowed):
    assert parse_robots(RULES).can_fetch("m3w/0.1", "http://h.example" + path) is allowed


def test_the_most_specific_group_applies_and_only_it():
    policy = parse_robots(RULES + b"\nUser-agent: m3w\nDisallow: /only-us\n")
    assert not policy.can_fetch("m3w/0.1", "http://h.example/only-us")
    # our own group replaces `*`: its rules no longer apply to us
    assert policy.can_fetch("m3w/0.1", "http://h.example/docs/secret.html")
    assert policy.can_fetch("SomeBot/2", "http://h.example/only-us")
    assert not policy.can_fetch("SomeBot/2", "http://h.example/docs/secret.html")
    assert not policy.can_fetch("OtherBot/1.0", "http://h.example/docs/public/x")


def test_failed_fetches_allow_everything_and_are_cached_once():
    assert policy_for(404, b"User-agent: *\nDisallow: /\n").can_fetch("m3w", "http://h/x")
    assert policy_for(None, None).can_fetch("m3w", "http://h/x")
    assert not policy_for(200, b"User-agent: *\nDisallow: /\n").can_fetch("m3w", "http://h/x")
    calls = []

    def fetch(url):
        calls.append(url)
        return 200, b"User-agent: *\nDisallow: /no\n"

    cache = RobotsCache(fetch, "m3w/0.1")
    assert not cache.allowed("http://h.example", "http://h.example/no/1")
    assert cache.allowed("http://h.example", "http://h.example/yes")
    assert calls == ["http://h.example/robots.txt"]
