"""The text filter cores on texts written here: every reason reached, passing cases, disabled
thresholds, measures for tag_only builds, the registry, and natural English passing all of
the document rules at their defaults."""

from __future__ import annotations

import os
import random
import re
import subprocess
import sys
import time

import pytest

from filters import declared_reasons
from filters import text_stats as ts
from filters.base import REGISTRY, Drop, make_filter
from filters.language import detect
from filters.text_stats import TextItem

os.environ.setdefault("HF_HUB_OFFLINE", "1")

# Six paragraphs of ordinary English prose (about 320 words), one text node per line, as the
# pipeline joins them. The demo build relies on text like this passing every default.
PARAGRAPHS = [
    "The old harbour town sits at the mouth of a narrow river, and for most of its history it "
    "lived from the sea. Fishing boats left before dawn and came back in the afternoon, when "
    "the market by the quay filled with buyers from the villages inland.",
    "Today the boats are fewer, but the town has found another living. Visitors come in summer "
    "to walk the cliff path, to swim in the small coves below the lighthouse, and to eat "
    "grilled sardines on the terraces that line the main square.",
    "The church of Saint Anne, built in the fifteenth century, is worth a visit. Its tower was "
    "used as a lookout during the wars with pirates, and the keys to the stair can still be "
    "borrowed from the café across the street if you ask politely.",
    "Getting there is easy. A regional train runs from the city twice an hour, and the journey "
    "takes a little under fifty minutes. From the station it is a ten-minute walk downhill to "
    "the water, past bakeries that open early and close when the bread is gone.",
    "If you have more time, rent a bicycle and follow the river upstream. The road is quiet, "
    "the valley is green even in August, and there are several farms along the way that sell "
    "cheese, honey and cider directly to passing travellers.",
    "Whatever you choose to do, try to stay for the evening. When the light turns golden over "
    "the water and the fishermen mend their nets on the harbour wall, it is easy to understand "
    "why so many people who come for a weekend end up returning every year. Most of them say "
    "that the quiet mornings, more than the beaches, are what they miss when they leave.",
]
ARTICLE = "\n".join(PARAGRAPHS)
DOC_FILTERS = ("gopher_quality", "gopher_repetition", "language", "doc_words",
               "doc_special_chars", "doc_stop_words", "doc_flagged_words", "url_blocklist")
NODE_FILTERS = ("node_words", "node_repetition", "node_special_chars", "node_stop_words",
                "node_flagged_words")


def run(key: str, text: str, url: str = "", **params) -> Drop | None:
    return make_filter(key, params).filter(TextItem(text, url))


def reason(key: str, text: str, **params) -> str | None:
    drop = run(key, text, **params)
    return drop.reason if drop else None


@pytest.mark.parametrize("key", DOC_FILTERS)
def test_natural_english_document_passes(key):
    assert run(key, ARTICLE, "https://travel.example.org/harbour") is None


@pytest.mark.parametrize("key", NODE_FILTERS)
@pytest.mark.parametrize("para", PARAGRAPHS)
def test_natural_english_paragraphs_pass(key, para):
    assert run(key, para) is None


def test_natural_english_measures_are_far_from_the_limits():
    assert 280 <= len(ARTICLE.split()) <= 360
    q = make_filter("gopher_quality", {}).measure(TextItem(ARTICLE))
    assert q["stop_words"] == 8 and q["alpha_words"] == 1.0 and 4 < q["mean_word_length"] < 5
    r = make_filter("gopher_repetition", {}).measure(TextItem(ARTICLE))
    assert all(r[f"dup_{n}gram"] == 0.0 for n in range(5, 11))
    assert 0.15 < ts.special_char_ratio(ARTICLE) < 0.25
    assert 0.4 < ts.vocab_ratio(ts.lower_words(ARTICLE), make_filter(
        "doc_stop_words", {}).vocab) < 0.6


