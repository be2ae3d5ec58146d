"""How a concern is worded: its label and its draft "You told us you are concerned
that ..." line, from its phrases, its main idea and what its people said in so many
words. Pure functions of text; nothing here reads the database."""

from __future__ import annotations

import re
from collections.abc import Collection, Iterator, Sequence

from engage.classify.spelling import english_words
from engage.concerns import concepts
from engage.concerns.text import without_channel
from engage.personal_data import PLACEHOLDERS

_PLACEHOLDER = re.compile("|".join(re.escape(p) for p in PLACEHOLDERS.values()))

# "worried that <clause>", "my fear is that <clause>", or "worried <clause>" when the
# clause starts as a statement about someone or something ("worried the money ...").
_WORRY = re.compile(
    r"\b(?:worried|concerned|worry|fear|afraid|scared|anxious)\b(?:\s+(?:is|about\s+it))?"
    r"\s+(?:that\s+|(?=(?:the|our|this|these|those|staff|patients|people|services|money|"
    r"funding|local|it|they|we|there|gps|nhs)\b))([^.?!\n]{12,160})",
    re.IGNORECASE,
)
_FIRST_PERSON = re.compile(r"\b(?:I|me|my|mine|myself|I'm|I've|I'd|I'll)\b", re.IGNORECASE)
# The public's "we" is the reader's "you" in "You told us you are concerned that ...".
_OURS = {
    "we": "you", "our": "your", "us": "you", "ours": "yours", "ourselves": "yourselves",
    "we're": "you're", "we'll": "you'll", "we've": "you've", "we'd": "you'd",
}  # fmt: skip
_OUR_WORDS = re.compile(r"\b(?:" + "|".join(sorted(_OURS, key=len, reverse=True)) + r")\b", re.I)
# Words that start a clause in small letters (a name or "GPs" keeps its capital).
_SMALL_STARTS = frozenset((
    "the", "our", "this", "these", "those", "a", "an", "it", "they", "there", "staff",
    "patients", "people", "services", "money", "funding", "local", "you", "your",
))  # fmt: skip
# A capitalised first word this common in English ("Management cost cuts will ...") is
# capitalised only because it starts the sentence; a place ("Havering", "Croydon") is
# far rarer in the word list and keeps its capital.
_COMMON_WORD = 1000


def _small_start(clause: str) -> str:
    """``clause`` with its first word in small letters when that word is a common one
    written with a capital only because it began the sentence."""
    first = clause.split(" ", 1)[0]
    word = first.strip("\"'(").lower()
    if not first[:1].isupper() or not first[1:].islower() and len(first) > 1:
        return clause
    if word in _SMALL_STARTS or word in _OURS or english_words().get(word, 0) >= _COMMON_WORD:
        return clause[0].lower() + clause[1:]
    return clause


def stated_worry(text: str) -> str | None:
    """The clause after "worried / concerned / fear ... that" in ``text``, as a plain
    sentence to follow "You told us you are concerned that": "we" and "our" become
    "you" and "your"; None when there is none or it speaks of the writer alone (I, me,
    my), which is one person's story rather than the public's concern, or when it
    holds a personal-data placeholder."""
    match = _WORRY.search(text.replace("\u2019", "'"))
    if match is None:
        return None
    clause = " ".join(match.group(1).split()).rstrip(",;:- ")
    if _FIRST_PERSON.search(clause) or len(clause.split()) < 3 or _PLACEHOLDER.search(clause):
        return None

    def yours(found: re.Match) -> str:
        word = _OURS[found.group(0).lower()]
        return word.capitalize() if found.group(0)[0].isupper() else word

    return _small_start(_OUR_WORDS.sub(yours, clause)) + "."


_SENTENCE = re.compile(r"[^.?!\n]+[.?!]*")
# Greetings, sign-offs and requests ("please reply", "please publish ...") state no worry.
_NOT_A_STATEMENT = re.compile(
    r"^\s*(?:dear|hello|hi|to whom|thank|thanks|regards|yours|kind regards|best wishes|"
    r"i look forward|please|"
    # A call to act ("Keep decisions local", "Save our unit") asks; it states no worry.
    r"keep|save|stop|don't|do not|give|let|listen|protect|bring|invest|publish|scrap|"
    r"reverse|remember|support|fund|ensure|reconsider|leave|sign|join|come)\b",
    re.IGNORECASE,
)


