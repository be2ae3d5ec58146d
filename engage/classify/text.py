"""Reduce a feedback message to the sender's own words before it is classified.

Only what the sender wrote counts (docs/themes.md): quoted earlier messages, reply
headers, signatures, sign-offs, phone footers and legal disclaimers are removed.
The rules are deliberately conservative: a line is treated as a sign-off only when
it is nothing *but* a sign-off phrase (optionally followed by a comma and a short
name), so "Thanks for explaining the budget" or "Best wishes to the staff, but ..."
are kept. Lowercasing is left to the vectorizers. What writers put round their point
(an introduction, housekeeping, an organisation's notice below the message) is found
by letter.py, which normalise() calls between these steps.

Plain functions only: this module is never part of a saved model graph.
"""

from __future__ import annotations

import re

from engage.classify import letter

__all__ = ["normalise", "strip_attributions", "strip_quoted", "strip_signature"]

# A reply attribution: "On Tue, 4 Jun 2019 at 10:02, Jane <j@x.org> wrote:".
# Mail clients wrap long attributions, so "wrote:" may end the next line.
_ON_WROTE = re.compile(r"^\s*On\b.{0,200}?\bwrote:\s*$", re.IGNORECASE | re.DOTALL)
# Other clients' attributions: "Quoting Jo <jo@x.org>:", "Le 5 mars ... a écrit :",
# "Am ... schrieb ...:". A forwarded message is kept, its marker line dropped: it is
# often the feedback itself ("my neighbour has no email, her message is below").
_ATTRIBUTION = re.compile(
    r"^\s*(?:quoting\b.{0,160}:|.{0,200}\b(?:a écrit|schrieb|escribió|ha scritto|schreef)\s*:)\s*$",
    re.IGNORECASE,
)
_FORWARDED = re.compile(
    r"^\s*(?:-{2,}\s*)?(?:begin forwarded message|forwarded message)\s*:?\s*(?:-{2,})?\s*$",
    re.IGNORECASE,
)
_ORIGINAL = re.compile(r"^\s*-{2,}\s*Original Message\s*-{2,}\s*$", re.IGNORECASE)
# Outlook puts a rule of underscores, then a From:/Sent: header block, above the quote.
_RULE = re.compile(r"^\s*_{8,}\s*$")
_HEADER_FROM = re.compile(r"^\s*\*?From:\*?\s+\S", re.IGNORECASE)
_HEADER_NEXT = re.compile(r"^\s*\*?(Sent|Date|To|Subject):\*?\s", re.IGNORECASE)
_HEADER_ANY = re.compile(r"^\s*\*?(From|Sent|Date|To|Cc|Subject):\*?(\s|$)", re.IGNORECASE)
# An Outlook forward looks like a reply (a rule, then From:/Sent:/To:/Subject:) but for
# the subject it forwards: "Subject: FW: Ward 9", "Subject: Fwd: ...".
_FORWARD_SUBJECT = re.compile(r"^\s*\*?Subject:\*?\s*(?:fwd?|fw)\s*:", re.IGNORECASE)

