# ruff: noqa: E501  (one sentence template per line reads best)
"""Seeded text for the benchmark data: feedback, responses and emails.

Every function takes a ``random.Random`` so the same seed gives the same data. Texts are
built from sentence templates per theme (docs/themes.md) filled from a vocabulary of
boroughs, hospitals, services and people, so they vary in words and length while
their themes are known.
"""

from __future__ import annotations

import bisect
import itertools
import random
import string

from engage.demo import NEL_BOROUGHS, NWL_BOROUGHS

THEMES = ("money", "decision-making", "clinical-leadership", "services", "jobs")

# The demo engagements' boroughs, as `make run` has them.
BOROUGHS_NWL = NWL_BOROUGHS
BOROUGHS_NEL = NEL_BOROUGHS
PLACES = [
    "Southall",
    "Wembley",
    "Uxbridge",
    "Acton",
    "Hayes",
    "Feltham",
    "Kilburn",
    "Pinner",
    "Stratford",
    "Ilford",
    "Romford",
    "Dagenham",
    "Walthamstow",
    "Bow",
    "Hackney Wick",
    "Paddington",
    "Shepherd's Bush",
    "Northolt",
]
HOSPITALS = [
    "Northwick Park",
    "Ealing Hospital",
    "Hillingdon Hospital",
    "Charing Cross",
    "St Mary's",
    "West Middlesex",
    "Central Middlesex",
    "Whipps Cross",
    "Queen's Hospital",
    "Newham General",
    "the Royal London",
    "King George Hospital",
    "Homerton",
]
SERVICES = [
    "GP surgery",
    "walk-in centre",
    "urgent treatment centre",
    "A&E",
    "maternity unit",
    "pharmacy",
    "district nursing team",
    "community mental health team",
    "physiotherapy service",
    "diabetes clinic",
    "out-of-hours GP service",
    "health visiting service",
    "memory clinic",
    "dental practice",
    "children's ward",
    "stroke unit",
    "hospice",
    "phlebotomy clinic",
]
PEOPLE = [
    "my mum",
    "my dad",
    "my husband",
    "my wife",
    "my son",
    "my daughter",
    "my neighbour",
    "my grandmother",
    "a friend of mine",
    "my partner",
    "I",
]
CLINICIANS = ["GPs", "practice nurses", "consultants", "pharmacists", "midwives", "clinicians"]
STAFF_GROUPS = [
    "CCG staff",
    "commissioning managers",
    "admin staff",
    "receptionists",
    "nurses",
    "support staff",
    "the continuing healthcare team",
]
FIRST_NAMES = [
    "Amina",
    "Ben",
    "Chloe",
    "Daniel",
    "Priya",
    "Farah",
    "George",
    "Hannah",
    "Imran",
    "Joanne",
    "Kwame",
    "Laura",
    "Mohammed",
    "Niamh",
    "Olu",
    "Patrick",
    "Rosa",
    "Sanjay",
    "Tomasz",
    "Yetunde",
    "Zoe",
    "Margaret",
    "Derek",
    "Shirley",
]
LAST_NAMES = [
    "Ahmed",
    "Brown",
    "Campbell",
    "Davies",
    "Evans",
    "Fernandes",
    "Green",
    "Hussain",
    "Iqbal",
    "Jones",
    "Khan",
    "Lewis",
    "Mensah",
    "Nowak",
    "O'Brien",
    "Patel",
    "Quinn",
    "Rahman",
    "Singh",
    "Taylor",
    "Williams",
    "Okafor",
]
MAIL_DOMAINS = ["example.com", "example.net", "example.org", "mail.example.co.uk"]

