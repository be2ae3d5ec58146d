"""The parts of a letter round what it says, found so that normalise() can drop them.

text.py strips what mail clients add (quoted replies, sign-offs, phone footers). This
module finds what writers and organisations put round their point: legal notices and
charity lines below it, a pleasantry or an introduction above it ("I'm the branch
secretary and I'm responding on behalf of our members"), housekeeping after it ("please
confirm receipt", "sorry it's so long"). The guide counts only what a message raises
(docs/themes.md, "Emails" and convention 23), and a model that reads "UNISON" in a
signature or "the LMC" in an introduction as a theme changes its tags when nothing
was raised.

Every rule is positional and conservative: only the first or last sentence or paragraph
of a text can go, never the only one, and never so that only a name is left. An end
paragraph is judged whole: an opening must start by introducing and a closing must
speak of the letter, and no sentence in either may raise anything (a question, a
negative, a judgement, a change to a service, a demand), once the turns of courtesy
("not for the trust", "don't hesitate") are set aside. The rules were written from
email wrappers written for the project by people who saw none of the code, each step
checked on sets nobody had read (docs/data-card.md, "Robustness" and round 17). Plain
functions only: no state, nothing in a saved model.
"""

from __future__ import annotations

import re
from collections.abc import Callable

__all__ = [
    "raises",
    "strip_boilerplate",
    "strip_housekeeping",
    "strip_opening",
    "strip_postscript",
    "strip_preamble",
]

# What mail systems and organisations add below a message: legal notices, charity and
# company lines, virus-scan stamps, out-of-office and working-hours notes, "external
# email" warnings, newsletter and social-media lines. Each is a phrase such text holds
# and a letter of feedback seldom does.
_BOILERPLATE = re.compile(
    r"\b(?:(?:this|the) (?:e-?mail|message)\b.{0,80}\b(?:confidential|privileged)"
    r"|information (?:contained )?in (?:this|the) (?:e-?mail|message)"
    r"|intended (?:solely )?(?:only )?(?:for (?:the )?)?(?:recipient|addressee|use of)"
    r"|received (?:this|it) (?:e-?mail |message )?in error"
    r"|registered (?:charity|office|company|address|in england)"
    r"|(?:charity|company|charitable incorporated organisation) (?:no\b|number|reg)"
    r"|company limited by guarantee|community interest company"
    r"|unsubscribe|manage your (?:preferences|subscription)|you are receiving this"
    r"|virus(?:-free|es)|anti-?virus|(?:checked|scanned) (?:for|by) (?:viruses|\w+ anti)"
    r"|privacy (?:notice|policy)|\bgdpr|freedom of information act|data protection act"
    r"|may (?:be )?monitor(?:ed)?\b|monitor (?:e-?mail|traffic)|records management"
    r"|out of (?:the )?office|on annual leave|limited access to (?:e-?mail|my e-?mail)"
    r"|my working (?:days|hours|pattern|week)|\bworks? (?:flexibly|part[- ]time)"
    r"|working days? (?:for|to) (?:a )?(?:reply|respond|response)"
    r"|independent (?:voluntary |charitable |community )?(?:group|organisation|charity)"
    r"|not (?:part of|affiliated (?:to|with)) (?:the )?(?:nhs|council)|independent of the"
    r"|run (?:entirely |wholly )?by volunteers|cyber ?crime|bank details|fraudulent"
    r"|for urgent (?:matters|enquiries|medical)|out of hours(?:,)? (?:call|ring|dial|phone)"
    r"|subject to disclosure|(?:may|might|could) be disclosed"
    r"|do not use this e-?mail(?: address)? for|(?:e-?mails|messages) will be (?:answered"
    r"|dealt with|responded to|read)|office is (?:staffed|open|closed)|for anything urgent"
    r"|flexible hours"
    r"|(?:reception|switchboard|office)(?: tel(?:ephone)?| phone)?:? \d{3,5}[ \d]{5,}"
    r"|meets on the (?:first|second|third|fourth|last) \w+ of (?:every|each|the) month"
    r"|work(?:ing)? flexibly|outside (?:of )?(?:your|my|normal|usual) (?:own )?working hours"
    r"|(?:mailbox|inbox) is not|not monitored"
    r"|external (?:e-?mail|sender)|originated (?:from )?outside"
    r"|do not click (?:on )?(?:any )?links|unless you recognise the sender"
    r"|follow us on|like us on facebook|find us on|join (?:online|today|the union|us online)"
    r"|(?:views|opinions)(?: or (?:views|opinions))? expressed"
    r"|views (?:are )?(?:my|entirely my) own"
    r"|not (?:necessarily )?those of|not necessarily (?:represent|reflect)"
    r"|secure e-?mail|non-secure|(?:meant|intended) only for|to whom (?:it is|they are) addressed"
    r"|registered with the (?:care quality commission|cqc)|cqc[- ]registered"
    r"|please note my new (?:e-?mail|address)|my e-?mail address (?:has )?changed"
    r"|copyright|all rights reserved|disability confident|living wage employer"
    r"|proud to be an?\b|^\W*confidential\b|patient[- ]identifiable"
    r"|this e-?mail (?:was|has been) (?:dictated|sent|scanned|checked)|transcription errors"
    r"|print(?:ing)? (?:this|if|only)|need to print|before (?:you )?print(?:ing)?"
    r"|save (?:paper|trees)|think green|consider the environment)",
    re.IGNORECASE,
)
# Each alternative of _BOILERPLATE holds one of these; a paragraph holding none is not
# searched (the search costs about as much as the rest of normalise() on a long text).
_BOILERPLATE_HINTS = (
    "confidential", "privileged", "information contained", "information in", "intended",
    "in error", "registered", "charit", "company", "subscri", "manage your", "receiving this",
    "virus", "scanned", "checked", "privacy", "gdpr", "information act", "protection act",
    "monitor", "records", "office", "annual leave", "limited access", "working", "part-time",
    "independent", "not part of", "affiliated", "volunteers", "cyber", "bank details", "fraud",
    "urgent", "out of hours", "flexible", "reception", "switchboard", "disclos",
    "this email", "this e-mail", "will be", "office is",
    "month",
    "part time", "flexibl", "mailbox", "inbox", "external", "outside", "click", "recognise",
    "follow us", "like us", "find us", "join", "views", "those of", "my new", "address",
    "copyright", "rights reserved", "opinions", "necessarily", "secure e", "non-secure",
    "only for", "to whom", "quality commission", "cqc", "disability", "living wage", "proud to be",
    "identifiable", "dictated", "mail was", "mail has", "transcription", "print", "paper",
    "trees", "green", "environment",
)  # fmt: skip
# A line alone that closes a letter in words text.py's sign-off list does not hold
# ("Respectfully yours,", "Warmest,"): a few words and a comma, then a signature block
# of a few short lines.
_LOOSE_SIGN_OFF = re.compile(
    r"^\s*(?!(?:however|also|and|but|so|then|firstly|secondly|finally|yes|no|well)\b)"
    r"[A-Z][\w'-]*(?:\s+[\w'-]+){0,3}\s*,\s*$",
    re.IGNORECASE,
)
# The signature block's first line is a name: "Dr A. Mensah", "Cllr Ruth Adeyemi", "Pat x",
# "Nan (Maureen Hollis)", "Louise Grainger and family".
_SIGNED_NAME = re.compile(
    r"^\s*(?:(?:dr|mr|mrs|ms|miss|mx|cllr|councillor|prof|rev|revd)\.?\s+)?"
    r"[A-Z][\w.'-]*(?:\s+(?:[A-Z][\w.'-]*|and|&|family|x{1,3}|\([^)\n]{1,40}\))){0,5}\s*$"
)
_SIGNATURE_LINES = 8
_SIGNATURE_LINE_WORDS = 10