_SIG_DASH = re.compile(r"^--\s?$")
# Phrases match in any case; the optional name after them must be Capitalised.
_SIGN_OFF_PHRASES = (
    r"(?i:(?:kind|kindest|best|warm|warmest|many|with kind|with best|yours|all the)?"
    r"\s*regards|rgds|kr|br"
    r"|(?:with\s+)?(?:best|kind|good|warm|warmest)\s+wishes|all the (?:very )?best"
    r"|(?:with\s+)?many thanks|with thanks|thanks(?: again| very much| so much| in advance)?"
    r"|thank you(?: again| very much| so much| in advance)?|thx|ta|tia"
    r"|yours(?: sincerely| faithfully| truly| ever)?|sincerely|respectfully|cheers|best"
    r"|take care|love|lots of love|warmly|speak soon|in (?:hope|anticipation)|in solidarity"
    r"|all best|(?:sent )?with (?:many )?thanks(?: and (?:kind |best )?regards)?)"
)
# A name, as people sign: "Jane Smith", "M. Conroy", "Pat x".
_NAME = r"[A-Z][\w.'-]*(?:\s+[A-Z][\w.'-]*){0,3}(?:\s+x{1,3})?"
# Whole-line sign-off, optionally followed on the same line by ", Name Surname"; two
# may be joined ("Thanks & regards", "Many thanks and best wishes,").
_SIGN_OFF = re.compile(
    rf"^\s*{_SIGN_OFF_PHRASES}(?:\s*(?i:and|&)\s*{_SIGN_OFF_PHRASES})?\s*[,.!]?\s*(?:{_NAME})?\s*$"
)
# A sign-off running on at the very end of a one-line web-form message:
# "... keep the walk-in centre open. Kind regards, Jane Smith".
_TRAILING_SIGN_OFF = re.compile(
    r"(?<=[.!?])\s+(?i:kind regards|best regards|warm regards|regards|best wishes"
    rf"|many thanks|yours sincerely|yours faithfully)\s*[,.]?(?:\s+{_NAME})?\s*$"
)
# "Sent from my iPad", "Sent via the Samsung Email app", "Get BlueMail for Android":
# a whole line of a few words naming a device or an app.
_MOBILE_FOOTER = re.compile(
    r"^\s*(?:sent (?:from|via|using|with) (?:my |the |a )?[\w.&-]+(?:\s+[\w.&-]+){0,2}[.!]?"
    r"|sent (?:from|via|using|with)\b[^\n]{0,40}\b(?:iphone|ipad|android|samsung|galaxy"
    r"|outlook|e-?mail|mail|app|mobile|phone|tablet|nhsmail|gmail|yahoo|kindle|pixel"
    r"|blackberry|huawei|xiaomi|aol|proton\w*)\b"
    r"[^\n]{0,60}"
    r"|get [\w.-]+(?: [\w.-]+)? for (?:ios|android|windows|mac|iphone|ipad)\b.{0,20}"
    r"|please consider the environment before printing\b.{0,40}"
    r"|think (?:of the environment )?before (?:you )?print\w*\b.{0,40})\s*$",
    re.IGNORECASE,
)
# A legal notice opens in a few set ways: it names itself, or says that this email
# (or the information in it) is confidential or privileged, or addresses whoever
# received it in error.
_DISCLAIMER = re.compile(
    r"^\s*(?:[*_-]*\s*)?(?:disclaimer\b|confidentiality(?: notice| statement)?\b"
    r"|important(?: notice)?:\s*this e-?mail\b|privileged and confidential\b"
    r"|(?:this|the information (?:contained )?in this) e-?mail(?: message)?"
    r"(?: \(?(?:and|including) any (?:attachments?|files)[^)]*\)?)?"
    r" (?:is|are|and|may be|may contain|contains?)\b.{0,60}\b(?:confidential|privileged)"
    r"|if you (?:are not the intended recipient|have received this (?:e-?mail|message) in error)"
    r"|the (?:views|opinions) expressed in this (?:e-?mail|message)\b)",
    re.IGNORECASE,
)
# "Dear Sir/Madam", "Hi team,", "Good morning all," -- short, and (bar "Dear") punctuated;
# a bare "Hi all" or "Afternoon" alone on its line; "To whom it may concern", "FAO ...";
# a memo's "To:", "From:", "Date:" or reference line (subject lines: _SUBJECT_LINE).
_HELLO = (
    r"(?:hi|hello|hiya|hey|greetings|good (?:morning|afternoon|evening|day)"
    r"|morning|afternoon|evening)"
)
_GREETING = re.compile(
    r"^\s*(?:dear(?:\s+[\w.'&/-]+){1,6}\s*[,:]?|dear(?:\s+[\w.'&/-]+){4,15}\s*[,:]"
    r"|dear(?:\s+[\w.'&/-]+){1,5}\s*\([^)\n]{0,60}\)\s*[,:]?"
    rf"|{_HELLO}(?:\s+[\w.'&/-]+){{0,4}}\s*[,:!]|{_HELLO}(?:\s+[\w.'&/-]+){{0,2}}\s*\.?"
    r"|to wh(?:om|o) it may concern\s*[,:.]?"
    r"|to (?:the|all|everyone|you)\b[^,:.?!\n]{0,80}[,:]?"
    r"|(?:to|from|cc|bcc|date|sent|(?:your|our) ref(?:erence)?)\s*:[^\n]{0,80}"
    r"|(?:fao|f\.a\.o\.?|attn\.?|attention|for the attention of)"
    r"\s*:?(?:\s+[\w.'&/,-]+){1,16}\s*[,:.]?"
    # an addressee alone, as a dash or comma leads into the message: "Engagement team -"
    r"|(?:(?:the|and|of|&|/|(?-i:[A-Z])[\w.'&-]*)\s+){0,4}(?:team|office|committee|board"
    r"|colleagues|councillors|members"
    r"|sirs?|madam)\s*[,:\u2013\u2014-]"
    r")\s*$",
    re.IGNORECASE,
)
# The same greeting at the start of a line that goes on with the message itself:
# "Dear engagement team, the Long Term Plan money ...". Only a comma or colon ends it,
# and at most five words, so "Hi there is no bus" keeps its words.
_INLINE_GREETING = re.compile(
    rf"^\s*(?:dear(?:\s+[\w.'&/-]+){{1,5}}|{_HELLO}(?:\s+[\w.'&/-]+){{0,3}}"
    r"|to whom it may concern)\s*[,:]\s+(?=\S)",
    re.IGNORECASE,
)
# Courtesy sentences that end a message and say nothing about it.
_CLOSING_SENTENCE = re.compile(
    r"(?:(?<=[.!?])|^)\s*(?:"
    r"i (?:look|am looking) forward to (?:your|a|hearing|receiving)\b[^.!?\n]{0,60}"
    r"|(?:many )?thanks?(?: you)?(?: very much| so much)? (?:for|in advance)\b[^.!?\n]{0,60}"
    r"|please (?:acknowledge|confirm|let me know)\b[^.!?\n]{0,60}"
    r"\b(?:received?|receipt)\b[^.!?\n]{0,20}"
    r"|i (?:would be|am) grateful for (?:a|your) (?:reply|response)\b[^.!?\n]{0,40}"
    r"|i hope (?:you will|this will be) (?:take|taken|consider)\w*\b[^.!?\n]{0,40}"
    r"|i hope (?:this|that) (?:helps|is (?:useful|helpful|of use))\b[^.!?\n]{0,40}"
    r"|(?:i am |i'm |i'd be |i would be )?happy to (?:discuss|talk|help|meet|provide)\b"
    r"[^.!?\n]{0,60}"
    r"|(?:please )?(?:do )?(?:feel free to |don't hesitate to |do not hesitate to )?"
    r"(?:get in touch|contact me|call me|ring me)\b[^.!?\n]{0,60}"
    r")[.!]*\s*$",
    re.IGNORECASE,
)
# Words that mark a short last sentence as a courtesy ("I await your reply with
# interest.") rather than feedback; used only when the sentence has no theme phrase.
_COURTESY = re.compile(
    r"\b(?:repl(?:y|ies)|response|respond|hear(?:ing)? (?:back )?from you|acknowledg\w*"
    r"|receipt|received|your time|consideration|considering|await\w*|look(?:ing)? forward"
    r"|grateful|thank\w*|thanks|hope (?:this|that) helps|get in touch|contact me"
    r"|(?:any|further) (?:questions|queries)|happy to (?:discuss|help|talk))\b",
    re.IGNORECASE,
)
# Where a courtesy starts inside a sentence that has no full stop before it.
_RUN_ON_COURTESY = re.compile(
    r"(?<=\S)\s+(?=(?:i (?:await|look forward|am looking forward|would be grateful"
    r"|hope to hear)|(?:many )?thank(?:s| you) (?:for|in advance)"
    r"|please (?:acknowledge|confirm|reply|respond))\b)",
    re.IGNORECASE,
)
_LAST_SENTENCE = re.compile(r"(?:(?<=[.!?\n])|^)\s*([^.!?\n]+)[.!]*\s*$")
# Organisations' long names, shortened to the acronym people also use, so that the
# "clinical" of "Clinical Commissioning Group" or the "care" of "Integrated Care
# Board" does not read as clinical leadership or services: a name is not a concern.
# Places named after the people in them are rewritten as places in the same way.
#
# Each rewrite also names words one of which every match holds (casefolded): a text
# without any of them skips that pattern. Running every pattern over every text was a
# quarter of what normalise() cost (bench classify); most texts hold none of the words.
_NAMES: tuple[tuple[re.Pattern[str], str, tuple[str, ...]], ...] = tuple(
    (re.compile(pattern, re.IGNORECASE), short, tuple(words.split()))
    for pattern, short, words in (
        (r"\bclinical\s+commissioning\s+groups?\b", "CCG", "commissioning"),
        (r"\bprimary\s+care\s+trusts?\b", "PCT", "primary"),
        (r"\bintegrated\s+care\s+boards?\b", "ICB", "integrated"),
        (r"\bintegrated\s+care\s+systems?\b", "ICS", "integrated"),
        (r"\bintegrated\s+care\s+partnerships?\b", "ICP", "integrated"),
        (
            r"\bsustainability\s+and\s+transformation\s+(?:plans?|partnerships?)\b",
            "STP",
            "transformation",
        ),
        (r"\bhealth\s+and\s+wellbeing\s+boards?\b", "HWB", "wellbeing"),
        (r"\b(?:joint\s+)?health\s+overview\s+and\s+scrutiny\s+committees?\b", "HOSC", "scrutiny"),
        (r"\baccident\s+(?:and|&)\s+emergency\b", "A&E", "emergency"),
        (r"\bcare\s+quality\s+commission\b", "CQC", "quality"),
        # Places, not people: "the doctor's surgery is closing after the consultation"
        # says nothing about clinicians deciding (lexicon.py's contexts).
        (
            r"\b(?:doctors?'?s?|gp'?s?|medical)\s+(?:surgery|practice)\b",
            "surgery",
            "surgery practice",
        ),
        # "GP practices" stays: practices are also the members that commission.
        (
            r"\b(?:doctors?'?s?|medical)\s+(?:surgeries|practices)\b",
            "surgeries",
            "surgeries practices",
        ),
        (r"\b(?:doctors?'?s?|gp'?s?)\s+surgeries\b", "surgeries", "surgeries"),
        (r"\bmedical\s+centres?\b", "health centre", "centre"),
        (r"\b(?:midwifery|midwife)(?:\s*-\s*|\s+)?(?:led\s+)?units?\b", "maternity unit", "unit"),
        # A care model named after who staffs it, not who decides: "consultant-led
        # maternity" is the obstetric service a town keeps or loses, "midwife-led care"
        # its alternative (convention 18). Plural "consultants led the review" stays.
        (r"\b(?:consultant|obstetric)(?:\s*-\s*|\s+)led\b", "acute", "led"),
        (r"\b(?:midwifery|midwife)(?:\s*-\s*|\s+)led\b", "maternity", "led"),
        # A consultation with a clinician is an appointment, not the public's say: "face
        # to face GP consultations", "a telephone consultation with my doctor" (round 12:
        # none was decision-making in two real sets). "A face-to-face consultation in
        # every borough" and "the online consultation hub" are the public's, so the
        # clinician or the phone has to be named, and the exercise's own words follow.
        (
            r"\b(?:gp|doctor'?s?|nurse|medical|e-|video|telephone|phone)"
            r"(?:\s+(?:online|video|telephone|phone))?\s*consultation(s?)\b"
            r"(?!\s+(?:hub|exercise|event|period|process|document|meeting|response|paper|survey))",
            r"appointment\1",
            "consultation",
        ),
        (r"\bconsultation\s+rooms?\b", "clinic room", "consultation"),
        # Hired advisers, not senior doctors: "KPMG and other management consultants",
        # "an independent consultant's report" (round 19: two letters read as clinical
        # leadership at 0.98 and 0.99). Their money stays: the lexicon's "management
        # consultant*" and "consultants' fees" still match what this writes.
        (
            r"\b(management|independent|external|outside|expensive|"
            r"kpmg|mckinsey|pwc|deloitte|capita|accountancy)(?:'s)?\s+consultants?\b(?:'s\b|')?",
            r"\1 consultancy",
            "consultant",
        ),
        # An idiom, not a board: "staff across the board are working hard".
        (r"\bacross\s+the\s+board\b", "throughout", "board"),
    )
)
# Who is quoted is not what is raised (docs/themes.md, convention 23). News reports and
# minutes name a speaker by role before or after the words: "GP leaders in the area said
# it was appalling", "Dr X, chair of the LMC's GP committee, told the BBC that ...",
# '"It will cost lives," said Ann Y, GMB regional officer.' The role's words (chair,
# leader, committee, the union's name) read as clinical leadership, jobs or
# decision-making when they are only a byline. A speaker named by a role is cut to
# "they" before the reporting verb, or cut after it; a speaker with no role ("GPs said
# they were never asked", "The BMA said ...") is left alone, since who speaks can be
# the point (convention 19). Round 11 of docs/data-card.md has the figures.
_REPORTING = re.compile(
    r"\b(?:said|says|told|added|warned|claimed|argued|explained|commented|stated|"
    r"reiterated|urged|insisted|responded|described|believes|pointed out)\b",
    re.IGNORECASE,
)
_ROLE = re.compile(
    r"\b(?:chairs?|chairman|chairwoman|chairperson|chief executive|chief officer|director|"
    r"secretary|spokes(?:man|woman|person)|officer|leaders?|president|negotiator|deputy|"
    r"head|manager|councillor|cllr|mp|minister|organiser|founder|member|campaigner|"
    r"convenor|representative|rep)\b",
    re.IGNORECASE,
)
# normalise() has folded curled quotes to plain ones before this runs (_TYPOGRAPHY).
_SPEAKER_BEFORE_ENDS = ".!?\n\":;"  # a speaker before the verb starts after one of these
_SPEAKER_AFTER_ENDS = ".!?\n\""
_SPEAKER_WORDS = 20  # a longer run before "said" is a sentence, not a byline
# A byline names someone; a run with a verb or a clause word in it says something
# ("the practice manager admitted it had been difficult to recruit, but said ...",
# "a councillor has said he ...") and is kept whole.
_CLAUSE = re.compile(
    r"\b(?:is|are|was|were|be|been|has|have|had|will|would|can|could|should|may|might|"
    r"must|shall|do|does|did|not|it|he|she|we|they|i|you|that|which|who|because|but|if|"
    r"when|asked|admitted|agreed)\b",
    re.IGNORECASE,
)