_GREETING_LEAD = re.compile(
    r"^(?:dear|hello|hi|good (?:morning|afternoon|evening)|to whom it may concern)\b"
    r"[^,:]{0,40}[,:]\s*",
    re.IGNORECASE,
)


def impersonal(text: str) -> str:
    """The sentences of ``text`` that say nothing of the writer (I, me, my) and hold no
    personal-data placeholder, joined: what a draft may take from an item that nobody
    has redacted by hand."""
    return " ".join(
        m.group(0).strip()
        for m in _SENTENCE.finditer(text.replace("\u2019", "'"))
        if not _FIRST_PERSON.search(m.group(0)) and not _PLACEHOLDER.search(m.group(0))
    )


def central_statement(text: str, phrases: Sequence[str]) -> str | None:
    """The first statement of ``text`` (not a question, greeting or sign-off; 4 to 30
    words) that uses one of ``phrases``, else its first statement, as a clause to follow
    "You told us you are concerned that". Said in the public's "we" it is given back as
    "you"; said in the first person (one person's story) it is quoted as it was written.
    None when the text has no such statement. A sentence holding a personal-data
    placeholder ("[name removed]") is never chosen."""
    statements = []
    for match in _SENTENCE.finditer(text.replace("\u2019", "'")):
        sentence = _GREETING_LEAD.sub("", " ".join(match.group(0).split()))
        if (
            sentence.endswith("?")
            or _NOT_A_STATEMENT.match(sentence)
            or _PLACEHOLDER.search(sentence)
            or not 4 <= len(sentence.split()) <= 30
        ):
            continue
        statements.append(sentence.rstrip(".!,;: "))
    if not statements:
        return None
    lowered = [phrase.lower() for phrase in phrases]
    chosen = next(
        (s for s in statements if any(p and p in s.lower() for p in lowered)), statements[0]
    )
    if _FIRST_PERSON.search(chosen):
        return f"\u201c{chosen}\u201d."
    clause = _OUR_WORDS.sub(lambda found: _OURS[found.group(0).lower()], chosen)
    return _small_start(clause) + "."


# "Who decides ...?" and "What happens to ...?" ask what a concern is worried about:
# given back as "it is not clear who decides ...". A wh-word that is the subject keeps
# the word order; "why / where / when / how" + auxiliary + pronoun is put back in
# statement order ("why are they closing it" -> "why they are closing it"); any other
# question is not rewritten.
_SUBJECT_QUESTION = re.compile(r"^(who|what|which \w+)\s+(\w.*)$", re.IGNORECASE)
_INVERTED_QUESTION = re.compile(
    r"^(why|where|when|how)\s+(is|are|was|were|will|would|can|could|should|do|does|did|"
    r"has|have)\s+(they|we|you|it|he|she|staff|patients|people)\s+(\w.*)$",
    re.IGNORECASE,
)
_DO = frozenset(("do", "does", "did"))


def open_question(text: str) -> str | None:
    """The first question of ``text`` that asks who, what, why, where, when or how, as
    a clause to follow "You told us you are concerned that": "it is not clear who
    decides where the new diagnostic centre goes."; "we / our" given back as "you /
    your". None when there is no such question, or it speaks of the writer (I, me, my)
    or holds a personal-data placeholder."""
    for match in _SENTENCE.finditer(text.replace("\u2019", "'")):
        sentence = _GREETING_LEAD.sub("", " ".join(match.group(0).split()))
        if not sentence.endswith("?") or not 4 <= len(sentence.split()) <= 30:
            continue
        if _FIRST_PERSON.search(sentence) or _PLACEHOLDER.search(sentence):
            continue
        body = sentence.rstrip("?!. ")
        if found := _SUBJECT_QUESTION.match(body):
            clause = f"{found.group(1).lower()} {found.group(2)}"
        elif found := _INVERTED_QUESTION.match(body):
            wh, aux, subject, rest = found.groups()
            verb = (
                f"{subject.lower()} {rest}"
                if aux.lower() in _DO
                else (f"{subject.lower()} {aux.lower()} {rest}")
            )
            clause = f"{wh.lower()} {verb}"
        else:
            continue
        clause = _OUR_WORDS.sub(lambda found: _OURS[found.group(0).lower()], clause)
        return f"it is not clear {clause}."
    return None


