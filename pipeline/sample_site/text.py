"""Prose for the sample site: English sentences with real structure, some German and French.

The build's quality filters follow Gopher (50+ words, mean word length 3-10, enough stop words,
little repetition), so sentences are assembled from clause templates with a wide vocabulary
rather than drawn as random words. A few words carry accents and typographic quotes, so a page
decoded with the wrong charset shows it.
"""

from __future__ import annotations

import random

TOPICS = ("town", "food", "travel", "nature", "science")

_NOUNS = {
    "town": ["the city council", "the old harbour", "the fishing fleet", "the market hall",
             "the new library", "the town museum", "a group of residents", "the ferry company",
             "the local school", "the football club", "the mayor", "the railway station"],
    "food": ["a local baker", "the head chef", "the village café", "our kitchen team",
             "the cheese maker", "a family restaurant", "the farmers' market", "the bakery",
             "a young cook", "the tea room", "the brewery", "the wine merchant"],
    "travel": ["the mountain guide", "a small hotel", "the coastal path", "the night train",
               "a group of walkers", "the island ferry", "the visitor centre", "the old inn",
               "our correspondent", "the tour operator", "the cycling club", "the campsite"],
    "nature": ["the wildlife trust", "a pair of herons", "the river warden", "the forest team",
               "the bird survey", "a local gardener", "the nature reserve", "the beekeepers",
               "the orchard owners", "the park rangers", "the moorland group", "the seed bank"],
    "science": ["the research team", "a young engineer", "the observatory", "the laboratory",
                "the weather service", "a group of students", "the university", "the surveyors",
                "the data team", "a retired physicist", "the science club", "the geologists"],
}
_OBJECTS = {
    "town": ["a plan for the waterfront", "the repairs to the pier", "the budget for next year",
             "the route of the new tram", "a series of public talks", "the flood defences",
             "the restoration of the clock tower", "a new bus timetable", "the spring fair"],
    "food": ["a recipe for rye bread", "the autumn menu", "a new way to smoke fish",
             "the price of flour", "a tasting of regional cheeses", "the harvest supper",
             "a crème brûlée that sold out by noon", "the best way to store apples",
             "a soup made from winter vegetables"],
    "travel": ["the route over the pass", "a weekend on the islands", "the timetable for summer",
               "a walk along the old canal", "the cost of a night in the valley",
               "a guide to the quieter beaches", "the view from the northern ridge",
               "a map of the cycle paths", "the history of the old post road"],
    "nature": ["the return of the otters", "a count of the nesting birds", "the spring flowers",
               "the state of the river banks", "a new hedge along the lane",
               "the number of bees in the orchard", "the first frost of the year",
               "the planting of three hundred oaks", "a rare orchid near the quarry"],
    "science": ["the results of the survey", "a new telescope on the hill",
                "the temperature records for the last century", "a model of the tides",
                "the measurements from the river gauge", "a paper on soil samples",
                "the data from the weather balloon", "a cheaper kind of solar panel",
                "the age of the rocks under the town"],
}
_VERBS = ["announced", "described", "reviewed", "celebrated", "questioned", "planned",
          "restored", "visited", "measured", "opened", "discussed", "welcomed", "explained",
          "presented", "studied", "defended", "praised", "criticised", "completed", "shared"]
_TAILS = ["after a long meeting on Tuesday", "with the help of many volunteers",
          "because the winter had been hard", "so that families could take part",
          "while the boats were still in the water", "before the summer visitors arrived",
          "in the presence of a small crowd", "although some of the details are still open",
          "for the first time in more than ten years", "at the end of a very busy week",
          "in spite of the rain that fell all morning", "as part of a larger project",
          "on the day that the new season began", "with a little more care than usual"]
_OPENERS = ["In the end,", "According to the organisers,", "For most people,", "Last year,",
            "On Saturday morning,", "As expected,", "To the surprise of many,", "By the evening,",
            "At first,", "Later in the day,", "For the time being,", "Not long after that,"]
