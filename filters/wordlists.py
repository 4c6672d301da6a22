"""Word lists for the text filters: English stop words, Gopher's stop words and flagged words.

All entries are lower case with a plain "'" apostrophe, matching ``text_stats.lower_words``.
A build can extend or replace a list with a file of its own (one word per line, '#' starts a
comment) through a filter's ``*_file`` and ``replace_*`` parameters.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

# Common English function words (articles, pronouns, auxiliaries, prepositions, conjunctions,
# frequent adverbs and their contractions). Prose is roughly 40-50% stop words by count,
# navigation menus and keyword lists far less: that gap is what the stop-word ratio measures.
ENGLISH_STOP_WORDS: frozenset[str] = frozenset("""
a about above after again against all also am an and any are aren't as at
be because been before being below between both but by
can can't cannot could couldn't
did didn't do does doesn't doing don't down during
each either else ever every
few for from further
had hadn't has hasn't have haven't having he he'd he'll he's her here here's hers herself
him himself his how how's however
i i'd i'll i'm i've if in into is isn't it it's its itself
just
let's
many may me might more most much must mustn't my myself
neither no nor not now
of off often on once one only or other ought our ours ourselves out over own
per
quite
rather
same shall shan't she she'd she'll she's should shouldn't since so some such
than that that's the their theirs them themselves then there there's these they they'd
they'll they're they've this those though through thus to too
under until up upon us
very
was wasn't we we'd we'll we're we've were weren't what what's when when's where where's
whether which while who who's whom whose why why's will with within without won't would
wouldn't
yet you you'd you'll you're you've your yours yourself yourselves
""".split())

# The stop words of Gopher's quality rule (Rae et al. 2021): a document must contain at
# least two of them to count as natural English.
GOPHER_STOP_WORDS: frozenset[str] = frozenset(
    {"the", "be", "to", "of", "and", "that", "have", "with"}
)

# A deliberately short list of explicit, sexual and slur words. The flagged-words ratio only
# has to catch pages dense in such words (adult and hate pages), not every use of one, so a
# compact list of unambiguous terms does the job with few false hits.
FLAGGED_WORDS: frozenset[str] = frozenset("""
anal anus bdsm bitch bitches blowjob blowjobs bukkake clit clitoris cock cocks cum cumshot
cunt cunts deepthroat dildo dildos ejaculation erotic faggot fisting fuck fucked fucking
gangbang handjob hentai horny incest jizz masturbate masturbation milf nigger niggers
nude nudes orgasm orgy porn porno pornography pussy rape slut sluts squirt threesome
tits twat vagina whore xxx
""".split())


@lru_cache(maxsize=32)
def load_words(path: str) -> frozenset[str]:
    """Words of a list file: one per line, lower-cased, '#' comments and blank lines skipped.
    Cached per path so node- and document-level filters share one copy per process."""
    out = set()
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        word = line.split("#", 1)[0].strip().lower().replace("\u2019", "'")
        if word:
            out.add(word)
    return frozenset(out)


def word_set(base: frozenset[str], path: str = "", replace: bool = False) -> frozenset[str]:
    """``base`` extended with the words of ``path``, or replaced by them when ``replace``."""
    if not path:
        if replace:
            raise ValueError("replace needs a words file")
        return base
    extra = load_words(path)
    return extra if replace else base | extra