# A first sentence that greets or introduces rather than says anything ("I hope this
# finds you well", "sorry to bother you", "my name is ...", "further to my email of 3
# May,"). It goes only when it is short, turns on nothing and names no theme.
_OPENING = re.compile(
    r"^\s*(?:and )?(?:(?:i )?hope (?:this|you|all|everyone|you're|you are)\b[^.!?\n]{0,40}"
    r"\b(?:well|good|ok|okay|great|nice|safe|weekend|break|holiday)\b"
    r"|(?:i'?m |i am )?sorry to (?:bother|trouble) you\b[^.!?\n]{0,30}"
    r"|(?:just )?(?:a )?quick (?:one|note|email|message|line)\b[^.!?\n]{0,30}"
    r"|(?:it'?s |it was )?(?:good|nice|lovely|great) to (?:hear from|see|meet) you\b[^.!?\n]{0,30}"
    r"|happy (?:new year|christmas|easter|monday|friday)\b[^.!?\n]{0,30}"
    r"|(?:i )?(?:hope|trust) you (?:had|have had|are having|enjoyed) an? (?:good|nice|lovely"
    r"|great|restful|pleasant|relaxing) (?:\w+ )?(?:easter|christmas|break|holiday|weekend"
    r"|summer|new year)\b[^.!?\n]{0,30}"
    r"|(?:many )?thank(?:s| you) for (?:agreeing|extending|allowing|accepting)\b[^.!?\n]{0,50}"
    r"|thank(?:s| you) for (?:the|this|giving (?:me|us) the) (?:chance|opportunity)\b"
    r"[^.!?\n]{0,50}"
    r"|my name is\b[^.!?\n]{0,60}"
    r"|(?:many )?thank(?:s| you) for (?:your|the) (?:letter|e-?mail|message|reply|response"
    r"|invitation|leaflet|newsletter|update)\b[^.!?\n]{0,50}"
    r"|(?:further to|following (?:on )?(?:from|up)|as promised|as (?:discussed|mentioned|agreed))"
    r"\b[^.!?\n]{0,50}"
    r"|(?:apologies|sorry) for (?:the |my |this )?(?:late|delay|delayed|slow)\b[^.!?\n]{0,40}"
    r"|i(?:'m| am)? (?:writing|emailing|contacting you|getting in touch|write|email)"
    r" (?:to you )?(?:on behalf of|in my capacity|in response to|with regard to|following)\b"
    r"[^.!?\n]{0,60}"
    r"|(?:re|ref|subject)\s*:[^\n]{0,40}\b(?:response|submission|comments|feedback"
    r"|your (?:letter|e-?mail))\b[^\n]{0,20}"
    r"|i (?:got|received|saw|read|had) your (?:leaflet|letter|e-?mail|survey|post|flyer)\b"
    r"[^.!?\n]{0,50}"
    r")(?:[.!]+\s*|\n\s*)"
    # lead-ins that end at a comma, unless the sentence turns there
    r"|^\s*(?:and )?(?:(?:many )?thank(?:s| you) for (?:your|the) (?:letter|e-?mail|message"
    r"|reply|response|invitation|update)|further to|following (?:on )?(?:from|up)|as promised"
    r"|as (?:discussed|mentioned|agreed))\b[^.!?,\n]{0,50},"
    r"(?!\s*(?:but|however|yet|though)\b)\s*",
    re.IGNORECASE,
)
_OPENING_WORDS = 14  # a longer first sentence is saying something
# A sentence that turns ("thanks for your reply, but ...") is saying something.
_TURN = re.compile(r"\b(?:but|however|though|although|yet|except)\b", re.IGNORECASE)