def test_words_lines_and_paragraphs():
    assert ts.words("Don't stop: l'été à Zürich, 2024 — 'quoted' co-op") == (
        "Don't", "stop", "l'été", "à", "Zürich", "2024", "quoted", "co", "op")
    assert ts.lower_words("It\u2019s FINE") == ("it's", "fine")
    assert ts.lines("a\n\n  b \n") == ["a", "b"]
    assert ts.paragraphs("one\ntwo") == ["one", "two"]  # text nodes joined by "\n"
    assert ts.paragraphs("one\ntwo\n \nthree") == ["one\ntwo", "three"]


def test_duplicate_and_ngram_shares():
    assert ts.duplicate_share(["ab", "cd", "ab", "ab"]) == (0.5, 0.5)
    ws = "a b c d e x a b c d e y".split()
    assert ts.dup_ngram_char_share(ws, 5) == pytest.approx(5 / 12)
    assert ts.dup_ngram_char_share(ws, 6) == 0.0
    assert ts.top_ngram_char_share(ws, 2) == pytest.approx(4 / 12)
    assert ts.top_ngram_char_share("a b c d".split(), 2) == 0.0  # no bigram occurs twice
    # The second 5-gram (words 1-5) repeats the first: overlapping repeats count too.
    assert ts.dup_ngram_char_share("a a a a a a".split(), 5) == pytest.approx(5 / 6)


def _naive_dup_share(ws: list[str], n: int) -> float:
    """Every position, every n: mark the words of each n-gram seen before."""
    seen, covered = set(), set()
    for i in range(len(ws) - n + 1):
        gram = tuple(ws[i:i + n])
        if gram in seen:
            covered.update(range(i, i + n))
        seen.add(gram)
    total = sum(map(len, ws))
    return sum(len(ws[j]) for j in covered) / total if total else 0.0


def test_shared_dup_ngram_shares_match_the_naive_count():
    rnd = random.Random(7)
    for _ in range(500):
        vocab = ["a", "bb", "ccc", "dd", "e"][:rnd.randint(1, 5)]
        ws = [rnd.choice(vocab) for _ in range(rnd.randint(0, 40))]
        got = ts.dup_ngram_char_shares(ws, 5, 10)
        assert got == pytest.approx([_naive_dup_share(ws, n) for n in range(5, 11)]), ws


def test_shared_top_ngram_shares_equal_a_count_over_every_start():
    """Exactly equal, ties included: the most common n-gram (the first seen among equals)
    decides how many characters count, so the restricted count must keep that order."""
    rnd = random.Random(11)
    for _ in range(2000):
        vocab = ["a", "bb", "ccc", "dd", "e", "ffff"][:rnd.randint(1, 6)]
        ws = [rnd.choice(vocab) for _ in range(rnd.randint(0, 30))]
        got = ts.top_ngram_char_shares(ws, 2, 4)
        assert got == [ts.top_ngram_char_share(ws, n) for n in (2, 3, 4)], ws


def test_repetition_ratios():
    assert ts.char_repetition_ratio("abcdefghijklmnop", 10) == 0.0
    # Said twice, every 10-gram inside either copy repeats; only those across the join don't.
    assert ts.char_repetition_ratio("the same words. the same words.", 10) == 12 / 22
    twice = "a rather long sentence that somebody pasted twice by mistake. " * 2
    assert ts.char_repetition_ratio(twice, 10) > 0.8
    assert ts.word_repetition_ratio("one two three four five six".split(), 5) == 0.0
    assert ts.word_repetition_ratio(("a b c d e " * 3).split(), 5) == 1.0


