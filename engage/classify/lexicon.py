"""A theme lexicon written from the labelling guide (docs/themes.md), as model features.

The n-gram features learn only the words the corpus happens to use. Real comments say
the same things in other words ("pots of money", "shut the unit", "who signs this
off"), so each theme also gets a list of phrases and their variants, written from the
guide and from what real public comments were seen to say (docs/data-card.md). The
lexicon does not decide anything: :class:`LexiconFeatures` turns it into five extra
numbers per text (how many different phrases of each theme occur), which sit next to
the n-grams and get their weights from training like any other feature. A phrase the
corpus never uses still counts towards its theme, which is where it helps.

Phrase syntax, kept deliberately small so that a saved model holds data, never code:
a phrase is cut into words the way a text is (``tokens()``: hyphens and punctuation
separate words, "&" and "£" are kept), and matches that run of words, whole words
only, in any case; a phrase ending in ``*`` lets its last word match any word starting
with it (``redundanc*``). Matching looks words up in dictionaries, not regular
expressions, so a model file cannot smuggle in a pattern, and a text is read once for
all five themes.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator, TransformerMixin

__all__ = [
    "CONTEXTS",
    "LEXICON",
    "LexiconFeatures",
    "PhraseMatcher",
    "compile_phrase",
    "default_contexts",
    "default_lexicon",
    "matches",
]

# Per theme, its phrases separated by commas (see the syntax above).
_PHRASES: dict[str, str] = {
    # Money as the NHS's money. Not bare "cuts" (most often service cuts), "pay" or
    # "contract" (staff), or "cost" in "cost lives".
    "money": (
        "money, moneys, funding, fund, funds, funded, underfund*, budget*, allocation*, "
        "allocate*, deficit*, overspend*, overspent, savings, saving money, cost saving*, "
        "efficiency saving*, save money, costs, costing*, "
        "costly, cost of, cost the, cost more, cost less, cost effective, cost-effective, "
        "cheap*, expens*, financ*, spend money, spending money, spend on, spending on, spent on, "
        "spend more, spend less, public spending, health spending, spending review, spending "
        "power, spend the, spent the, spent millions, cash, invest, invests, invested, "
        "investing, investment*, investor*, disinvest*, afford it, "
        "afford the, afford to pay, afford to fund, affordab*, unaffordab*, value for "
        "money, pooled, pooling, pot, pots, £, million*, billion*, bn, funding cuts, budget "
        "cuts, spending cuts, financial cuts, cuts to funding, cuts in funding, cut back*, "
        "cutback*, cost-cutting, cost cutting, efficienc*, qipp, fair share*, fairer share*, "
        "share of the, under-resourc*, under resourc*, underresourc*, properly resourced, "
        "resource allocation, resources allocated, funding and resources, money and resources, "
        "financial resources, running costs, management costs, overhead*, price, who pays, "
        "taxpayer*, council tax, austerity, bail out, bailout, private sector, privatis*, "
        "privatiz*, outsourc*, profit*, pfi, debt*, tariff*, payment by results, capped, cap "
        "on, economic*, wasted, waste of, consultants' fees, management consultant*, recharg*, "
        "subsid*, grant, grants, grant funding, income, revenue, capital, books, balance the, "
        "financial recovery, in the red, bankrupt*, flat broke, went broke, gone broke, "
        "purse strings, "
        "follow the money, top-slic*, top slic*, salaries, big salaries, six-figure, fat cat*"
    ),
    "decision-making": (
        "decision*, decide*, decided, governance, govern*, accountab*, unaccountab*, "
        "transparen*, opaque, secret, secrets, secretive, secretly, secrecy, behind closed doors, "
        "consultation*, consult, consults, consulted, consulting, "
        "engagement, engage with, listen*, not heard, ignored, ignore*, have a say, have our "
        "say, say in, a voice, local voice*, no voice, vote*, voting, voted, ballot*, scrutin*, "
        "overview and scrutiny, osc, jhosc, hosc, democra*, undemocratic, constitution*, in "
        "public, meetings in public, board meeting*, governing body, board, boards, elected, "
        "unelected, councillor*, secretary of state, referral to the, judicial review, "
        "rubber stamp*, done deal, already been decided, foregone conclusion, tick box*, "
        "tick-box*, sham, pretend*, deadline*, extension, extend the consultation, "
        "questionnaire*, survey*, leading question*, who decides, who will decide, signs off, "
        "sign off, signed off, centralised decision*, centralized decision*, centralised control, "
        "decisions centralised, centralising power, power centralised, top-down, top "
        "down, local accountability, local control, representation*, represent, represented, "
        "representing, representative*, lay member*, "
        "healthwatch, patient participation, freedom of information, foi, "
        "plans were, stp, stps, ics, icb, icbs, integrated care board*, merger, merge*, "
        "one ccg, single ccg, footprint, reorganis*, reorganiz*, top-down "
        "reorganisation, who is responsible, answerable, trust us, keep us informed, "
        "kept in the dark, farce, spin, misleading, unfit for purpose, "
        "made up their mind*, minds made up, fait accompli, no choice, public opinion, "
        "unanswered, drop-in, listening exercise, refer it, four tests, "
        "mandate, democratic deficit, they don't care, nobody asked, no one asked, wasn't "
        "asked, weren't asked, not consulted, not asked, have their say, "
        "have your say, had their say, had our say, had a say, come clean, stitch up, stitch-up, "
        "u-turn, public meeting*"
    ),
    # Who leads and decides, not clinicians as such: "doctors", "nurses" and "GPs" on
    # their own are everywhere in real comments about services and staffing, and
    # "Clinical Commissioning Group" is only a name (text.py shortens it to CCG).
    "clinical-leadership": (
        "clinical lead*, clinically led, clinically-led, clinician-led, clinician led, clinical "
        "chair*, clinical director*, clinical input, clinical voice*, clinical view*, clinical "
        "advice, clinical evidence, clinical senate, clinical engagement, clinical support, "
        "clinical case, clinical involvement, clinical ownership, clinical leadership, "
        "clinicians' views, clinicians' voice*, views of clinicians, gp lead*, gp-led, led by "
        "gps, led by doctors, led by clinicians, gp commissioning, gp commissioners, gp "
        "members, gp membership, member practices, commissioning gps, governing body gps, gps "
        "on the board, doctors on the board, nurses on the board, clinicians on the board, gps "
        "decide, gps deciding, doctors decide, listen to doctors, listen to clinicians, listen "
        "to gps, listen to nurses, listen to the doctors, listen to the nurses, listen to the "
        "consultants, listen to the midwives, listening to clinicians, ignored the doctors, "
        "ignored clinicians, medical voice, nurse member, nurse director, royal college*, bma, "
        "lmc, lmcs, local medical committee, clinical reference group, pcn clinical director*, "
        "seat at the table, practices had a say, professional voice, professional advice, "
        "managers instead of, run by managers, consultant body, body of consultants, "
        "consultants' letter, consultants wrote, medical staff committee, medical committee, "
        "senior doctors, senior clinicians, clinical judgement, clinical judgment, heard but "
        "not listened, gp involvement, involvement of gps, involvement from gps, gp "
        "opposition, gps opposed, opposed by gps, opposition from gps, grassroots gps, jobbing "
        "gps, gp representation, gp presence, gp seat*, top table, doctors in the dark, "
        "clinicians in the dark, clinical commissioners, commissioning role, commissioning "
        "work, commissioning duties"
    ),
    "services": (
        "service*, hospital*, a&e, a & e, a and e, accident and emergency, emergency "
        "department, urgent care, urgent treatment, walk-in*, walk in centre*, minor injur*, "
        "appointment*, waiting list*, waiting time*, wait*, queue*, mental health, camhs, "
        "maternity, midwi*, birth*, labour ward, baby, babies, ambulance*, paramedic*, 999, "
        "111, out of hours, out-of-hours, gp surgery, surgery, surgeries, practice*, see a gp, "
        "see my gp, see a doctor, get an appointment, phone at 8, 8am, 8 am, receptionist*, "
        "patient*, care, carer*, care home*, social care, community care, district nurs*, "
        "health visitor*, children's, childrens, paediatric*, stroke, cancer, cardiac, heart, "
        "dementia, elderly, older people, disabled, disabilit*, treatment*, treated, "
        "operation*, surger*, bed, beds, bedded, bedside, ward*, clinic, clinics, pharmac*, "
        "dentist*, dental, prescription*, "
        "referral*, diagnos*, scan, scans, scanner*, scanning, x-ray*, blood test*, physio*, "
        "close, closed, closes, closest, closing, closure*, "
        "shut*, downgrad*, relocat*, move services, moving services, travel*, journey*, miles, "
        "bus, buses, parking, transport, drive, distance, access, accessib*, nearest, "
        "local hospital, "
        "on our doorstep, closer to home, quality of care, safe, unsafe, safety, lives at risk, "
        "die, died, death*, overstretched, over-stretched, stretched, pressure, capacity, "
        "discharge*, pathway*, provision, provide*, lose our, losing our, keep our, save our, "
        "a+e, a/e, one site, single site, two sites, on site, unit, units, department, lives, "
        "life or death, blue light, golden hour, consultant-led, consultant led, midwife-led, "
        "midwife led, special care baby, scbu, nicu, urgent, emergency, cottage hospital*, "
        "community hospital*, health centre*, hub, taxi, round trip, roads, go private, private "
        "health care, private healthcare, further to travel, too far, for miles, same doctor, "
        "same gp, same worker, same person twice, continuity, online form*, get through, "
        "getting through, answered in time, calls not answered, stay open, stays open, kept "
        "open, still have a hospital, charged to park, to park, callback, call back, get "
        "seen, got seen, be seen, housebound, nurse appointment*"
    ),
    "jobs": (
        "jobs, job cuts, job security, my job, his job, her job, job offer*, job title*, staff, "
        "staffing, staffed, understaff*, workforce, employ*, redundan*, laid "
        "off, lay off*, layoff*, made redundant, lose their job*, losing their job*, recruit*, "
        "retain staff, retaining staff, retain nurses, retain doctors, retain gps, keep staff, "
        "retention, vacanc*, morale, burnout, burn out, burnt out, exhausted staff, "
        "career*, training places, training posts, training budget*, staff training, "
        "trainee*, apprentice*, pay, pay rise, wage*, pension, pensions, "
        "terms and conditions, t&cs, tupe, agency staff, agency nurse*, locum*, bank staff, "
        "posts, post holder*, roles, restructur*, re-structur*, staff consultation, union*, "
        "unison, unite, rcn, gmb, strike*, industrial action, colleagues, workers, worker, "
        "employees, headcount, head count, staff shortage*, staffing shortage*, workforce "
        "shortage*, shortage of staff, shortages of staff, shortage of nurses, shortage of "
        "doctors, shortage of gps, shortage of midwives, nurse shortage*, gp shortage*, "
        "doctor shortage*, short-staffed, short staffed, leaving the nhs, leave the nhs, quit, "
        "relocate staff, redeploy*, secondment*, new job titles, management posts, hr, "
        "experienced staff, familiar faces, "
        "people who work, nursing shortage*, nurse recruitment, supply of nurses, haemorrhag*, "
        "exodus, workload*, shifts, night shift*, extra shift*, long shift*, "
        "double shift*, shift work*, shift pattern*, shift system*, rota*, overtime, "
        "staff side, band 5, band 6, employer*, "
        "wholly owned, subsidiary, subsidiaries, last to know, new contract*, contracts of "
        "employment, org change, organisational change, organizational change, at risk of "
        "redundancy, posts at risk, jobs at risk, job matching, slotted in, slotting, job "
        "description*, new structure*, staff consultation period, under-supported, "
        "unsupported staff, overwhelmed, pulled in all directions, pulled in every direction, "
        "pulled in too many directions, inadequately staffed, poorly staffed, thinly staffed, "
        "call handler*, not enough staff, not enough nurses, not enough doctors, not enough "
        "gps, not enough midwives, fewer gps, fewer nurses, fewer doctors, fewer midwives, "
        "fewer staff, all categories of staff, rota gaps, unfilled shifts, "
        "frontline staff, our members, union members, losing jobs, lose jobs, job loss*, "
        "jobs lost, jobs cut, cut jobs, loss of jobs, staff sickness, staffing pressure*, "
        "lack of staff, lack of consultants, lack of doctors, lack of nurses, lack of gps, "
        "lack of midwives"
    ),
}
LEXICON: dict[str, tuple[str, ...]] = {
    theme: tuple(p.strip() for p in phrases.split(",") if p.strip())
    for theme, phrases in _PHRASES.items()
}

# Texts and phrases are cut into the same tokens: "£" alone, else runs of letters,
# digits, "&" and inner apostrophes ("a&e", "children's"); hyphens and other
# punctuation separate, so "cost-cutting" is two tokens in both.
_TOKEN = re.compile(r"£|[^\W_](?:[\w&']*[\w&])?|&")

Phrase = tuple[tuple[str, bool], ...]  # (word, is a prefix) for each word


def tokens(text: str) -> list[str]:
    """The lower-cased tokens lexicon phrases are matched against."""
    return _TOKEN.findall(text.lower())


def compile_phrase(phrase: str) -> Phrase:
    """One lexicon *phrase* as (word, is_prefix) pairs; raises ValueError if it is empty."""
    out: list[tuple[str, bool]] = []
    for chunk in phrase.lower().split():
        prefix = chunk.endswith("*") and len(chunk) > 1
        words = tokens(chunk[:-1] if prefix else chunk)
        out.extend((w, prefix and i == len(words) - 1) for i, w in enumerate(words))
    if not out:
        raise ValueError(f"empty lexicon phrase {phrase!r}")
    return tuple(out)


class _Matcher:
    """All phrases of all themes, indexed by their first word, matched in one pass."""

    def __init__(self, pairs: Sequence[tuple[str, Sequence[str]]]) -> None:
        self.n_themes = len(pairs)
        self.exact: dict[str, list[tuple[Phrase, int]]] = {}
        self.prefix: dict[str, list[tuple[Phrase, int]]] = {}
        for k, (_, phrases) in enumerate(pairs):
            for phrase in phrases:
                try:
                    compiled = compile_phrase(phrase)
                except ValueError:  # punctuation only: nothing a text could match
                    continue
                word, is_prefix = compiled[0]
                (self.prefix if is_prefix else self.exact).setdefault(word, []).append(
                    (compiled, k)
                )
        self.prefix_lengths = sorted({len(w) for w in self.prefix})
        # Per word seen: the themes of the one-word phrases it is (they match by how
        # they were looked up) and the longer phrases that start with it (to check
        # against the words after it). Real texts repeat their words, and looking a
        # word up under every prefix length was most of what matching cost.
        self._by_word: dict[str, tuple[tuple[int, ...], tuple[tuple[Phrase, int], ...]]] = {}

    _WORDS_KEPT = 50_000

    def _starting(self, tok: str) -> tuple[tuple[int, ...], tuple[tuple[Phrase, int], ...]]:
        found = self._by_word.get(tok)
        if found is None:
            candidates = list(self.exact.get(tok, ()))
            for length in self.prefix_lengths:
                if length > len(tok):
                    break
                candidates.extend(self.prefix.get(tok[:length], ()))
            found = (
                tuple(k for phrase, k in candidates if len(phrase) == 1),
                tuple((phrase, k) for phrase, k in candidates if len(phrase) > 1),
            )
            if len(self._by_word) < self._WORDS_KEPT:
                self._by_word[tok] = found
        return found

    def spans(self, toks: Sequence[str]) -> list[tuple[int, int, int]]:
        """Each match in *toks* as (start, end, theme index), in order of start. A list,
        not a generator: classifying calls this for every text, and a generator's
        resumptions cost about a tenth more there (bench classify)."""
        out: list[tuple[int, int, int]] = []
        n = len(toks)
        for i, tok in enumerate(toks):
            single, longer = self._starting(tok)
            for k in single:
                out.append((i, i + 1, k))
            for phrase, k in longer:
                end = i + len(phrase)
                if end <= n and all(
                    toks[i + j].startswith(w) if pre else toks[i + j] == w
                    for j, (w, pre) in enumerate(phrase)
                ):
                    out.append((i, end, k))
        return out

    def find(self, toks: Sequence[str]) -> list[set[str]]:
        """Per theme, the distinct phrases (as matched text) found in *toks*."""
        found: list[set[str]] = [set() for _ in range(self.n_themes)]
        for start, end, k in self.spans(toks):
            found[k].add(" ".join(toks[start:end]))
        return found


# Public name for other packages matching phrase lists of their own (concerns.concepts).
PhraseMatcher = _Matcher

_ALL: list[_Matcher] = []


def theme_phrases(text: str) -> bool:
    """Whether *text* holds any phrase of any theme in LEXICON."""
    if not _ALL:
        _ALL.append(_Matcher(default_lexicon()))
    return any(_ALL[0].find(tokens(text)))


def matches(text: str, phrases: Sequence[str]) -> list[str]:
    """The distinct matches of *phrases* in *text*, lower-cased, in order of appearance."""
    hits = _Matcher([("", phrases)]).find(tokens(text))[0]
    order = " ".join(tokens(text))
    return sorted(hits, key=lambda h: (order.find(h), h))


# Two kinds of word that mean something together in one sentence and little apart.
# The guide's clinical leadership is clinicians *deciding* ("GPs on the board",
# "consultants were never asked"), not clinicians named in passing (so not "consult*",
# the public consultation, "support*" or "the powers that be"); staff named with praise
# ("the nurses were wonderful") is not a workforce concern, nor care at a named unit
# praised ("the care on the ward was excellent") a concern about services (convention
# 16); and staff named with a worry
# ("colleagues are in limbo", "not enough call handlers") is one, without the words
# "jobs" or "redundancy".
# fmt: off
CONTEXTS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "clinicians deciding": (
        (
            "gp", "gps", "doctor*", "clinician*", "consultants", "consultant", "nurse*",
            "midwi*", "paramedic*", "pharmacist*", "medic", "medics", "medical", "physician*",
            "surgeon*",
            "royal college*", "bma", "lmc*", "rcn", "professional*", "practices", "partners",
            "clinical staff", "clinical teams", "clinical colleagues", "frontline clinicians",
        ),
        (
            "board*", "decid*", "decision*", "say", "voice*", "lead*", "led", "commission*",
            "consulted", "not consulted", "asked", "ask", "listen*", "involv*", "vote*",
            "voting", "seat", "seats", "represent*", "chair*", "overrul*", "overrid*", "ignor*",
            "input", "views", "view", "oppose", "opposed", "opposes", "opposing", "opposition",
            "engag*", "control*", "influence*", "member*",
            "governing", "sign", "signs", "signed", "signing", "sign-off", "approv*", "agree*",
            "heard", "committee*",
        ),
    ),
    "staff praised": (
        (
            "staff", "nurse*", "doctor*", "team", "receptionist*", "paramedic*", "porter*",
            "worker*", "employee*", "colleague*", "gp", "gps", "midwi*", "people who work",
        ),
        (
            "lovely", "amazing", "wonderful", "brilliant", "praise", "kind", "kindness",
            "caring", "thank*", "fantastic", "excellent", "superb", "great", "fab*",
            "angels", "heroes", "professional", "cannot fault", "can't fault",
            "outstanding", "helpful", "friendly", "best",
        ),
    ),
    "care praised": (
        (
            "care", "cared", "team", "unit", "ward", "hospital", "hospice", "clinic",
            "crew", "service", "treatment", "treated", "looked after", "operation",
        ),
        (
            "excellent", "wonderful", "brilliant", "outstanding", "superb", "fantastic",
            "commend*", "thank*", "grateful", "gratitude", "saved my", "saved his",
            "saved her", "saved our", "saved the life", "cannot fault", "can't fault",
            "could not fault", "couldn't fault", "first class", "second to none",
        ),
    ),
    "staff worried": (
        (
            "staff", "colleagues", "our members", "union members", "workforce", "employees",
            "posts", "roles", "jobs", "job", "team members", "nurses", "midwives",
            "call handlers", "workers",
        ),
        (
            "uncertain*", "worry*", "worried", "worrying", "anxious", "anxiety", "at risk",
            "in the dark", "no news", "heard nothing", "redundan*", "limbo", "unsettl*",
            "demoralis*", "demoraliz*", "overwhelmed", "exhausted", "overstretched",
            "stretched", "burnout", "burnt out", "burned out", "burn out", "leaving", "quit",
            "quits", "quitting", "cannot cope", "can't cope",
            "not enough", "too few", "understaff*", "morale", "stress*",
        ),
    ),
    # Guards for workforce words in other senses (convention 21): "redundant" as
    # unneeded ("redundant jargon"), "posts" on social media, staff training named
    # only as why a clinic shut. The jobs phrases still count; these let training
    # learn that, in such a sentence, they do not mean staff.
    "redundant as unneeded": (
        ("redundant",),
        (
            "jargon", "word", "words", "wording", "question*", "paragraph*", "document*",
            "survey*", "form", "forms", "buildings", "offices", "sitting empty",
            "machine*", "equipment", "repeat*", "duplicat*", "pointless", "unnecessary",
        ),
    ),
    "posts online": (
        ("posts",),
        (
            "facebook", "twitter", "instagram", "tiktok", "nextdoor", "linkedin",
            "whatsapp", "social media", "tweet*", "retweet*", "thread*", "blog*",
            "your page", "its page", "share these", "sharing these", "tagging", "tagged",
        ),
    ),
    "shut for training": (
        ("training", "training day*", "protected learning", "learning time"),
        (
            "closed", "closes", "closing", "closure*", "shut*", "cancel*", "half day",
            "half-day", "afternoon*", "no appointments", "turned up", "turned away",
        ),
    ),
    # GPs and other clinicians named beside the commissioning body in one sentence:
    # the GPs who are a CCG's members writing about it ("CCGs are being developed in
    # ways that GPs are unhappy with", "GPs should be telling CCGs what to do"), which
    # convention 7 makes clinical leadership and which the model read as
    # decision-making (round 15, docs/data-card.md; last, as it came last). In the
    # corpus 81% of the 346 items holding it are clinical leadership, 9% of the rest.
    "clinicians commissioning": (
        (
            "gp", "gps", "docs", "doctor*", "clinician*", "practices", "member practices",
            "nurse*", "consultants",
        ),
        (
            "ccg", "ccgs", "commissioning", "commissioner*", "pct", "pcts", "commission",
            "commissions", "icb", "icbs", "co-commissioning",
        ),
    ),
}
# fmt: on
_SENTENCES = re.compile(r"(?<=[.!?])\s+|\n+")


def default_contexts() -> list:
    """CONTEXTS as the plain ``[[name, [phrases], [phrases]]]`` data a model stores."""
    return [[name, list(left), list(right)] for name, (left, right) in CONTEXTS.items()]


class LexiconFeatures(TransformerMixin, BaseEstimator):
    """Per theme, a count of the distinct lexicon phrases a text contains, dampened;
    per context, a count of the sentences holding a phrase of both its sides.

    ``lexicon`` is a list of ``[theme, [phrase, ...]]`` pairs and ``contexts`` a list
    of ``[name, [phrase, ...], [phrase, ...]]`` (plain data, so that a model saved
    with skops holds strings and lists only). Each feature is ``weight *
    log1p(count)``, so one mention counts and the tenth adds little. Stateless:
    ``fit`` learns nothing.
    """

    def __init__(
        self, lexicon: list | None = None, weight: float = 1.0, contexts: list | None = None
    ) -> None:
        self.lexicon = lexicon
        self.weight = weight
        self.contexts = contexts

    def fit(self, X: Any, y: Any = None) -> LexiconFeatures:  # noqa: ARG002 - stateless
        self.n_features_in_ = 1
        return self

    def _matcher(self) -> _Matcher:
        """One matcher for the themes' phrases and, after them, both sides of every
        context: each text is read once for all of them."""
        cached = self.__dict__.get("_compiled")
        if cached is None:
            pairs = list(self.lexicon if self.lexicon is not None else default_lexicon())
            pairs += [
                (f"{name}:{i}", side)
                for name, *both in self.contexts or ()
                for i, side in enumerate(both)
            ]
            cached = _Matcher(pairs)
            self.__dict__["_compiled"] = cached
        return cached

    def _n_themes(self) -> int:
        return len(self.lexicon if self.lexicon is not None else LEXICON)

    def _read(self, text: str) -> tuple[list[int], list[list[int]], list[str]]:
        """Per theme, how many distinct phrases *text* holds; per context, the indices
        of the sentences holding a phrase of both its sides; and the sentences.

        The sentences' tokens, one after another, are the text's tokens (sentences
        are split at whitespace, which no token holds), so one pass of the matcher
        over them finds the themes' phrases in the whole text and the contexts'
        phrases per sentence: a context phrase counts only inside one sentence.
        """
        matcher = self._matcher()
        n_themes = self._n_themes()
        n_contexts = len(self.contexts or ())
        if n_contexts:
            sentences = _SENTENCES.split(text)
            toks: list[str] = []
            sentence_of: list[int] = []
            for i, sentence in enumerate(sentences):
                words = tokens(sentence)
                toks.extend(words)
                sentence_of.extend([i] * len(words))
        else:
            sentences, toks, sentence_of = [], tokens(text), []
        found: list[set[str]] = [set() for _ in range(n_themes)]
        sides: dict[tuple[int, int], int] = {}  # (context, sentence) -> sides seen, as bits
        for start, end, k in matcher.spans(toks):
            if k < n_themes:
                found[k].add(toks[start] if end - start == 1 else " ".join(toks[start:end]))
            elif sentence_of[start] == sentence_of[end - 1]:
                key = ((k - n_themes) // 2, sentence_of[start])
                sides[key] = sides.get(key, 0) | (1 << ((k - n_themes) % 2))
        both: list[list[int]] = [[] for _ in range(n_contexts)]
        for (c, i), bits in sorted(sides.items()):
            if bits == 3:
                both[c].append(i)
        return [len(f) for f in found], both, sentences

    def context_sentences(self, text: str) -> list[list[str]]:
        """Per context, the sentences of *text* that hold a phrase of both its sides."""
        if not self.contexts:
            return []
        _, both, sentences = self._read(text)
        return [[sentences[i] for i in indices] for indices in both]

    def transform(self, X: Iterable[str]) -> sp.csr_matrix:
        n_features = self._n_themes() + len(self.contexts or ())
        rows = []
        for text in X:
            counts, both, _ = self._read(text)
            rows.append(counts + [len(indices) for indices in both])
        counts = np.asarray(rows, dtype=np.float32).reshape(-1, n_features)
        return sp.csr_matrix(np.log1p(counts) * np.float32(self.weight))

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:  # noqa: ARG002
        pairs = self.lexicon if self.lexicon is not None else default_lexicon()
        names = [f"lexicon:{theme}" for theme, _ in pairs]
        names += [f"context:{name}" for name, *_ in self.contexts or ()]
        return np.asarray(names, dtype=object)

    def __getstate__(self) -> dict[str, Any]:
        # The compiled matchers are rebuilt on first use; only the data is saved.
        state = dict(self.__dict__)
        state.pop("_compiled", None)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        # A model saved before contexts existed has none.
        self.__dict__.update({"contexts": None, **state})


def default_lexicon(themes: Sequence[str] | None = None) -> list:
    """LEXICON as the plain ``[[theme, [phrases]]]`` data a model stores."""
    order = themes or tuple(LEXICON)
    return [[t, list(LEXICON[t])] for t in order]