# A last sentence about the message rather than its subject: apologies for its length
# or spelling, asking for it to be passed on, logged, copied or answered, offers to
# help, wishes of luck. It goes even when it names the consultation, as it raises
# nothing about it.
_HOUSEKEEPING = re.compile(
    r"\s*(?:"
    r"(?:sorry|apologies)\b[^.!?\n]{0,20}\b(?:long|length|ramble|rambling|typos?|spelling"
    r"|mistakes|wrong (?:person|department|address)|not very good with)\b[^.!?\n]{0,60}"
    r"|(?:sorry|apologies) if\b[^.!?\n]{0,60}"
    r"|(?:please |(?:please )?could you |can you )?(?:pass|forward)"
    r"(?: this| it| my (?:e-?mail|comments|views))? (?:on|to)\b[^.!?\n]{0,60}"
    r"|(?:please |(?:please )?do |(?:please )?could you |can you )?"
    r"(?:keep me|let me know|get back to me"
    r"|send me)\b[^.!?\n]{0,90}"
    r"|(?:i |we )?(?:hope|trust) (?:this|i) (?:is|am|have|has) (?:the right|reached|come to|got)"
    r"\b[^.!?\n]{0,60}"
    r"|(?:please )?(?:add|put) me (?:on|to) (?:your|the) (?:mailing|e-?mail)\b[^.!?\n]{0,40}"
    r"|i would (?:appreciate|like) (?:being|to be) (?:added|kept)\b[^.!?\n]{0,60}"
    r"|(?:please )?treat (?:this|my (?:e-?mail|letter)) as\b[^.!?\n]{0,60}"
    r"|(?:i )?hope (?:someone|somebody|that|this|it) (?:actually )?(?:reads?|makes sense|helps)"
    r"\b[^.!?\n]{0,40}"
    r"|(?:best of|good) luck\b[^.!?\n]{0,50}"
    r"|(?:i )?(?:really )?appreciate (?:your|you) (?:help|time|taking)\b[^.!?\n]{0,50}"
    r"|that'?s (?:all|it|everything) (?:from me|from us|for now|from (?:the|our) [^.!?\n]{1,40})"
    r"\b[^.!?\n]{0,20}"
    r"|(?:thank(?:s| you)|cheers) for (?:listening|reading|your time)\b[^.!?\n]{0,40}"
    r"|(?:i )?(?:trust|hope) (?:this|that|you) will (?:be )?(?:taken|give|consider|take)\b"
    r"[^.!?\n]{0,50}"
    r"|(?:i am |i'?m |we are |we'?re |i would be |we would be )?happy to be contacted\b"
    r"[^.!?\n]{0,60}"
    r"|please do not (?:share|pass on|publish) my\b[^.!?\n]{0,40}"
    # the message itself, handled: logged, recorded, circulated, copied, weighed
    r"|[^.!?\n]{0,60}\b(?:this|my|our|these) (?:e-?mail|response|letter|submission|message"
    r"|feedback|comments|views|points)\b[^.!?\n]{0,40}\b(?:logged|record\w*|includ\w*"
    r"|circulat\w*|forward\w*|shar\w*|publish\w*|confirm\w*|acknowledg\w*|receiv\w*|attach\w*"
    r"|taken into account|weight|consider\w*|noted|passed on)\b[^.!?\n]{0,40}"
    r"|[^.!?\n]{0,40}\b(?:copying in|copied in|cc'?d|cc'?ing|at your disposal"
    r"|for (?:any )?clarification|(?:sight|a copy|copies) of|mailing list|rant over|god bless)\b"
    r"[^.!?\n]{0,60}"
    r"|(?:i'?d |i would |i am |i'?m |we would |we'?d |we are |we'?re )?(?:be )?"
    r"(?:very |more than |only too |really )?(?:glad|happy|willing|pleased)"
    r" to (?:attend|share|help|discuss|provide|meet|talk|come)\b"
    r"[^.!?\n]{0,60}"
    r"|(?:i'?d |i would )?prefer (?:my|that my) (?:name|details)\b[^.!?\n]{0,60}"
    r"|thank(?:s| you)(?: again| very much)?"
    r")[.!?]*\s*$",
    re.IGNORECASE,
)