LONG = " ".join(f"word{i % 7} is fine" for i in range(700))  # 2,100 words
SENTENCE = "The river runs past the mill and down to the sea with the boats. "
KEYWORDS = "Chocolate cake recipe ingredients flour sugar butter eggs vanilla oven"
SPAM = "Free porn videos and xxx clips every day for all of you"
JUNK = "$$$ 100% !!! ### @@@ 2024-05-06 :: >> || ** ~~ Free"
NO_STOPS = " ".join(["apples oranges pears plums grapes melons lemons limes figs dates"] * 6)
TAGGED = SENTENCE * 5 + " ".join(f"#tag{i}" for i in range(20))
BULLETS = "\n".join(f"\u2022 {SENTENCE}" for _ in range(10))
LOOPING = "we are open every day of the week " * 3
ALL_REP_OFF = {f"max_{r}": None for r in REGISTRY["gopher_repetition"].reasons}


def only(rule: str) -> dict:
    """gopher_repetition params leaving one rule on, at its default."""
    return {k: v for k, v in ALL_REP_OFF.items() if k != f"max_{rule}"}


def passage_twice(n: int) -> str:
    passage = " ".join(f"w{i}" for i in range(n))
    return " ".join([passage, "alpha", passage, "beta gamma delta"])


def top_phrase(n: int) -> str:
    phrase = " ".join(["best", "price", "guaranteed", "today"][:n])
    return " ".join(f"{phrase} item{i}" for i in range(30))


LINES = [f"Line number {i} says something new about the place." for i in range(5)]
LONG_LINE = "This long disclaimer line is repeated at the bottom of every single section."
BLOCK = "Opening hours are nine to five.\nClosed on public holidays."
BLOCKS = "\n\n".join([BLOCK, "Welcome to the shop.\nWe sell bread.", BLOCK, BLOCK])

# (filter key, text, params, expected reason or None). A None threshold turns its rule off.
CASES = [
    *((f"{p}_words", "Hi there.", {}, "too_few_words") for p in ("node", "doc")),
    *((f"{p}_words", LONG, {}, "too_many_words") for p in ("node", "doc")),
    *((f"{p}_words", "Hi there.", {"min_words": None}, None) for p in ("node", "doc")),
    *((f"{p}_words", LONG, {"max_words": 0}, None) for p in ("node", "doc")),
    ("node_words", "one two three four five six", {}, None),  # paragraphs need 4 words,
    ("doc_words", "one two three four five six", {}, "too_few_words"),  # documents 10
    ("node_repetition", "Buy now buy now buy now buy now buy now.", {}, "char_repetition"),
    ("node_repetition", LOOPING, {"max_char_repetition": None}, "word_repetition"),
    ("node_repetition", LOOPING, {"max_char_repetition": None, "max_word_repetition": None},
     None),
    *((f"{p}_special_chars", JUNK, {}, "special_characters") for p in ("node", "doc")),
    *((f"{p}_special_chars", JUNK, {"max_ratio": None}, None) for p in ("node", "doc")),
    *((f"{p}_stop_words", KEYWORDS, {}, "too_few_stop_words") for p in ("node", "doc")),
    *((f"{p}_stop_words", KEYWORDS, {"min_ratio": 0}, None) for p in ("node", "doc")),
    *((f"{p}_flagged_words", SPAM, {}, "flagged_words") for p in ("node", "doc")),
    *((f"{p}_flagged_words", SPAM, {"max_ratio": None}, None) for p in ("node", "doc")),
    ("gopher_quality", "The cat sat on the mat with the dog.", {}, "too_few_words"),
    ("gopher_quality", ARTICLE, {"max_words": 100}, "too_many_words"),
    ("gopher_quality", "I am at it. " * 20 + "The end of that and the rest to be with us.", {},
     "mean_word_length"),
    ("gopher_quality", "internationalization characteristically " * 30 + "the and of", {},
     "mean_word_length"),
    ("gopher_quality", TAGGED, {}, "symbol_ratio"),
    ("gopher_quality", TAGGED, {"max_symbol_word_ratio": None}, None),
    ("gopher_quality", BULLETS, {}, "bullet_lines"),
    ("gopher_quality", BULLETS, {"max_bullet_lines_ratio": None}, None),
    ("gopher_quality", "\n".join([f"{SENTENCE.strip()[:-1]} and then..."] * 10), {},
     "ellipsis_lines"),
    ("gopher_quality", "\n".join([SENTENCE] * 8 + [SENTENCE + "…"] * 2), {}, None),  # 20%
    ("gopher_quality", SENTENCE * 4 + " ".join(["| 12.5 | 30 | -- |"] * 15),
     {"min_mean_word_length": None}, "alpha_words"),
    ("gopher_quality", NO_STOPS, {}, "stop_words"),
    ("gopher_quality", NO_STOPS + " the the the", {}, "stop_words"),  # one distinct stop word
    ("gopher_quality", NO_STOPS + " the the the", {"min_stop_words": 1}, None),
    ("gopher_quality", "\u2022 one\n\u2022 two", {}, "too_few_words"),  # rules judged in order
    ("gopher_repetition", "\n".join(LINES + ["Home"] * 4), {}, "dup_lines"),
    ("gopher_repetition", "\n".join(LINES[:3] + ["a", "b", "c", LONG_LINE, LONG_LINE]), {},
     "dup_line_chars"),
    ("gopher_repetition", BLOCKS, only("dup_paragraphs"), "dup_paragraphs"),
    ("gopher_repetition", BLOCKS, only("dup_paragraph_chars"), "dup_paragraph_chars"),
    *(("gopher_repetition", top_phrase(n), only(f"top_{n}gram"), f"top_{n}gram")
      for n in (2, 3, 4)),
    *(("gopher_repetition", passage_twice(n), only(f"dup_{n}gram"), f"dup_{n}gram")
      for n in range(5, 11)),
    ("gopher_repetition", "\n".join(["Home"] * 5 + PARAGRAPHS), {}, "dup_lines"),
    ("gopher_repetition", "\n".join(["Home"] * 5 + PARAGRAPHS),
     {"max_dup_lines": 0.5, "max_dup_paragraphs": 0.5}, None),
]