# "Our councillor said nothing for months": what the role-holder did is the point.
_NOT_SPEECH = re.compile(
    r"\s+(?:nothing|little|no|so|yes|otherwise|something|anything|one thing)\b", re.IGNORECASE
)


def _is_byline(span: str) -> bool:
    return (
        0 < len(span.split()) <= _SPEAKER_WORDS
        and _ROLE.search(span) is not None
        and _CLAUSE.search(span) is None
    )


def _char_before(text: str, i: int) -> str:
    """The last non-space character of text[:i], or "" (no copy of the prefix)."""
    i -= 1
    while i >= 0 and text[i].isspace():
        i -= 1
    return text[i] if i >= 0 else ""


def _after_quoted_words(text: str, i: int) -> bool:
    """True when text[:i] ends with a comma or a closing quote, the place of a byline.

    A single quote closes quoted words only after their punctuation (",' said ...", as
    British papers print it); after a letter it is an apostrophe ("the nurses' ...").
    """
    before = _char_before(text, i)
    if before != "'":
        return before in (",", '"')
    return _char_before(text, text.rfind("'", 0, i)) in (",", ".", "!", "?")


def strip_attributions(text: str) -> str:
    """Cut speakers named by their role from reported speech (see _REPORTING above).

    Reads quotes as normalise() leaves them: plain, curled ones folded first."""
    if _REPORTING.search(text) is None:
        return text
    out: list[str] = []
    done = 0  # text[:done] is in out
    for verb in _REPORTING.finditer(text):
        if verb.start() < done:
            continue
        # Before the verb: a sentence that opens with the speaker, "GP leaders said".
        start = max(text.rfind(c, done, verb.start()) for c in _SPEAKER_BEFORE_ENDS)
        opener = text[start] if start >= 0 else ""
        after_quote = opener == '"' and _char_before(text, start) in (".", "!", "?", ",")
        if (start < 0 and done == 0) or opener in ".!?\n" or after_quote:
            span = text[start + 1 : verb.start()]
            if _is_byline(span) and not _NOT_SPEECH.match(text, verb.end()):
                out.append(text[done : start + 1] + " they ")
                done = verb.start()
                continue
        # After the verb, following a quote or comma: '"...," said Ann Y, GMB officer.'
        if _after_quoted_words(text, verb.start()):
            ends = [i for i in (text.find(c, verb.end()) for c in _SPEAKER_AFTER_ENDS) if i >= 0]
            end = min(ends, default=len(text))
            at_sentence_end = end == len(text) or text[end] in ".!?\n"
            if at_sentence_end and _is_byline(text[verb.end() : end]):
                out.append(text[done : verb.end()])
                done = end
    out.append(text[done:])
    return "".join(out)


