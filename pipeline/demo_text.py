"""Sentences for the demo site: English prose with real structure, a little German and French.

The quality filters use Gopher's rules (50+ words, mean word length 3-10, stop words), so the
English text must read like text, not like a list of random words."""

from __future__ import annotations

import random

_EN = {
    "subject": ["the committee", "the old harbour", "a local baker", "the city council",
                "our reporter", "the fishing fleet", "a group of students", "the museum",
                "the new library", "the weather service", "a young engineer", "the festival"],
    "verb": ["announced", "described", "reviewed", "celebrated", "questioned", "planned",
             "restored", "visited", "measured", "opened", "discussed", "welcomed"],
    "object": ["a plan for the waterfront", "the results of the survey", "the spring market",
               "a collection of old maps", "the budget for next year", "the repairs to the pier",
               "a series of public talks", "the route of the new tram", "the annual race",
               "an exhibition of local photographs", "the flood defences", "a bread recipe"],
    "tail": ["after a long meeting on Tuesday", "with the help of many volunteers",
             "because the winter had been hard", "so that families could take part",
             "while the boats were still in the water", "before the summer visitors arrived",
             "and the people who live there were pleased", "that had been waiting for years",
             "in the presence of the mayor", "although some of the details are still open"],
    "aside": ["It was the first time in a decade that this had happened.",
              "Many of the people we spoke to said they would come back next year.",
              "The work is expected to take about three months to complete.",
              "There will be more information on the website in the coming weeks.",
              "Several readers wrote to us to share their own memories of the place.",
              "It is not yet clear how much the project will cost in the end."],
}
_DE = ["Der Ausschuss hat am Dienstag einen neuen Plan für den Hafen vorgestellt.",
       "Viele Bewohner kamen zur Versammlung und stellten Fragen zu den Kosten.",
       "Die Arbeiten sollen im Frühjahr beginnen und etwa drei Monate dauern.",
       "Im Museum ist eine Ausstellung mit alten Fotografien der Stadt zu sehen."]
_FR = ["Le comité a présenté mardi un nouveau projet pour le port de la ville.",
       "De nombreux habitants sont venus à la réunion pour poser des questions.",
       "Les travaux devraient commencer au printemps et durer environ trois mois.",
       "Le musée présente une exposition de photographies anciennes de la ville."]


def sentence(rng: random.Random) -> str:
    if rng.random() < 0.2:
        return rng.choice(_EN["aside"])
    s = (f"{rng.choice(_EN['subject'])} {rng.choice(_EN['verb'])} {rng.choice(_EN['object'])} "
         f"{rng.choice(_EN['tail'])}.")
    return s[0].upper() + s[1:]


def paragraph(rng: random.Random, lang: str = "en", n: int = 4) -> str:
    if lang == "de":
        return " ".join(rng.choice(_DE) for _ in range(n))
    if lang == "fr":
        return " ".join(rng.choice(_FR) for _ in range(n))
    return " ".join(sentence(rng) for _ in range(n))


def title(rng: random.Random, lang: str = "en") -> str:
    if lang != "en":
        return paragraph(rng, lang, 1).rstrip(".")
    s = f"{rng.choice(_EN['subject'])} {rng.choice(_EN['verb'])} {rng.choice(_EN['object'])}"
    return s[0].upper() + s[1:]