_ASIDES = [
    "It was the first time in a decade that this had happened.",
    "Many of the people we spoke to said they would come back next year.",
    "The work is expected to take about three months to complete.",
    "There will be more information on this page in the coming weeks.",
    "Several readers wrote to us to share their own memories of the place.",
    "It is not yet clear how much the whole project will cost in the end.",
    "Nobody could remember a time when so many people had turned up.",
    "Some of the older residents were not convinced that it would work.",
    "The details will be discussed again at the next public meeting.",
    "It’s a small change, but it makes a real difference to those who live nearby.",
    "“We have waited a long time for this,” one of them told us with a smile.",
    "The café on the corner stayed open late so that everyone could warm up.",
]
_TAILS += ["once the last of the boxes had been carried in", "on a cold and windy afternoon",
           "under the watchful eye of the chairman", "with money raised at the summer fête",
           "despite a late change to the programme", "just as the light began to fade",
           "in a hall that was far too small for everyone", "over three long evenings in March"]
_CONNECT = ["and", "but", "so", "while", "because", "although", "after", "before", "when"]
_FEELINGS = ["it was a good start", "the mood was cheerful", "there was still a lot to do",
             "the result was better than expected", "the questions kept coming",
             "nobody wanted to leave early", "the plan would need more money",
             "the weather was kinder than forecast", "most of the work had been done by hand",
             "a few details still had to be settled", "everyone seemed pleased with the outcome",
             "several neighbours offered to help", "the children enjoyed it most of all",
             "the costs turned out lower than feared", "a second meeting was already planned",
             "the old arguments were soon forgotten", "the newspapers took a keen interest"]
_ALL_OBJECTS = [o for objs in _OBJECTS.values() for o in objs]
_ALL_NOUNS = [n for nouns in _NOUNS.values() for n in nouns]

_DE = ["Der Gemeinderat hat am Dienstag einen neuen Plan für den Hafen vorgestellt.",
       "Viele Bewohner waren mit den Ergebnissen der Umfrage sehr zufrieden.",
       "Die Arbeiten an der alten Brücke sollen im Frühjahr beginnen.",
       "Nach einer langen Sitzung wurde das Budget für das nächste Jahr beschlossen.",
       "Auf dem Markt gab es frisches Brot, Käse und Äpfel aus der Region.",
       "Die Schüler haben mit großer Geduld die Vögel am Fluss gezählt.",
       "Es ist noch nicht klar, wie viel das ganze Projekt am Ende kosten wird.",
       "Im Sommer fährt die Fähre jeden Morgen um neun Uhr zur Insel.",
       "Der Bäcker erklärte uns, warum sein Roggenbrot so lange frisch bleibt.",
       "Die Ausstellung im Museum zeigt alte Karten und Fotografien der Stadt."]
_FR = ["Le conseil municipal a présenté mardi un nouveau projet pour le port.",
       "Beaucoup d’habitants se sont déclarés satisfaits des résultats de l’enquête.",
       "Les travaux sur le vieux pont devraient commencer au printemps prochain.",
       "Après une longue réunion, le budget de l’année prochaine a été adopté.",
       "Au marché, on trouvait du pain frais, du fromage et des pommes de la région.",
       "Les élèves ont compté avec beaucoup de patience les oiseaux près de la rivière.",
       "On ne sait pas encore combien le projet coûtera à la fin.",
       "En été, le bateau part chaque matin à neuf heures pour l’île.",
       "Le boulanger nous a expliqué pourquoi son pain de seigle reste frais si longtemps.",
       "L’exposition du musée montre de vieilles cartes et des photographies de la ville."]
_TITLE_WORDS = {
    "de": ["Neuer Plan für den Hafen", "Markttag in der Altstadt", "Vögel am Fluss gezählt",
           "Die Brücke wird renoviert", "Ein Besuch beim Bäcker"],
    "fr": ["Un nouveau projet pour le port", "Jour de marché en vieille ville",
           "Les oiseaux de la rivière", "Le vieux pont en travaux", "Chez le boulanger"],
}


def _cap(s: str) -> str:
    return s[:1].upper() + s[1:]


def _pick(rng: random.Random, options: list[str], used: set[str] | None,
          spill: list[str] | None = None) -> str:
    """A phrase not yet used on this page while any is left, then from ``spill``: a page that
    repeats its phrases trips the repetition filters, as real text rarely does."""
    if used is None:
        return rng.choice(options)
    fresh = [o for o in options if o not in used] or [o for o in spill or [] if o not in used]
    choice = rng.choice(fresh or options)
    used.add(choice)
    return choice


