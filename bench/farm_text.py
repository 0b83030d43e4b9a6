"""Press-release-like titles and texts for the feed farm, diverse as real feeds are.

A handful of fixed sentences would make every farm item a near-duplicate candidate of every
other (they share most word 3-grams), which no real archive does and which turns the dedupe
stage quadratic. Here every sentence is assembled from a large seeded vocabulary: actors,
people, places, numbers, dates and reference numbers fill the slots of some sixty clause
patterns, and a generated lexicon of ~6,000 invented terms (project names, committees,
programmes) makes two items' word 3-grams rarely meet. Everything comes from a
`random.Random` the caller seeds, so the same seed gives the same text.
"""

from __future__ import annotations

import random
from datetime import date, timedelta
from functools import cache


def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


FIRST = _words(
    "Anna Marco Sofia Lukas Elena Jan Marta Pieter Ines Tomas Clara Mikko Laura Andrej "
    "Eva Paolo Katarina Hugo Alba Nikos Ilse Dario Zofia Emil Greta Luca Rasa Filip Noor "
    "Oskar Lena Rui Agnieszka Stefan Maja Viktor Helena Dimitri Irene Janis"
)
LAST = _words(
    "Novak Rossi Schmidt Dubois Kowalski Jansen Garcia Nielsen Papadopoulos Horvat Silva "
    "Virtanen Weber Moreau Kovacs Lindqvist Ionescu Murphy Bauer Costa Petrov Vidal Krause "
    "Berg Marin Lopez Hoffmann Fischer Leroy Nagy Popescu Svensson Bianchi Wagner Ferrari "
    "Dvorak Mertens Keller Andersen Ruiz"
)
PLACES = _words(
    "Vienna Brussels Sofia Zagreb Nicosia Prague Copenhagen Tallinn Helsinki Paris Berlin "
    "Athens Budapest Dublin Rome Riga Vilnius Luxembourg Valletta Amsterdam Warsaw Lisbon "
    "Bucharest Bratislava Ljubljana Madrid Stockholm Strasbourg Lyon Hamburg Milan Porto "
    "Gdansk Tartu Ghent Cork Graz Turku Malmo Seville"
)
BODIES = (
    "the European Commission",
    "the Council",
    "the European Parliament",
    "the LIBE committee",
    "the IMCO committee",
    "the European Data Protection Board",
    "Europol",
    "Eurojust",
    "the Fundamental Rights Agency",
    "ENISA",
    "the national hotline",
    "the data protection authority",
    "the ministry of justice",
    "the ministry of the interior",
    "the federal police",
    "the prosecutor's office",
    "the children's ombudsperson",
    "the digital services coordinator",
    "the presidency",
    "the working party on law enforcement",
)
ADJ = _words(
    "new revised binding voluntary independent national regional cross-border technical "
    "preliminary annual detailed joint targeted interim permanent public confidential "
    "proportionate effective secure encrypted automated manual local digital"
)
NOUN = _words(
    "framework assessment report guideline safeguard audit budget inquiry mandate database "
    "review programme tool campaign hotline network platform service provider survey study "
    "agreement amendment procedure deadline roadmap strategy pilot helpline register "
    "dataset standard protocol licence directive code charter"
)
VERB = _words(
    "published presented adopted rejected welcomed criticised extended postponed reviewed "
    "funded launched endorsed questioned amended approved examined suspended renewed "
    "announced discussed"
)
TOPIC = (
    "detection orders",
    "age verification",
    "end-to-end encryption",
    "grooming",
    "sextortion",
    "removal orders",
    "risk assessments",
    "survivor support",
    "hash databases",
    "reporting obligations",
    "app store checks",
    "livestreamed abuse",
    "AI-generated material",
    "victim identification",
    "online safety education",
    "data retention",
    "cross-border requests",
    "platform transparency",
    "parental controls",
    "prevention programmes",
)
CLAUSES = (
    "{body} {verb} a {adj} {noun} on {topic} on {day}",
    "according to {person}, {body} {verb} the {adj} {noun} in {place}",
    "{count} {plural} were examined in {place} between {day} and {day2}",
    "{person} of {body} said the {term} {noun} would be {verb} by {month}",
    "the {term} {noun} received {money} from {body} for {topic}",
    "{body} and {body2} {verb} {count} {plural} about {topic}",
    "in {place}, {count} cases of {topic} were reported in {year}, up {pct} per cent",
    "the {adj} {term} {noun} covers {topic} and {topic2}",
    "{person} told reporters in {place} that {topic} remains a priority for {body}",
    "document {ref} sets out a {adj} {noun} for {topic}",
    "a hearing with {person} and {person2} on {topic} is scheduled for {day}",
    "the {term} initiative in {place} trained {count} staff on {topic}",
    "{body} {verb} the {term} {noun} after {count} {plural} from {place}",
    "the vote on {ref} passed with {count} votes to {count2} on {day}",
    "{body} asked {body2} for a {adj} {noun} on {topic} before {month}",
    "under the {term} {noun}, {plural} in {place} must report {topic} within {small} days",
    "{person}, rapporteur for {ref}, {verb} the {adj} {noun}",
    "funding of {money} for the {term} {noun} runs until {year2}",
)
PLURAL = _words(
    "complaints requests referrals reports submissions petitions questions notices "
    "investigations appeals"
)
TITLES = (
    "{body_cap} {verb} {adj} {noun} on {topic}",
    "{person}: {topic} and the {term} {noun}",
    "{place}: {count} {plural} on {topic} in {year}",
    "{ref}: {body} {verb} the {adj} {noun}",
    "{term} {noun} {verb} in {place}",
    "{body_cap} and {topic}: {adj} {noun} for {year}",
)
SYLLABLES = _words(
    "ka ri to ne la mo su vi de ra po li ze ta ko mi nu se da fe ro ga lu be ti sa no ve "
    "ha ju pe di mo ca re bo xi wa"
)
MONTHS = _words(
    "January February March April May June July August September October November December"
)