@pytest.mark.parametrize("key, text, params, expected", CASES)
def test_reasons(key, text, params, expected):
    assert reason(key, text, **params) == expected


def test_every_text_filter_reason_is_reached():
    reached = {(key, expected) for key, _, _, expected in CASES}
    reached |= {("language", "wrong_language"), ("language", "low_score"),  # tested below
                ("url_blocklist", "blocked_domain"), ("url_blocklist", "blocked_url")}
    for key in DOC_FILTERS + NODE_FILTERS:
        for r in REGISTRY[key].reasons:
            assert (key, r) in reached


def test_dropped_values_are_the_measures():
    assert run("doc_words", LONG).value == 2100.0
    assert run("node_flagged_words", SPAM).value == pytest.approx(2 / 12)
    assert run("doc_special_chars", JUNK).value > 0.5
    assert run("gopher_quality", TAGGED).value == pytest.approx(20 / 90)
    assert run("gopher_quality", NO_STOPS + " the the").value == 1.0  # distinct stop words
    assert run("gopher_quality", "internationalization " * 60 + "the and").value > 10
    assert run("gopher_repetition", "\n".join(LINES + ["Home"] * 4)).value == pytest.approx(3 / 9)
    with pytest.raises(ValueError, match="positive"):
        make_filter("node_repetition", {"char_ngram": 0})


def test_special_character_limits_differ_by_level():
    # About 0.29 non-letters: under the paragraph limit (0.3), over the document one (0.275).
    text = "Tickets cost 12 euros for adults, 6 for children, and 30 for families."
    assert 0.275 < ts.special_char_ratio(text) < 0.3
    assert reason("node_special_chars", text) is None
    assert reason("doc_special_chars", text) == "special_characters"