def sentence(rng: random.Random, topic: str, used: set[str] | None = None) -> str:
    """One English sentence about ``topic``, built from one of several clause patterns.
    ``used`` (a page's phrases so far) keeps phrases from repeating within a page."""
    noun = _pick(rng, _NOUNS[topic], used, _ALL_NOUNS)
    obj = _pick(rng, _OBJECTS[topic], used, _ALL_OBJECTS)
    verb = rng.choice(_VERBS)
    form = rng.randrange(7)
    if used is not None and f"form{form}" in used and form in (2, 5):
        form = 0  # fixed openings ("It is said that ...") would repeat
    if used is not None:
        used.add(f"form{form}")

    def tail() -> str:
        return _pick(rng, _TAILS, used)

    def feeling() -> str:
        return _pick(rng, _FEELINGS, used)

    if form == 0:
        return f"{_cap(noun)} {verb} {obj} {tail()}."
    if form == 1:
        return f"{_pick(rng, _OPENERS, used)} {noun} {verb} {obj}, {rng.choice(_CONNECT)} " \
               f"{feeling()}."
    if form == 2:
        other = _pick(rng, _NOUNS[rng.choice(TOPICS)], used, _ALL_NOUNS)
        return f"When {noun} {verb} {obj}, {other} said that {feeling()}."
    if form == 3:
        return _pick(rng, _ASIDES, used)
    if form == 4:
        return f"{_cap(obj)} was {verb} by {noun} {tail()}, and {feeling()}."
    if form == 5:
        return f"It is said that {noun} {verb} {obj} {tail()}."
    return f"{_cap(noun)} has {verb} {obj}; {feeling()}, {rng.choice(_CONNECT)} {feeling()}."


def paragraph(rng: random.Random, topic: str, n: int | None = None, lang: str = "en",
              used: set[str] | None = None) -> str:
    """A paragraph of ``n`` sentences (3-6 when not given) in ``lang`` (en, de or fr); ``used``
    carries a page's phrases across its paragraphs."""
    n = n or rng.randint(3, 6)
    if lang == "de":
        return " ".join(rng.sample(_DE, min(n, len(_DE))))
    if lang == "fr":
        return " ".join(rng.sample(_FR, min(n, len(_FR))))
    out: list[str] = []
    while len(out) < n:
        s = sentence(rng, topic, used)
        if s not in out:  # a repeated sentence would trip the repetition filters
            out.append(s)
    return " ".join(out)


def reserve(used: set[str], written: str) -> None:
    """Mark the phrases already in ``written`` (a page title, say) as used on its page."""
    low = written.lower()
    used.update(o for o in _ALL_OBJECTS + _ALL_NOUNS if o.removeprefix("the ").removeprefix(
        "a ") in low)


def title(rng: random.Random, topic: str, lang: str = "en", used: set[str] | None = None) -> str:
    """A headline."""
    if lang in _TITLE_WORDS:
        return rng.choice(_TITLE_WORDS[lang])
    noun = _pick(rng, _NOUNS[topic], used, _ALL_NOUNS)
    obj = _pick(rng, _OBJECTS[topic], used, _ALL_OBJECTS)
    return _cap(f"{noun.removeprefix('the ').removeprefix('a ')} and {obj}")


def caption(rng: random.Random, topic: str, lang: str = "en", used: set[str] | None = None
            ) -> str:
    """A short figure caption."""
    if lang != "en":
        return (_DE if lang == "de" else _FR)[rng.randrange(10)].split(",")[0].rstrip(".")
    obj, tail = _pick(rng, _OBJECTS[topic], used, _ALL_OBJECTS), _pick(rng, _TAILS, used)
    return _cap(f"{obj}, photographed {tail}")


def phrases(rng: random.Random, topic: str, n: int, used: set[str] | None = None) -> list[str]:
    """``n`` distinct short items for lists and tables."""
    out: list[str] = []
    while len(out) < n:
        item = _cap(_pick(rng, _OBJECTS[topic], used, _ALL_OBJECTS))
        if item not in out:
            out.append(item)
    return out


def comment(rng: random.Random) -> str:
    """A reader comment (boilerplate for the extractor: it is outside the main content)."""
    return rng.choice(["Great article, thanks for sharing!", "I was there too, what a day.",
                       "Does anyone know when the next meeting is?", "Lovely photos as always.",
                       "This is exactly what the town needed.", "Not sure I agree with this.",
                       "My grandmother used to tell me about this place."])