SENTENCES: dict[str, list[str]] = {
    "money": [
        "Where will the money saved on management actually go, and will {borough} get its fair share?",
        "I worry the deficit at {hospital} will swallow the budget meant for community services in {borough}.",
        "One budget for the whole area means {borough} will lose out to the boroughs with the biggest hospitals.",
        "Please publish how much the merger will cost and how much it is expected to save each year.",
        "The {service} in {place} has already had its funding cut twice; I cannot see how another restructure saves money.",
        "Spending millions on consultants to redraw the organisation chart is not value for money.",
        "Will the allocation per head of population stay the same for {borough} after the change?",
        "Money should follow patients, not prop up the deficits of the big trusts.",
        "It feels like a cost-cutting exercise dressed up as integration.",
        "Ring-fence the mental health budget so it cannot be raided to balance the books.",
    ],
    "decision-making": [
        "Who will be accountable when things go wrong in {borough} if decisions are taken in one central office?",
        "Local people in {place} were not told about this consultation until it was nearly over.",
        "The drop-in session in {place} was held on a weekday afternoon when most people are at work.",
        "A single committee cannot know what matters to {borough} the way our own CCG did.",
        "The consultation document is full of jargon and I could not work out what was actually being decided.",
        "Will councillors and Healthwatch have a real say, or will they just be informed afterwards?",
        "It looks as though the decision has already been made and this engagement is a formality.",
        "Please keep the board meetings in public and publish the papers a week before.",
        "There should be a resident from every borough on the governing body.",
        "I want to know who I can write to about {service} once the local CCG disappears.",
    ],
    "clinical-leadership": [
        "The whole point of CCGs was that local {clinicians} led commissioning; that will be lost.",
        "Will there still be a GP from {borough} on the board who knows our practices?",
        "Clinicians should lead these decisions, not managers who have never worked in a {service}.",
        "Our practice nurses know far more about what patients need than any central team.",
        "I am a GP in {place} and I have not been asked for my view on any of this.",
        "Clinical leads for each borough must keep protected time to do the job properly.",
        "Please make sure {clinicians} from the community, not only the hospitals, are in the room.",
        "Without clinical leadership the new body will just be another layer of administration.",
    ],
    "services": [
        "{person} waited {hours} hours in A&E at {hospital} last month.",
        "It now takes three weeks to get a GP appointment at my surgery in {place}.",
        "Please do not close the {service} in {place}; the next one is two buses away.",
        "The {service} at {hospital} has been brilliant with {person} and I do not want that to change.",
        "Mental health services for young people in {borough} have waiting lists of over a year.",
        "Since the {service} moved, {person} has had to rely on taxis to get to appointments.",
        "Community services in {borough} should be kept local and not merged with another borough.",
        "The out-of-hours service could not find the records for {person_obj} and we had to start again.",
        "Will the {service} in {place} still open at weekends after the change?",
        "Waiting times for physiotherapy at {hospital} are now longer than the pain lasts.",
        "I could not get through on the phone to book a blood test for {person}.",
        "Maternity care at {hospital} was excellent and must be protected.",
    ],
    "jobs": [
        "What happens to the {staff} in {borough} when the eight CCGs become one?",
        "Staff morale at the CCG is already low and another restructure will push good people out.",
        "Will {staff} be transferred under TUPE or made redundant?",
        "Every reorganisation loses experienced {staff} and the knowledge goes with them.",
        "Recruitment of {clinicians} in {borough} is hard enough without more uncertainty.",
        "My job at the CCG has been restructured three times in five years.",
        "Please say how many posts will go and whether there will be a consultation with the unions.",
        "Moving everyone to one office in {place} will make the commute impossible for many {staff}.",
    ],
}
NEUTRAL = [
    "I have lived in {borough} for {years} years.",
    "Thank you for the chance to comment.",
    "I read the leaflet that came through my door last week.",
    "I am writing as a carer for {person_obj}.",
    "I went to the public meeting in {place}.",
    "My family have used the {service} for years.",
    "I hope someone actually reads this.",
    "I am a member of the patient participation group at my practice.",
]
OPENERS = ["", "", "", "Dear Sir or Madam,\n\n", "Hello,\n\n", "To the engagement team,\n\n"]
CLOSERS = ["", "", "", "\n\nRegards", "\n\nThank you", "\n\nYours faithfully", "\n\nKind regards"]

YOU_SAID = {
    "money": [
        "the money saved by merging would not be spent in {borough}",
        "the hospital deficits would take money from community services",
        "the cost of the change had not been published",
        "each borough would not keep a fair share of the budget",
    ],
    "decision-making": [
        "decisions about {borough} would be taken far away by people who do not know it",
        "the engagement was not publicised well enough in {place}",
        "residents would have no say once the local CCG closed",
        "board papers and meetings would not be open to the public",
    ],
    "clinical-leadership": [
        "local GPs would no longer lead commissioning in {borough}",
        "clinicians from community services would not be heard",
        "the new body would be run by managers rather than clinicians",
    ],
    "services": [
        "the {service} in {place} might close or move",
        "waiting times at {hospital} are getting longer",
        "GP appointments in {borough} are hard to get",
        "mental health services for young people have long waiting lists",
    ],
    "jobs": [
        "staff in {borough} would lose their jobs in the restructure",
        "experienced staff would leave because of uncertainty",
        "moving to one office would make the commute impossible",
    ],
}
WE_DID = [
    "We have set up a committee for {borough} that meets in public every two months.",
    "We published the full costs and expected savings on this page on {date}.",
    "We will keep the {service} in {place} open; any future change will be consulted on first.",
    "Each borough keeps a GP clinical lead with two protected sessions a week.",
    "We asked Healthwatch to review the engagement plan and added evening sessions.",
    "Staff will transfer under TUPE and we are working with the unions on the process.",
    "We are reviewing waiting times at {hospital} with the trust and will report back in the spring.",
    "We have added a resident representative from every borough to the governing body.",
    "Budgets for community services are ring-fenced for the next two years.",
    "We will not take this forward: the proposal would not have improved care for patients.",
]
MILESTONES = [
    "Proposal agreed by the governing body",
    "Committee in common held its first public meeting",
    "Report published",
    "Review with the trust started",
    "Evening sessions added in every borough",
    "Staff consultation opened",
]
SEARCH_WORDS = ["pharmacy", "maternity", "deficit", "redundant", "accountable", "waiting"]