# Typographic quotes folded to the plain ones the corpus is written with. Phones and
# word processors curl apostrophes ("doctors’ surgery", "don’t"); the corpus has none,
# so a curled word missed every pattern and lexicon phrase written with "'" and read as
# a different word to the character n-grams. Two real sets of round 12 had a curled
# apostrophe in 362 of 572 comments (docs/data-card.md).
_TYPOGRAPHY = str.maketrans(
    {"\u2018": "'", "\u2019": "'", "\u201b": "'", "\u02bc": "'", "\u2032": "'",
     "\u201c": '"', "\u201d": '"', "\u201e": '"', "\u201f": '"', "\u2033": '"'}
)
_EMAIL = re.compile(r"\b[\w.+-]+@[\w-]+(?:\.[\w-]+)+\b")
_URL = re.compile(r"\b(?:https?://|www\.)\S+", re.IGNORECASE)
_SPACES = re.compile(r"[ \t\u00a0]+")
_BLANKS = re.compile(r"\n{3,}")


def _header_block_end(lines: list[str], i: int) -> int:
    """The index after the mail header lines (From:, Sent:, Date:, To:, Cc:, Subject:)
    that start at lines[i], blank lines before them included."""
    j = i
    while j < len(lines) and not lines[j].strip():
        j += 1
    start = j
    while j < len(lines) and _HEADER_ANY.match(lines[j]):
        j += 1
    return j if j > start else i