def test_word_files_extend_or_replace(tmp_path):
    stop, flagged = tmp_path / "stop.txt", tmp_path / "flagged.txt"
    stop.write_text("# recipe words\nchocolate\ncake\nrecipe\nflour\n", encoding="utf-8")
    flagged.write_text("casino\n", encoding="utf-8")
    keywords, prose = "Chocolate cake recipe ingredients flour sugar", "It is in the box"
    assert reason("node_stop_words", keywords, stop_words_file=str(stop)) is None
    assert reason("node_stop_words", prose, stop_words_file=str(stop)) is None
    assert reason("node_stop_words", prose, stop_words_file=str(stop),
                  replace_stop_words=True) == "too_few_stop_words"
    with pytest.raises(ValueError, match="replace needs a words file"):
        make_filter("node_stop_words", {"replace_stop_words": True})
    text = "The best casino bonus of the year is waiting for you at the desk"
    assert reason("doc_flagged_words", text) is None
    assert reason("doc_flagged_words", text, flagged_words_file=str(flagged)) == "flagged_words"
    assert reason("doc_flagged_words", "porn " + text, flagged_words_file=str(flagged),
                  replace_flagged_words=True) == "flagged_words"


def test_gopher_repetition_measures():
    assert ts.paragraphs(BLOCKS)[0] == BLOCK
    m = make_filter("gopher_repetition", {}).measure(TextItem("a\nb\na\nc"))
    assert m["dup_paragraphs"] == m["dup_lines"] == 0.25  # no blank lines: lines are paragraphs
    for n in (2, 3, 4):
        assert make_filter("gopher_repetition", {}).measure(TextItem(top_phrase(n)))[
            f"top_{n}gram"] > 0.5
    for n in range(5, 11):
        m = make_filter("gopher_repetition", {}).measure(TextItem(passage_twice(n)))
        # The second copy of the passage is duplicated: its 2n characters of 4n + 19.
        assert m[f"dup_{n}gram"] == pytest.approx(2 * n / (4 * n + 19))
        assert n == 10 or m[f"dup_{n + 1}gram"] == 0.0  # only an n-word passage repeats


FRENCH = ("Le petit village se trouve au bord de la rivière, et les habitants se retrouvent "
          "chaque matin au marché pour acheter du pain frais et des légumes.")
GERMAN = ("Das kleine Dorf liegt am Ufer des Flusses, und die Bewohner treffen sich jeden "
          "Morgen auf dem Markt, um frisches Brot und Gemüse zu kaufen.")


def test_detect_languages_offline():
    assert detect(ARTICLE)[0] == "en" and detect(ARTICLE)[1] > 0.9
    assert detect(FRENCH)[0] == "fr"
    assert detect(GERMAN)[0] == "de"
    assert detect("  \n 123 !! ") == ("", 0.0)
    assert detect(ARTICLE.upper())[0] == "en"  # capitals-only text is lower-cased first
    # The library's default cut at 80 characters would see only the English opening.
    mixed = "This is English. " * 2 + FRENCH * 4
    assert detect(mixed)[0] == "fr" and detect(mixed, max_chars=34)[0] == "en"


def test_detect_never_touches_the_network(tmp_path):
    # A fresh process with sockets disabled and an empty model cache: the bundled model must
    # load and answer, with nothing fetched.
    code = ("import socket\ndef refuse(*a, **k):\n    raise OSError('network disabled')\n"
            "socket.socket.connect = socket.create_connection = socket.getaddrinfo = refuse\n"
            "from filters.language import detect\n"
            "print(detect('The weather is lovely today and we walk to the sea.')[0])\n")
    env = dict(os.environ, FTLANG_CACHE=str(tmp_path), HF_HUB_OFFLINE="1")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         timeout=120, cwd=os.path.dirname(os.path.dirname(__file__)))
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "en"
    assert list(tmp_path.iterdir()) == []


def test_language_filter():
    drop = run("language", FRENCH)
    assert drop.reason == "wrong_language" and drop.detail == "fr" and drop.value > 0.5
    assert run("language", FRENCH, languages=["en", "fr"]) is None
    assert run("language", GERMAN, languages=[]) is None  # any language
    low = run("language", ARTICLE, min_score=1.01)
    assert low.reason == "low_score" and low.detail == "en" and low.value > 0.9
    assert run("language", "", min_score=0.5).reason == "low_score"
    assert run("language", "", languages=[], min_score=None) is None
    f = make_filter("language", {})  # keeps the code for Document.language
    assert f.measure(TextItem(GERMAN))["language"] == "de" and f.last_language == "de"