def pick(rng: random.Random, seq):
    """rng.choice, without its per-call overhead (this runs millions of times)."""
    return seq[int(rng.random() * len(seq))]


def weighted(rng: random.Random, values: tuple, cumulative: tuple):
    """rng.choices(values, cum_weights=cumulative)[0], faster."""
    return values[bisect.bisect(cumulative, rng.random() * cumulative[-1])]


def cumulative(weights) -> tuple:
    return tuple(itertools.accumulate(weights))


def _person_obj(rng: random.Random) -> str:
    person = pick(rng, PEOPLE)
    return "myself" if person == "I" else person


_SLOTS = {
    "place": lambda rng: pick(rng, PLACES),
    "hospital": lambda rng: pick(rng, HOSPITALS),
    "service": lambda rng: pick(rng, SERVICES),
    "person": lambda rng: pick(rng, PEOPLE),
    "person_obj": _person_obj,
    "clinicians": lambda rng: pick(rng, CLINICIANS),
    "staff": lambda rng: pick(rng, STAFF_GROUPS),
    "hours": lambda rng: 3 + int(rng.random() * 12),
    "years": lambda rng: 2 + int(rng.random() * 59),
    "date": lambda rng: f"{1 + int(rng.random() * 28)} {pick(rng, ['March', 'June'])} 2020",
}
_FIELDS: dict[str, tuple[str, ...]] = {}


def _fill(template: str, rng: random.Random, borough: str) -> str:
    fields = _FIELDS.get(template)
    if fields is None:
        # dict, not set: the order of the draws must not depend on string hashing
        names = (name for _, name, _, _ in string.Formatter().parse(template) if name)
        fields = _FIELDS[template] = tuple(dict.fromkeys(names))
    values = {"borough": borough}
    for name in fields:
        if name != "borough":
            values[name] = _SLOTS[name](rng)
    text = template.format(**values)
    return text[0].upper() + text[1:]


_N_THEMES = cumulative([12, 50, 28, 10])
THEME_WEIGHTS = cumulative([18, 26, 12, 32, 12])
_PER_THEME = cumulative([6, 3, 1])
_NEUTRAL = cumulative([5, 4, 1])


def pick_themes(rng: random.Random) -> list[str]:
    """0–3 themes, skewed like real feedback (services and decision-making most common)."""
    n = weighted(rng, (0, 1, 2, 3), _N_THEMES)
    chosen = {weighted(rng, THEMES, THEME_WEIGHTS) for _ in range(n)}
    return [t for t in THEMES if t in chosen]


def feedback_text(rng: random.Random, themes: list[str], borough: str) -> str:
    """A comment touching ``themes`` (none: a neutral remark), 1–8 sentences long."""
    sentences = []
    for theme in themes:
        for _ in range(weighted(rng, (1, 2, 3), _PER_THEME)):
            sentences.append(_fill(pick(rng, SENTENCES[theme]), rng, borough))
    for _ in range(weighted(rng, (0, 1, 2), _NEUTRAL) + (0 if themes else 1)):
        sentences.insert(rng.randint(0, len(sentences)), _fill(pick(rng, NEUTRAL), rng, borough))
    body = " ".join(sentences)
    if rng.random() < 0.25 and len(sentences) > 2:  # some write in paragraphs
        cut = rng.randint(1, len(sentences) - 1)
        body = " ".join(sentences[:cut]) + "\n\n" + " ".join(sentences[cut:])
    if rng.random() < 0.08:  # and some type in lower case, like a text message
        body = body.lower()
    return pick(rng, OPENERS) + body + pick(rng, CLOSERS)


def person(rng: random.Random) -> tuple[str, str]:
    """A (name, email address) pair; the address is unique enough for a benchmark."""
    first, last = pick(rng, FIRST_NAMES), pick(rng, LAST_NAMES)
    local = f"{first}.{last}".lower().replace("'", "")
    return f"{first} {last}", f"{local}{rng.randint(1, 9999)}@{pick(rng, MAIL_DOMAINS)}"


def you_said(rng: random.Random, theme: str, borough: str) -> str:
    return _fill(pick(rng, YOU_SAID[theme]), rng, borough)


def we_did(rng: random.Random, borough: str) -> str:
    parts = [_fill(pick(rng, WE_DID), rng, borough) for _ in range(rng.randint(1, 3))]
    return " ".join(parts)