# An opening paragraph that introduces the writer or the letter: it speaks of the
# writing (_PREAMBLE) or of who writes (_IDENTITY) ...
_PREAMBLE = re.compile(
    r"\b(?:write|writing|wrote|submission|reply on behalf"
    r"|(?:my|our|this|a|the|formal) response (?:to|from|of|on)|response (?:from|of) the"
    r"|(?:i'?m |i am |we are |we're )?respond(?:ing)? (?:to|on behalf|as|in)"
    r"|(?:this|my|our) (?:e-?mail|letter|message|comments|views|thoughts|points)"
    r"|on behalf of|in (?:my|a personal) capacity|please (?:accept|see|find)|attach\w*|set out"
    r"|(?:set out|see|find|comments?|views|points) below|drop you a line|write in|typing this"
    r"|my say|email(?:ing)? (?:you|here|in)"
    r"|pass (?:on )?(?:their|her|his|our|my) (?:views|comments)"
    r"|put(?:ting)? (?:our|my) (?:main )?points"
    r"|(?:have|give|share|offer|register) (?:my|our|some|their) (?:views|say|reflections"
    r"|comments)|in (?:response|reply) to|repl(?:y|ying) to (?:your|the)|following (?:up|on)"
    r"|as (?:suggested|invited|requested|promised)|(?:saw|read|got|received) (?:your|the)"
    r" (?:notice|post|poster|advert|leaflet|letter|e-?mail|survey|booklet|questionnaire"
    r"|consultation|article|piece|story)"
    r"|(?:was|were) given (?:your|this)|(?:came|went) (?:along )?to (?:the|your|a) (?:drop-in"
    r"|meeting|session|event|roadshow|stall)|(?:told|showed) me (?:about|your)"
    r"|(?:typing|doing) this"
    r"|(?:send|sending) (?:this|it|you) in|so here i am|on my (?:phone|mobile|tablet)"
    r"|(?:sent|typ\w*|writ\w*) (?:this )?(?:from|on) (?:my|a) (?:phone|mobile|tablet)"
    r"|picked up (?:one of )?(?:your|the|a) (?:leaflet|booklet|survey|form|questionnaire)"
    r"|(?:been )?asked to (?:forward|send|submit|reply|respond|pass|write)"
    r"|answer(?:ing)? (?:to )?(?:your|the) (?:questionnaire|survey|letter|consultation)"
    r"|first language|excuse (?:any|my) (?:mistakes|spelling|english|typos)"
    r"|discussed (?:your|the) (?:consultation|letter|proposals|document|leaflet|survey)"
    r"|this is (?:the|our|my|a)\b[^.!?\n]{0,60}\b(?:response|submission|reply)"
    r"|(?:read|heard|learned|found out) about (?:this|it|(?:the|your) (?:consultation|survey"
    r"|engagement))|^\s*response to|here goes"
    r"|prepared with (?:input|help)|input from (?:our|my) (?:members|staff|volunteers|committee)"
    r"|(?:asked|invited) (?:me|us) to"
    r"|to (?:reply|respond)|(?:the|your|this) (?:engagement|consultation) (?:document\w*|pack"
    r"|letter|booklet|paper)|(?:comments|points|views) (?:that )?follow|what follows"
    r"|we represent\w*|repl(?:y|ying) (?:as|on behalf|for)|by way of introduction"
    r"|typed (?:this|it)(?: up| out)?|follow(?:ing)? up"
    r"|(?:joined|attended|came to|went to|was at) (?:the|your|a|an|one of (?:the|your))"
    r" (?:online |virtual |public |recent |last )?(?:drop-in|meeting|session|event|roadshow"
    r"|webinar|workshop)"
    r"|on (?:its|their|his|her) behalf|we act for|(?:been )?instructed (?:to|by)|prepared by"
    r"|discussed (?:this|the|your) (?:matter|item|issue|request)|agenda item"
    r"|suggested that (?:constituents|residents|people|we|i|members) (?:respond|reply|write"
    r"|contact|get in touch)"
    r"|(?:mentioned|passed on|shared|forwarded) (?:the|your|this) (?:consultation|survey|leaflet"
    r"|link|engagement|meeting|event|questionnaire))\b",
    re.IGNORECASE,
)
_IDENTITY = re.compile(
    r"^\s*(?:(?:and )?(?:i am|i'm|im|we are|we're) (?:a|an|the|one of|also|now|currently|\d+\b)"
    r"|i'm (?-i:[A-Z][a-z]+)(?=,)|my name(?: is|'s)|i (?:work|volunteer) (?:as|at|in|for|with)"
    r"|i live (?:in|on|at)|i run\b|i (?:have |'ve )?(?:lived|worked) (?:in|on|at|for|as)"
    r"|our (?:group|committee|branch|forum|association) (?:met|is|represents)"
    r"|i (?:care for|look after|act as|serve as|attended (?:as|the))"
    r"|(?:this is|it'?s|its) (?-i:[A-Z][a-z]+) (?:from|here|at|of)\b|this is (?-i:[A-Z][a-z]+)\b"
    r"|i (?:chair|lead|co-?ordinate|represent|organise|convene|manage)\b"
    r"|i am (?-i:[A-Z][a-z]+)\b|as (?:the )?(?-i:[A-Z])\w+ (?:of|to|for)\b"
    r"|i(?:'ve| have) been (?:a|an|the)\b|(?:a )?(?:local )?(?:resident|patient|carer) here\b"
    r"|(?:our|the|this) (?:[\w'&-]+ ){0,5}(?:group|charity|forum|association|committee"
    r"|organisation|branch|society|network|partnership|club|ppg)\b[^.!?\n]{0,60}"
    r"\b(?:meets|met|was (?:set up|formed|founded|established)|has been (?:meeting|running)"
    r"|represents|brings together|has (?:around|about|over|some) \d+|supports (?:older |younger"
    r" |young |local |disabled |unpaid )?(?:people|carers|families|residents|patients))"
    r"|(?-i:[A-Z])[\w'&-]*(?: (?:of |the |and |& )?(?-i:[A-Z])[\w'&-]*)+ (?:was (?:set up|formed"
    r"|founded|established)|has been (?:meeting|running)|brings together|represents)\b"
    r"|i (?:have been|was) (?:a|an|the|registered|born|brought up)"
    r"|i(?:'ve| have) been meaning to"
    r"|(?:my (?:wife|husband|partner|family) and i|we) have (?:lived|been)"
    r"|our members(?:, [^,]{1,40},)? (?:live|are|come|include|number)"
    r"|there are (?:currently |about |around |over |some )?\d+ (?:of us|members|volunteers)"
    r"|(?-i:[A-Z])[\w'&-]*(?: [\w'&-]+){0,4} is an? (?:[\w-]+ ){0,3}(?:group|charity|forum"
    r"|association|organisation|network|society|partnership|club|council)"
    r"|we are (?-i:[A-Z])[a-z]+|we have (?:currently |about |around |over |some |nearly )?\d+"
    r" (?:members|volunteers|residents|households))\b",
    re.IGNORECASE,
)
# ... or who writes by the office they hold or the group they write from, in the shapes
# round 19's outside openings took ("As branch secretary of ...", "Councillor Jo Bell,
# member for ...", "Sunday walking group here.", "This comes from the ... group", "The
# committee of ... would like to contribute", "I have chaired the PPG since 2013").
_ROLES = (
    r"(?:secretary|chair|chairman|chairwoman|chairperson|co-?chair|vice-?chair|clerk|manager"
    r"|officer|volunteer|representative|rep|editor|co-?ordinator|convenor|convener|treasurer"
    r"|trustee|director|head|headteacher|headmaster|headmistress|principal|councillor|cllr"
    r"|caseworker|organiser|organizer|president|governor|administrator|founder|warden|vicar"
    r"|imam|rabbi|minister|pastor|priest|steward|spokesperson|member|members|lead|leader)"
)
_INTRODUCER = re.compile(
    rf"^\s*(?:as (?:the |a |an |its |our |their |one of (?:the|our|its) )?(?:[\w'&-]+ ){{0,4}}"
    rf"{_ROLES}s?\b"
    rf"|(?:(?:county|borough|district|parish|town|city|ward|local|branch|deputy|vice|acting"
    rf"|honorary|hon|independent|elected) )*{_ROLES}\b(?!,? (?:i|we)\b)[^.!?\n]{{0,80}}?"
    # (at most twelve words left; each word must end at a non-word or the end, so a
    # long sentence fails at once instead of trying every split of every word)
    r"(?:,|\bhere\b|\bfor\b)(?=\W*(?:\w+(?:\W+|$)){0,12}$)"
    r"|(?:[\w'&-]+ ){1,10}here\s*(?:[;,.!:]|-|\u2014|$)"
    r"|(?:this|it)(?: e-?mail| message| note| letter| response)? (?:comes|is sent|is written"
    r"|is submitted|is made) (?:from|by|on behalf)\b"
    r"|(?:this|it) is (?:a |an |the )?(?:joint |short |quick |brief |formal |collective"
    r" |combined |shared |agreed )?(?:message|note|response|submission|reply|letter|e-?mail"
    r"|statement|contribution|view) (?:from|of|by|on behalf)\b"
    r"|(?:just )?(?:a |one )?(?:quick |short |brief )?(?:note|line|message|word|few words) from\b"
    r"|from (?:the|our|all|everyone|us)\b"
    r"|the following (?:submission|response|comments?|views|statement|points|reply|notes|text)"
    r" (?:is|are|was|were|has been|have been) (?:made|submitted|sent|written|agreed|prepared"
    r"|provided|put forward)\b"
    r"|the (?:text|comments?|views|points|notes|response|statement|submission) (?:below|that"
    r" follows?|which follows?)\b"
    r"|(?:the |our )?(?:[\w'&-]+ ){0,6}(?:committee|trustees|board|members|officers|executive)"
    r"(?: of [^.!?\n]{1,60})?"
    r" (?:(?:would like|wish|wishes|wanted|want) to (?:contribute|respond|comment|submit|send"
    r"|add|share|offer|make|pass)|(?:has|have)? ?asked (?:me|us)|agreed (?:the|this|our|these|a)"
    r" (?:response|following|text|submission|comments|views|statement|reply)|resolved (?:that"
    r" (?:i|we)|to (?:send|submit|respond|forward|reply))|(?:met|discussed|considered|looked at)"
    r" (?:the|this|your) (?:engagement|consultation|survey|questionnaire|document|documents"
    r"|material|materials|leaflet|booklet|pack)|met (?:on|last|together|jointly|recently))\b"
    r"|i (?:co-?chair|help (?:out with|out at|run|to run|with)|volunteer (?:with|at|for)"
    r"|belong to|sit on|serve on|coordinate|co-ordinate|edit)\b"
    r"|i(?:'m| am) (?:part|a member|one) of\b"
    r"|(?:me and my \w+|my \w+ and i|we)(?: both| all)? (?:go to|attend|belong to|meet at)\b"
    r"|[^.!?\n]{0,80}\bsubmits? (?:the following|this|these|our|its|their|the attached)\b"
    r"|i(?:'ve| have) (?:chaired|led|run|managed|coordinated|co-ordinated|organised|convened"
    r"|been (?:the )?[\w' -]{0,40}?(?:of|at|for|since))\b"
    rf"|i(?:'m| am) (?:the )?(?:[\w'&-]+ ){{0,3}}{_ROLES} (?:of|at|to|for|with|in)\b"
    r"|(?:our|the) [^.!?\n]{0,60}\b(?:group|committee|forum|association|society|club|network"
    r"|branch|council|panel|ppg|project|charity|circle|fellowship)\b[^.!?\n]{0,60}"
    r"\b(?:got chatting|got talking|talked|chatted|formed|set up|started)\b"
    r"|following (?:a|our|the|its|last \w+'s) (?:discussion|meeting|debate|consideration"
    r"|review)\b)",
    re.IGNORECASE,
)
# The exercise being answered and the meeting that answered it are not what a sentence
# of an introduction raises: "we saw the engagement on Facebook", "approved by the board
# of trustees", "we consulted our members", "the support worker told us about it".
_EXERCISE = re.compile(
    r"\b(?:the|this|your|our|that) (?:engagement|consultation|survey|questionnaire)\b"
    r"(?: (?:document\w*|material\w*|event\w*|pack|booklet|leaflet|session\w*|video|page"
    r"|lead|team|exercise|process|period|flyer))?"
    r"|\b(?:board of trustees|trustees|staff meeting|team meeting|(?:our|its|the) members"
    r"|support workers?)\b"
    r"|\bconsulted (?:our|its|the|all) (?:members|trustees|committee|residents|volunteers"
    r"|readers|congregation)\b",
    re.IGNORECASE,
)
# ... and holds nothing a concern is said with: a question, a negative, a judgement, a
# change to a service, a demand or a campaign (_RAISES). The words of the setting, a
# service, staff, money or a plan, may stand in an opening or a closing paragraph as
# the place a writer works or the thing they answer ("I am a ward sister at the
# hospital", "your letter about the proposals"), so they do not count.
_RAISES_WORDS = (
    r"should|must|need\w*|worr\w*|concern\w*|fear\w*|afraid|anger|angry|upset|disgust\w*"
    r"|shock\w*|object\w*|oppos\w*|against|clos(?:e|es|ed|ing|ure\w*)|cut|cuts|cutting"
    r"|lose|losing|loss|lost|wait\w*|cannot|not|no|never|nobody|nothing|why|problem\w*|risk\w*"
    r"|danger\w*|unsafe|worse|fail\w*|shortage\w*|short of|stretched|struggl\w*|scandal\w*"
    r"|disgrace\w*|bad|poor|terrible|awful|appall\w*|unfair|unacceptable|ridiculous|sham"
    r"|farce|shambles|mess|so-called|strongly|convinced|but|however|downgrad\w*|privati\w*"
    r"|scrap\w*|axe\w*|lack\w*|redundan\w*|take-?overs?|taken over|sell\w* off|sold off"
    r"|outsourc\w*|keep\w*|sav(?:e|ing)|protect\w*|only way"
    r"|reopen\w*|secure|shut|disappoint\w*|dismay\w*|frustrat\w*|regret\w*|outrag\w*"
    r"|alarm\w*|urgent\w*|deep\w*|listen\w*|ignor\w*|favour\w*|disagree\w*|suggest\w*"
    r"|urge\w*|demand\w*|insist\w*|vot(?:e|es|ed|ing)|protest\w*|campaign\w*|fight\w*"
    r"|petition\w*"
)
_RAISES = re.compile(rf"\?|n't\b|\b(?:{_RAISES_WORDS})\b", re.IGNORECASE)
# Negatives and wishes that are about the writing, not the subject: "writing in a
# personal capacity, not for the practice", "I'm not very good with computers", "my
# views should not be taken as the practice's", "I thought I'd drop you a line".
_ASIDE_TURNS = re.compile(
    r"(?:\bnot|n't)\s+(?:(?:sent |written |made |speaking |writing )?(?:on|in)"
    r" (?:behalf|my|our|an?\b)"
    r"|(?:being )?able to (?:attend|come|make|get)|for (?:the|my|our)\b|as (?:a|an|the)\b"
    r"|representing|speaking|writing|(?:very |that |too )?(?:good|great|clever) (?:with|at|on)"
    r"|(?:much of|really|always|often) |use (?:the |a )?(?:computer|internet|e-?mail|facebook)"
    r"|be (?:taken|read|seen) as|(?:get|got|make|made) (?:it|to) (?:to )?the (?:meeting|session)"
    r"|mind)"
    r"|\bthought (?:i'?d|i (?:would|ought|should|might|must))\b"
    r"|\b(?:hope|trust) (?:that'?s|this is|it'?s|you don'?t mind)\b[^.!?\n]{0,25}"
    r"|\b(?:wanted|wished|want|wish) to (?:send|write|add|let|have|reply|respond|e-?mail|pass"
    r"|put|share|drop|take part|be|give|answer|say|tell|comment)\b"
    r"|\b(?:complex|special|additional|learning|care|support|medical) needs\b"
    r"|\b(?:is|isn't|is not|'s not) my first language\b|\bkeep to (?:the|your)\b"
    r"|\bbut (?:without|not) (?:my|our) names?\b"
    r"|\bshould (?:you|it) (?:require|need|wish)\b|\bno(?:t)? later than\b|\bno longer\b"
    r"|\b(?:i )?hope (?:this|that|it|the above|these|you|all)\b[^.!?\n]{0,30}"
    r"\b(?:clear|helpful|helps|useful|sense|alright|all right|ok|okay|of use|assistance|well"
    r"|find|reads?|keeping|enjoy\w*|safe|warm|record|counted|included|accepted|do|suffice"
    r"|understandable|in order)\b"
    r"|\bfeel free\b|(?:\bnot|n't) hesitate\b"
    r"|\bi should (?:be grateful|add|say|mention|explain)\b|\bshould (?:you|any)\b"
    r"|\bnot (?:to )?(?:be )?(?:published|shared|named)\b"
    r"|\bnot (?:the )?(?:quickest|best|fastest)\b"
    r"|(?:\bcould|\bcan|\bdid|\bdo)(?:n't| not) (?:come|make|attend|catch|get|remember|fit)\b"
    r"|\bkeeping (?:well|warm|safe|cool)\b|\bmust (?:dash|go|fly|run)\b|\bi'?m afraid i\b"
    r"|\bwants? to (?:ring|call|contact|speak|talk|get in touch)\b"
    r"|\bbut (?:felt|will|i'?ll|my colleague|(?:does|do|did)(?:n't| not) use)\b"
    r"|\bhope the weather\b|\b(?:wanted|wished) to wait\b"
    r"|\bvoted (?:last \w+ |unanimously |on \w+ )?to (?:send|submit|forward|endorse|agree)\b"
    r"|\bwanted to get (?:their|the|our|everyone'?s) (?:agreement|approval|views|go-ahead)\b"
    r"|\bwanted to make sure (?:our|my|the|we|i)\b[^.!?\n]{0,20}\b(?:had|have|got|get)"
    r" (?:its|our|their|my|a) say\b"
    r"|\bbut (?:is|am|are|will be|would be) (?:happy|glad|available)\b"
    r"|\bkeep (?:the|my|our|these) (?:\w+ )?(?:hats|roles|views|things) (?:separate|apart)\b"
    r"|\bto agree (?:it|this|the response|our response)\b"
    r"|\b(?:effort|work|time) (?:you are |you're |you have )?(?:putting|put) into\b[^.!?\n]{0,30}"
    r"|\blet (?:me|us|the [\w' ]{1,30}) know when\b[^.!?\n]{0,60}\?"
    r"|\bbut (?:i'?m|i am|we'?re|we are) (?:happy|content|fine)\b"
    r"|\bit may concern\b|\brather my (?:name|address|details)\b[^.!?\n]{0,20}"
    r"|\bwould welcome (?:a|your|an?) (?:reply|response|answer)\b"
    r"|\bbut (?:we'?ve|i'?ve|we have|i have) (?:had|been)\b"
    r"|\b(?:should|will|'ll) hear from\b"
    r"|\bfelt it (?:was )?(?:important|right|best|necessary) to (?:set|put|give|explain|include"
    r"|write|respond)\b|\bshould be grateful\b"
    r"|\bshould (?:further|more|new|any) (?:information|evidence|details)\b"
    r"|\bsuggested (?:i|we|that i|that we) (?:send|write|contact|get in touch|respond|reply"
    r"|e-?mail|share|pass|take part|join in|fill in|come)\b"
    r"|\bwould welcome (?:the|an|any) (?:opportunity|chance|invitation)\b"
    r"|\b(?:for|thanks for|thank you for) listening\b|\blistening (?:event|session|exercise|tour)"
    r"|\bif (?:anything|any of (?:this|it)|something|any part)\b[^.!?\n]{0,20}"
    r"(?:is|was)(?:n't| not) clear\b|(?:does|did)(?:n't| not) come through\b"
    r"|\b(?:is|are)(?:n't| not) what (?:it|they) (?:was|were|used to be)\b"
    r"|\bif (?:needed|necessary|required|helpful|not)\b"
    r"|\b(?:pleased|happy|delighted|glad) to welcome you\b|\bkeep (?:this|it) (?:brief|short)\b"
    r"|\bkeep an eye out\b|\bbut (?:would|i'?d) prefer\b"
    r"|\b(?:always|all|everyone|everybody|new members|visitors|donations)(?: are| always)?"
    r" welcome\b"
    r"|\bif (?:you )?(?:need|want)\b|\bshould not be (?:taken|read|seen) as\b"
    r"|\bshould (?:submit|send|write|respond|reply|forward|pass)\b"
    r"|\bas (?:you |was |had been )?(?:suggested|requested|asked)\b"
    r"|\bthe close of\b|\bcampaign (?:group|committee|team)\b"
    r"|\bbut (?:i'?m |i am |i |we |we'?re |i'?ve |i have )?(?:writing|responding|replying|wanted"
    r"|thought|also|decided"
    r"|life)\b|\b(?:you|they) (?:wanted|want) to hear\b"
    r"|\bclos(?:es|ing)(?: date)?\b(?= (?:on|next|at|in|by|of|date)\b)"
    r"|\bclosing date\b|\bclose to the (?:deadline|closing)\b",
    re.IGNORECASE,
)