def strip_quoted(text: str) -> str:
    """Remove quoted earlier messages: '>' lines, 'On … wrote:' and Outlook headers onward.

    A forwarded message is kept (it is often the feedback itself: "my neighbour has no
    email, her message is below"); its marker line and its header block, names and
    addresses with them, are dropped, whether or not the sender wrote a note above it.
    """
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    kept: list[str] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        nxt = lines[i + 1] if i + 1 < len(lines) else ""
        if _ORIGINAL.match(line):
            break
        if _ON_WROTE.match(line) or (
            line.lstrip().lower().startswith("on ") and _ON_WROTE.match(line + " " + nxt)
        ):
            break
        if _FORWARDED.match(line):
            i = _header_block_end(lines, i + 1)
            continue
        block = _header_block_end(lines, i + 1) if _RULE.match(line) else i
        if block > i and _HEADER_FROM.match(lines[i + 1]):
            if not any(_FORWARD_SUBJECT.match(h) for h in lines[i + 1 : block]):
                break  # an Outlook reply's quote
            i = block  # an Outlook forward
            continue
        header = (
            _HEADER_FROM.match(line) and any(_HEADER_NEXT.match(n) for n in lines[i + 1 : i + 4])
        ) or (  # "Sent: ... / From: ..." (some clients put the date first)
            _HEADER_NEXT.match(line) and any(_HEADER_FROM.match(n) for n in lines[i + 1 : i + 4])
        )
        if header:
            end = _header_block_end(lines, i)
            forward = any(_FORWARD_SUBJECT.match(h) for h in lines[i:end])
            if forward or not any(k.strip() for k in kept):
                # A memo's own "To: / From:" lines above the letter, or a forward's.
                i = end
                continue
            break
        if _ATTRIBUTION.match(line):
            break
        if not line.lstrip().startswith(">"):
            kept.append(line)
        i += 1
    return "\n".join(kept)