def test_url_blocklist(tmp_path):
    path = tmp_path / "blocked.txt"
    path.write_text("# adult sites\nbad.example\n0.0.0.0 tracker.example  # hosts format\n\n"
                    "https://www.Spam.Example/landing\n", encoding="utf-8")
    params = {"domains": ["evil.test"], "domain_files": [str(path)]}
    blocked = {"https://evil.test/a": "evil.test", "http://cdn.img.EVIL.test:8080/x": "evil.test",
               "https://www.bad.example/": "bad.example", "https://spam.example./": "spam.example",
               "https://tracker.example/p": "tracker.example"}
    for url, domain in blocked.items():
        drop = run("url_blocklist", "", url, **params)
        assert (drop.reason, drop.detail) == ("blocked_domain", domain), url
    for url in ["https://notevil.test/", "https://evil.test.example.org/", "not a url",
                "http://[::1/"]:
        assert run("url_blocklist", "", url, **params) is None, url
    drop = run("url_blocklist", "", "https://shop.example/Casino-Bonus?id=1",
               url_substrings=["casino"])
    assert (drop.reason, drop.detail) == ("blocked_url", "casino")
    assert run("url_blocklist", "", "https://shop.example/", url_substrings=["casino"]) is None
    with pytest.raises(ValueError, match="lists"):
        make_filter("url_blocklist", {"domains": "evil.test"})


def test_url_blocklist_large_list_is_fast(tmp_path):
    path = tmp_path / "many.txt"
    path.write_text("\n".join(f"site{i}.example" for i in range(200_000)), encoding="utf-8")
    f = make_filter("url_blocklist", {"domain_files": [str(path)]})
    start = time.perf_counter()
    hits = sum(f.filter(TextItem("", f"https://www.site{i}.example/page")) is not None
               for i in range(0, 400_000, 40))
    assert hits == 5000
    assert time.perf_counter() - start < 2.0


@pytest.mark.parametrize("key", DOC_FILTERS + NODE_FILTERS)
def test_measures_have_the_same_keys_passing_or_failing(key):
    f = make_filter(key, {})
    good = f.measure(TextItem(PARAGRAPHS[0] if key in NODE_FILTERS else ARTICLE, "https://a.b/"))
    bad = f.measure(TextItem("$$ ## !!", "https://a.b/"))
    assert good and set(good) == set(bad)
    assert all(isinstance(v, (float, str)) for v in good.values())


def test_make_filter_params_and_errors():
    f = make_filter("gopher_quality", {"min_words": 10, "enabled": True})
    assert f.filter(TextItem("The cat and the dog sat with the bird on the mat.")) is None
    with pytest.raises(ValueError, match="min_wrods"):
        make_filter("gopher_quality", {"min_wrods": 10})
    with pytest.raises(ValueError, match="no_such_filter"):
        make_filter("no_such_filter", {})


def test_registered_names_levels_and_reasons():
    assert set(DOC_FILTERS + NODE_FILTERS) <= set(REGISTRY)
    declared = declared_reasons()
    for key, cls in REGISTRY.items():
        assert re.fullmatch(rf"{key}/v\d+", cls.name)
        assert cls.level in ("node", "document", "image")
        assert cls.reasons and len(set(cls.reasons)) == len(cls.reasons)
        assert declared[cls.name] == tuple(cls.reasons)
    assert {REGISTRY[k].level for k in NODE_FILTERS} == {"node"}
    assert {REGISTRY[k].level for k in DOC_FILTERS} == {"document"}
    with pytest.raises(AssertionError, match="undeclared"):
        make_filter("doc_words", {})._drop("not_a_reason", 1.0)