# The second and later words of a name ("Age Concern", "Poplar Close", "Save Our
# Surgery Campaign" keeps its "Save").
_NAME_TAIL = re.compile(r"\b([A-Z][\w'&-]*)(?:\s+(?:of |the |and |& )?[A-Z][\w'&-]*)+")


def raises(sentence: str) -> bool:
    """Whether *sentence* says something about its subject (_RAISES, _OPINION), once
    the negatives and wishes about the writing itself (_ASIDE_TURNS) and the tails of
    names (_NAME_TAIL) are set aside."""
    if not (_RAISES.search(sentence) or _OPINION.search(sentence)):
        return False  # setting words aside only ever remove a match, never make one
    plain = _NAME_TAIL.sub(r"\1", _ASIDE_TURNS.sub(" ", sentence))
    return bool(_RAISES.search(plain) or _OPINION.search(plain))


# Opinion words: an introduction holding one is already saying something.
_OPINION = re.compile(
    r"\b(?:welcome\w*|agree|agrees|agreeing|think|believe|feel|felt|hope|want|wants|wanted)\b",
    re.IGNORECASE,
)
# Round 18's phrases of a letter handled (shared, passed on, read out, reported back,
# not to be published), which both lists below hold.
_LETTER_HANDLED = (
    r"shared (?:the|this|your) (?:survey|link|leaflet|consultation|details|e-?mail)"
    r"|share (?:your|the) (?:reply|response|answer)|hear back|clarif\w*|report back"
    r"|read (?:it |this |your reply )?out|(?:further|more) comments (?:may|will|might) follow"
    r"|let (?:me|us|the [\w' ]{1,30}) know|not (?:be )?published|take care"
    r"|have a (?:good|nice|great|lovely) (?:weekend|day|evening|week)"
    r"|(?:this|it|these|my (?:comments|views|letter|e-?mail|response)) (?:could |can |would "
    r"|will |should |might )?(?:be )?passed to"
)
# A closing paragraph about the letter speaks of thanks, apologies, receipt, references,
# copies, contact details, offers to meet or help ...
_POSTSCRIPT = re.compile(
    r"\b(?:thank\w*|thanks|sorry|apolog\w*|excuse|confirm\w*|receipt|received|acknowledg\w*"
    r"|reference|logged|record(?:ed)?|copy|copies|copied|cc|forward\w*|attach\w*|contact"
    r"|ring me|call me|my (?:number|direct line|landline|mobile)|e-?mail(?:ing)? me"
    r"|(?:this|my|our|formal|organisational) (?:response|submission)"
    r"|(?:this|my|our) (?:e-?mail|letter|note|version)|happy to|willing to"
    r"|(?:i'?d|i would|we'?d|we would) be (?:glad|pleased) to|would welcome"
    r"|if (?:it|that|you) (?:would help|helps|need|want|would like)"
    r"|hope (?:this|it|that) (?:is|was|can|will|helps)|anonymis\w*|considered|format"
    r"|closing date|sign-off|in touch|on leave|colleague|sight of|any of (?:this|the above)"
    r"|(?:the|my) (?:slides|earlier|previous)|read(?:ing)? this|listening"
    r"|your (?:time|work|patience|help)|the above|below|regards|best wishes|good wishes"
    r"|passed (?:on|your)|write in|press send|by post|feel free|mailing list"
    r"|be contacted|on my return|away from (?:my|the) (?:desk|office)|give me a ring|in the office"
    r"|correspondence|mailbox|(?:not|n't) hesitate|any (?:further )?questions|if anything"
    r"|hope (?:this|it|that)(?:'s| is| was)? (?:helpful|useful|clear|of (?:use|help))"
    r"|copying|in order|thx"
    r"|questionnaire|online (?:form|survey)|in person|enclos\w*|quoted|anonymous\w*"
    r"|hear from|for (?:my|these|our|the) comments to be|cheers"
    r"|appreciate a (?:reply|response|acknowledgement)|reached the right"
    r"|if it would be (?:useful|helpful)"
    r"|would be (?:glad|pleased|happy|willing) to|makes sense|shout if"
    rf"|give (?:me|us) a shout|your reply|{_LETTER_HANDLED})\b",
    re.IGNORECASE,
)
# ... and names no theme unless it plainly handles the letter ("please confirm receipt
# of my consultation response").
_HANDLING = re.compile(
    r"\b(?:receipt|acknowledg\w*|reference number|copied in|copying in|cc|anonymis\w*"
    r"|my (?:number|direct line|landline|mobile)|ring me|call me|typing|spelling|excuse"
    r"|apolog\w*|sorry|thank\w*|thanks|cop(?:y|ies) of (?:this|my|our)|printed copy"
    r"|(?:sent|forwarded|copied) (?:it |this )?to|for (?:their|your) (?:information|records)"
    r"|(?:this|my|our) (?:e-?mail|letter|response|submission|comments)"
    r"|share (?:this|it|my|our)|mailing list|be contacted|contact me|get in touch"
    r"|(?:address|number|details) below|be reached|on leave|my colleague|in the office"
    r"|give me a ring|mailbox|correspondence|(?:can|will|could) (?:forward|send|share)"
    r"|appreciate|(?:best of|good) luck|wishing you|all the best|look(?:ing)? forward to hearing"
    r"|a copy|copying|look(?:ing)? forward to (?:meeting|seeing|speaking|talking|receiving|reading)"
    r"|(?:been )?received|logged|fill(?:ing)? in|enclos\w*|quoted|anonymous\w*|regards"
    r"|best wishes|in person|(?:glad|pleased|happy|willing) to (?:help|host|attend|meet|talk|come)"
    rf"|let them know|{_LETTER_HANDLED})\b",
    re.IGNORECASE,
)