def strip_signature(text: str) -> str:
    """Remove the sign-off and everything after it, phone footers and disclaimers.

    A sign-off is only cut when some of the message remains above it.
    """
    lines = text.split("\n")
    cut = len(lines)
    for i, line in enumerate(lines):
        has_body = any(s.strip() for s in lines[:i])
        if _SIG_DASH.match(line) or _MOBILE_FOOTER.match(line) or _DISCLAIMER.match(line):
            cut = i
            break
        if has_body and _SIGN_OFF.match(line):
            cut = i
            break
    body = "\n".join(lines[:cut]).rstrip()
    return _TRAILING_SIGN_OFF.sub("", body)


# A subject or reference line above the letter that names its topic and raises nothing
# ("Re: Ward 9 consultation", "(reply to consultation ref NV/2024/031)").
_SUBJECT_LINE = re.compile(
    r"^\s*(?:(?:re|ref|subject|fwd?|topic)\s*:[^\n]{0,100}"
    r"|\((?:re|ref|reply|response|our ref|your ref)\b[^)\n]{0,80}\)"
    # a title in capitals: "ELM VALE PATIENT FORUM - CONSULTATION RESPONSE"
    r"|(?-i:[A-Z0-9][A-Z0-9&',/()\u2013\u2014:-]*(?: [A-Z0-9&',/()\u2013\u2014:-]+){1,11}))\s*$",
    re.IGNORECASE,
)