PROCEDURES = ("COD", "NLE", "INI")


@cache
def lexicon() -> tuple[str, ...]:
    """~6,000 invented terms ("Kariton", "Velisa"): names of projects and programmes."""
    rng = random.Random("farm-lexicon")
    words: set[str] = set()
    while len(words) < 6000:
        words.add("".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 4))).capitalize())
    return tuple(sorted(words))


def _day(rng: random.Random) -> str:
    when = date(2024, 1, 1) + timedelta(days=rng.randrange(900))
    return f"{when.day} {MONTHS[when.month - 1]} {when.year}"


def _slots(rng: random.Random) -> dict[str, str]:
    terms = lexicon()
    body, body2 = rng.sample(BODIES, 2)
    topic, topic2 = rng.sample(TOPIC, 2)
    return {
        "body": body,
        "body2": body2,
        "body_cap": body[:1].upper() + body[1:],
        "person": f"{rng.choice(FIRST)} {rng.choice(LAST)}",
        "person2": f"{rng.choice(FIRST)} {rng.choice(LAST)}",
        "place": rng.choice(PLACES),
        "topic": topic,
        "topic2": topic2,
        "adj": rng.choice(ADJ),
        "noun": rng.choice(NOUN),
        "verb": rng.choice(VERB),
        "plural": rng.choice(PLURAL),
        "term": rng.choice(terms),
        "count": str(rng.randint(2, 4000)),
        "count2": str(rng.randint(2, 400)),
        "small": str(rng.randint(2, 30)),
        "pct": str(rng.randint(2, 80)),
        "money": f"EUR {rng.randint(1, 950)}.{rng.randint(0, 9)} million",
        "day": _day(rng),
        "day2": _day(rng),
        "month": rng.choice(MONTHS),
        "year": str(rng.randint(2019, 2026)),
        "year2": str(rng.randint(2026, 2031)),
        "ref": f"{rng.randint(2019, 2026)}/{rng.randint(1, 999):04d}({rng.choice(PROCEDURES)})",
    }


def title(rng: random.Random) -> str:
    return rng.choice(TITLES).format(**_slots(rng))


def sentence(rng: random.Random) -> str:
    """One or two clauses, each with its own slot values."""
    first = rng.choice(CLAUSES).format(**_slots(rng))
    if rng.random() < 0.5:
        first += ", while " + rng.choice(CLAUSES).format(**_slots(rng))
    return first[:1].upper() + first[1:] + "."


def text(rng: random.Random, sentences: int) -> str:
    return " ".join(sentence(rng) for _ in range(sentences))