_PARAGRAPH_BREAK = re.compile(r"\n\s*\n")
_COPY_LIST = re.compile(r"^\s*(?:cc|bcc|copy to|copies to|copied to)\s*:", re.IGNORECASE)
_SENTENCE = re.compile(r"[^.!?\n]+(?:[.!?]+|\n+|$)\s*")
# A full stop after an initial or a title does not end a sentence ("Cllr J. Mensah").
_ABBREVIATION = re.compile(
    r"(?:\b[A-Z]|\b(?:Dr|Mr|Mrs|Ms|Cllr|St|Rev|Revd|Prof|Sr|Jr|No|Ref|Tel|approx|etc))\.\s*$"
)


def _sentences(paragraph: str) -> list[str]:
    """The sentences of *paragraph* (_SENTENCE), joined again where one ended at an
    initial or a title."""
    out: list[str] = []
    for piece in _SENTENCE.findall(paragraph):
        if out and _ABBREVIATION.search(out[-1]):
            out[-1] += piece
        else:
            out.append(piece)
    return out


_END_PARAGRAPHS = 2  # at most this many paragraphs go from either end
_END_SENTENCES = 4  # an opening or closing paragraph of more sentences is a letter's body
_END_SENTENCE_WORDS = 45
# Words that greet; alone, "Morning" and the like greet only as the whole sentence.
_HELLO = r"(?:hello|hi|hiya|hey|bonjour|greetings|good (?:morning|afternoon|evening|day))"
_SALUTATION = re.compile(
    rf"^\s*(?:{_HELLO}|morning|afternoon|evening)\W*(?:all|everyone|there|team)?\W*$",
    re.IGNORECASE,
)
_PLAIN_WORD = re.compile(r"\b(?:[a-z]{2,}|[A-Z]{2,})\b")  # not a name's capital and lower