_GREETING_WORDS = 4  # a longer greeting line must also raise nothing
_EMOTICON = re.compile(r"\s*[:;]-?[()DPp]+\s*$")


def _strip_greeting(text: str) -> str:
    """Drop the greeting, subject and address lines above a message, all of them in
    one go ("Dear Ms X,\n\nRe: the listening exercise"), while something is left."""
    lines = text.split("\n")
    cut = 0
    for i, line in enumerate(lines):
        if not line.strip():
            continue
        plain = _EMOTICON.sub(",", line)  # "Hi engage team :)"
        subject = _SUBJECT_LINE.match(plain) and not letter.raises(plain)
        greeting = _GREETING.match(plain) and (
            len(plain.split()) <= _GREETING_WORDS or not letter.raises(plain)
        )  # "Dear Cllr X and fellow members of the Health Scrutiny Committee,"
        if not (greeting or subject):
            break
        cut = i + 1
    rest = "\n".join(lines[cut:])
    return rest if cut and rest.strip() else text


def _strip_courtesies(text: str) -> str:
    """Drop an inline greeting at the start and courtesy sentences at the end."""
    stripped = _INLINE_GREETING.sub("", text, count=1)
    if stripped.strip():
        text = stripped
    for _ in range(3):  # "Thank you for your time. I look forward to your reply."
        body = text.rstrip()
        cut = _strip_courtesy_sentence(body)
        if cut == body or not cut.strip():
            break
        text = cut
    return text


def _strip_courtesy_sentence(body: str) -> str:
    """*body* without its last sentence if that is a short courtesy with no theme in it."""
    from engage.classify.lexicon import theme_phrases

    last = _LAST_SENTENCE.search(body)
    if last is None:
        return body
    if last.start() == 0:
        # One sentence, perhaps run on into its courtesy without a full stop:
        # "what about mental health Thank you for reading my comments."
        run_on = _RUN_ON_COURTESY.search(body)
        if run_on is None:
            return body
        start, sentence = run_on.start(), body[run_on.start() :]
    else:
        start, sentence = last.start(), last.group(1)
    courtesy = _CLOSING_SENTENCE.fullmatch(body[start:]) or (
        len(sentence.split()) <= 16 and _COURTESY.search(sentence)
    )
    if not courtesy or theme_phrases(sentence):
        return body
    return body[:start]


def _shorten_names(text: str) -> str:
    """Every rewrite of _NAMES, in order, run only on texts holding one of its words."""
    folded = text.casefold()
    for pattern, short, words in _NAMES:
        if any(word in folded for word in words):
            text, changed = pattern.subn(short, text)
            if changed:  # a later pattern may match what this one wrote
                folded = text.casefold()
    return text


def normalise(text: str | None) -> str:
    """Return the sender's own words from a feedback message, whitespace tidied."""
    if not text:
        return ""
    if not text.isascii():  # most texts: a C-speed check, no per-character mapping
        text = text.translate(_TYPOGRAPHY)
    text = strip_quoted(text)
    text = letter.strip_boilerplate(strip_signature(text))
    for _ in range(3):  # "Dear Dr Ahmed, Dear colleagues," or "Hi,\n\nDear team,"
        before = text
        text = letter.strip_opening(letter.strip_preamble(_strip_greeting(text)))
        text = _strip_courtesies(letter.strip_housekeeping(letter.strip_postscript(text)))
        text = strip_signature(text).strip()  # a sign-off the closing lines stood above
        if text == before.strip():
            break
    text = _shorten_names(text)
    text = strip_attributions(text)
    text = _URL.sub(" ", text)
    text = _EMAIL.sub(" ", text)
    text = _SPACES.sub(" ", text)
    text = "\n".join(line.strip() for line in text.split("\n"))
    return _BLANKS.sub("\n\n", text).strip()