def draft_line(
    phrases: Sequence[str],
    texts: Sequence[str],
    idea: str | None = None,
    leaning: str | None = None,
    taken: Collection[str] = (),
) -> str:
    """A clause to follow "You told us you are concerned that", in this order of choice:

    1. a worry one of ``texts`` (quotable, most central first) states in so many words
       ("... worried that money will leave your borough"), if it names the concern's
       main ``idea`` (or the concern has none);
    2. the sentence the idea list gives the concern's main idea (``concepts.SAYS``);
    3. what the most central quotable item says, in its own words: its first statement
       that uses one of the concern's phrases (``central_statement``);
    4. what it asks, as something not clear ("it is not clear who decides ...",
       ``open_question``);
    5. the sentence of the idea the concern ``leaning`` towards (named by fewer of its
       people than a main idea, concepts.LEANING_SHARE);
    6. a sentence over the concern's most distinctive phrases, quoted as people's words.

    A clause in ``taken`` (the drafts of the theme's other concerns) is passed over for
    the next choice: two concerns of one main idea, say two kinds of closure, would
    otherwise offer a publisher the same line twice. If every choice is taken, the
    first is given. A channel's label at the start of a text ("Survey:",
    ``text.without_channel``) is never quoted.
    """
    texts = [without_channel(text, keep_who=False) for text in texts]
    choices = _choices(phrases, texts, idea, leaning)
    first = next(choices)
    if first not in taken:
        return first
    return next((clause for clause in choices if clause not in taken), first)


def _choices(
    phrases: Sequence[str], texts: Sequence[str], idea: str | None, leaning: str | None
) -> Iterator[str]:
    """draft_line's clauses, best first; the last is always there."""
    for text in texts:
        clause = stated_worry(text)
        if clause and (idea is None or idea in concepts.ideas(clause)):
            yield clause
    if idea is not None and idea in concepts.SAYS:
        yield concepts.SAYS[idea] + "."
    for text in texts[:3]:
        if said := central_statement(text, phrases):
            yield said
    for text in texts[:3]:
        if asked := open_question(text):
            yield asked
    if leaning is not None and leaning in concepts.SAYS:
        yield concepts.SAYS[leaning] + "."
    if not phrases:
        yield "the changes will affect you."
        return
    named = [f"\u201c{phrase}\u201d" for phrase in _telling(phrases)]
    yield f"the changes will affect {' and '.join(named)}."


def _telling(phrases: Sequence[str], most: int = 2) -> list[str]:
    """Up to ``most`` of ``phrases`` (most distinctive first) to name in a draft:
    phrases of two or more words, or single words only when there are none ("asked",
    "known" say nothing beside a phrase), and none that shares a word with one already
    named ("gp access" after "access in redbridge")."""
    longer = [p for p in phrases if len(p.split()) > 1]
    chosen: list[str] = []
    for phrase in longer or list(phrases):
        words = set(phrase.lower().split())
        if any(words & set(c.lower().split()) for c in chosen):
            continue
        chosen.append(phrase)
        if len(chosen) == most:
            break
    return chosen


def label_from(phrases: Sequence[str], idea: str | None = None) -> str:
    """A concern's label from its most distinctive phrases (the first three). A small
    concern may have fewer than two phrases used by enough of its people ("managed");
    then its main idea's sentence ("Staff will lose their jobs") says more, if it has
    one. "Other feedback" when there is neither."""
    if idea is not None and idea in concepts.SAYS and len(phrases) < 2:
        said = concepts.SAYS[idea]
        return (said[0].upper() + said[1:])[:200]
    return (", ".join(phrases[:3]) or "Other feedback")[:200]