def _is_message(paras: list[str]) -> bool:
    """Whether *paras* still say something: not names alone (as "Joan Pereira, Clapton"
    left after her thanks)."""
    return bool(_PLAIN_WORD.search(" ".join(paras)))


def _paragraphs(text: str) -> list[str]:
    return _PARAGRAPH_BREAK.split(text)


def _is_boilerplate(paragraph: str) -> bool:
    folded = paragraph.casefold()
    return (
        any(hint in folded for hint in _BOILERPLATE_HINTS) and bool(_BOILERPLATE.search(paragraph))
    )


# An organisation's name and its motto, as mail systems put below a message: "Elm
# Valley Healthwatch - your voice on local care", "Northfield Forum: keeping older
# people connected", "Marsh Parish Council | serving three villages since 1894".
_TAGLINE = re.compile(
    r"^\s*[A-Z][\w'&.()-]*(?:\s+(?:of |the |and |& )?[A-Z][\w'&.()-]*){1,6}\s*"
    r"(?:[-\u2013\u2014|:~]|\bfor\b)\s+\S[^\n]{0,140}$"
)
_TAGLINE_LINES = 3
_RULE_LINE = re.compile(r"^\s*[_=*~-]{3,}\s*$")  # "________" above a mail footer


def _is_tagline(paragraph: str) -> bool:
    """A short paragraph whose first line is a name and a motto, with nothing raised."""
    lines = [x for x in paragraph.strip().split("\n") if x.strip() and not _RULE_LINE.match(x)]
    return (
        0 < len(lines) <= _TAGLINE_LINES
        and bool(_TAGLINE.match(lines[0]))
        and "?" not in paragraph
        and not raises(paragraph)
        and not re.search(r"\b(?:i|we|my|our)\b", paragraph, re.IGNORECASE)
    )


def strip_boilerplate(text: str) -> str:
    """Cut, from the second paragraph on, the first paragraph of mail boilerplate and all
    below it, and a last paragraph that is an organisation's tagline; then a loose
    sign-off line followed only by a short signature block."""
    if "\n" not in text:
        return text  # one line: no paragraph below the message, no signature block
    paras = _paragraphs(text)
    for i in range(1, len(paras)):
        if _is_boilerplate(paras[i]):
            paras = paras[:i]
            break
    if len(paras) > 1 and _is_tagline(paras[-1]):
        paras = paras[:-1]
    lines = "\n\n".join(paras).split("\n")
    for i in range(1, len(lines)):
        if not _LOOSE_SIGN_OFF.match(lines[i]) or not any(x.strip() for x in lines[:i]):
            continue
        block = [x for x in lines[i + 1 :] if x.strip()]
        if (
            0 < len(block) <= _SIGNATURE_LINES
            and _SIGNED_NAME.match(block[0])
            and all(len(x.split()) <= _SIGNATURE_LINE_WORDS for x in block)
        ):
            return "\n".join(lines[:i])
    return "\n".join(lines)


def strip_opening(text: str) -> str:
    """Drop a greeting-like first sentence (_OPENING) when more follows."""
    from engage.classify.lexicon import theme_phrases

    match = _OPENING.match(text)
    if (
        match
        and text[match.end() :].strip()
        and len(match.group(0).split()) <= _OPENING_WORDS
        and not _TURN.search(match.group(0))
        and not theme_phrases(match.group(0))
    ):
        return text[match.end() :]
    return text


def strip_housekeeping(text: str) -> str:
    """Drop up to three housekeeping sentences (_HOUSEKEEPING) from the end."""
    for _ in range(3):
        body = text.rstrip()
        core = body.rstrip(".!? \t\n")
        start = max(core.rfind("."), core.rfind("!"), core.rfind("?"), core.rfind("\n")) + 1
        if start == 0 or _HOUSEKEEPING.match(body, start) is None or _TURN.search(body, start):
            break  # one sentence only, or its last one says something or turns
        text = body[:start]
    return text


def _strip_end_paragraphs(text: str, *, first: bool, aside: Callable[[list[str]], bool]) -> str:
    """Drop the first (or last) paragraph, up to _END_PARAGRAPHS times, while another
    paragraph remains and its sentences, short and few, are *aside* taken together."""
    for _ in range(_END_PARAGRAPHS):
        paras = _paragraphs(text.strip())
        if len(paras) < 2:
            break
        sentences = _sentences(paras[0] if first else paras[-1])
        if (
            not sentences
            or len(sentences) > _END_SENTENCES
            or any(len(x.split()) > _END_SENTENCE_WORDS for x in sentences)
            or not aside(sentences)
            or not _is_message(paras[1:] if first else paras[:-1])
        ):
            break
        text = "\n\n".join(paras[1:] if first else paras[:-1])
    return text


_LEAD_HELLO = re.compile(
    rf"^\s*(?:{_HELLO}|as you (?:may |might )?know)\b[\s,.!\u2013\u2014-]*", re.IGNORECASE
)


def _introduces(sentence: str) -> bool:
    """A sentence that says who writes, or why, or greets (and raises nothing itself)."""
    sentence = _LEAD_HELLO.sub("", sentence)
    return bool(
        _PREAMBLE.search(sentence)
        or _IDENTITY.match(sentence)
        or _INTRODUCER.match(sentence)
        or _OPENING.match(sentence + "\n")
        or _HOUSEKEEPING.match(sentence)
    )


def _introduction(sentences: list[str]) -> bool:
    """An opening paragraph: its first sentence introduces, none raises anything, and
    the others name no theme unless they are about the letter (a carer's account of the
    care is the letter's matter, not its introduction)."""
    from engage.classify.lexicon import theme_phrases

    lead = [x for x in sentences if not _SALUTATION.match(x)][:1]  # past "Good morning."
    return (
        bool(lead)
        and bool(
            _introduces(lead[0]) or (_POSTSCRIPT.search(lead[0]) and _HANDLING.search(lead[0]))
        )
        and not any(raises(x) for x in sentences)
        and all(
            _introduces(x) or _POSTSCRIPT.search(x) or not theme_phrases(_EXERCISE.sub(" ", x))
            for x in sentences
            if x is not lead[0]
        )
    )


def strip_preamble(text: str) -> str:
    """Drop an opening paragraph that only introduces the writer or the letter, unless
    it does not start as an introduction and all that follows is a closing paragraph
    (which strip_postscript then drops): thanks above "I have copied this to my MP"
    are the message."""
    paras = _paragraphs(text.strip())
    if (
        len(paras) == 2
        and not _introduces(paras[0])
        and _postscript(_sentences(paras[1]))
    ):
        return text
    return _strip_end_paragraphs(text, first=True, aside=_introduction)


def _postscript(sentences: list[str]) -> bool:
    """A closing paragraph: one sentence at least is about the letter, none raises
    anything, and a theme is named only where the letter is plainly handled; or a list
    of those the letter is copied to ("cc: Cllr X (Chair, Health Scrutiny Committee)")."""
    from engage.classify.lexicon import theme_phrases

    if sentences and _COPY_LIST.match(sentences[0]):
        return not any(raises(x) for x in sentences)
    return (
        any(_POSTSCRIPT.search(x) for x in sentences)
        and not any(raises(x) for x in sentences)
        and all(_HANDLING.search(x) or _introduces(x) or not theme_phrases(x) for x in sentences)
    )


def strip_postscript(text: str) -> str:
    """Drop a closing paragraph about the letter itself (thanks, receipt, copies, help)."""
    return _strip_end_paragraphs(text, first=False, aside=_postscript)
