"""Words that name the same worry in different ways, mapped to one shared token.

Short feedback about one worry often shares no word at all: "redundancies" and "lose
their jobs", "deficit" and "overspend". Each line below is one idea from the labelling
guide's list of what a theme covers (THEMES.md) or from the concerns in the source
papers' tables; a text that matches it gets the idea's token added to its words, so two
texts naming the idea in different words have that token in common.

The list is explainable and editable: one regular expression per idea, nothing learnt.
"""

from __future__ import annotations

import re

_IDEAS: dict[str, str] = {
    # Money
    "xfairshare": r"fair share|our share|allocation|ring ?fenc|redistribut|divert|"
    r"(?:taken|moved|spent) (?:away|elsewhere|in other)|other boroughs?|pooled?|one pot|"
    r"central pot|held centrally|keep .{0,20}local",
    "xdeficit": r"deficit|debts?\b|overspen|in the red|shortfall|bail(?:ing)? out|"
    r"balanced? (?:the|its|our) books|surplus|financial recovery|special measures",
    "xreorgcost": r"consultan|cost of (?:the )?(?:merger|reorgani|restructur|change)|"
    r"reorgani[sz]ation costs?|waste of (?:public )?money|rebrand|logos?|interim manager|"
    r"transition (?:budget|costs?)|advisers|expensive reports?",
    "xcuts": r"savings? targets?|cost[- ]cutting|cutting costs|efficienc|austerity|"
    r"cuts? (?:to|in) (?:the |our )?(?:budget|funding)|save money|financial squeeze|"
    r"cost reductions?",
    "xprivate": r"privati|private (?:sector|compan|firm|provider|health)|outsourc|tender|"
    r"shareholders?|profits?\b|american",
    # Decision-making
    "xlocalvoice": r"local voice|speak for|far away|further away|remote|distant|"
    r"decisions? .{0,30}(?:locally|local level|central)|centrali[sz]|lose (?:our )?influence|"
    r"outvoted|one small voice|shut out|local (?:people|communities) will have no",
    "xprocess": r"consultation (?:period|process)|deadline|extend|extension|too short|"
    r"weeks is not|box[- ]ticking|done deal|already (?:been )?(?:made|decided|agreed)|"
    r"advertised|publici[sz]ed|heard of it|summer holidays?|public meetings?|questionnaire",
    "xaccountable": r"accountab|transparen|in public|behind closed doors|in private|"
    r"minutes|papers|scrutiny|constitution|terms of reference|oversight|vote them out|"
    r"unelected",
    "xplain": r"jargon|acronym|plain english|easy read|translat|large print|languages?|"
    r"confusing|baffling|understand|explain|technical|summary",
    # Clinical leadership
    "xgpvoice": r"gps?'? (?:voice|say|influence|seats?)|member practices|local (?:gps|doctors)|"
    r"family doctors|doctors in smaller|diluted|clinical chair",
    "xmanagers": r"managers?|management[- ]led|bureaucrat|administrator|accountants?|"
    r"finance directors?|executives?|officials|rubber stamp|takeover",
    "xgptime": r"away from (?:patients|surger)|time (?:away|with patients)|meetings?|"
    r"workload|locums?|backfill|out of the surgery|committees",
    "xpcn": r"\bpcns?\b|primary care networks?|networks? (?:of practices|level)|"
    r"clinical directors?",
    "xnurses": r"nurs(?:e|es|ing)\b|pharmacists?|therapists?|physiotherap|allied health|"
    r"midwi|health visitors?|consultants? (?:and|as well)|secondary care doctor",
    # Services
    "xgpaccess": r"appointments?|get through|8 ?am|eight o.clock|book(?:ing)?|"
    r"see (?:a|my|the|their) (?:own )?(?:gp|doctor)|face to face|on the phone",
    "xclosure": r"clos(?:e|ing|ure)|downgrad|a ?& ?e|accident and emergency|"
    r"emergency department|maternity|beds?\b|wards?\b|walk[- ]in centre",
    "xmental": r"mental (?:health|illness)|talking therap|camhs|psycholog|crisis|"
    r"depression|anxiety|eating disorder|dementia",
    "xlevelling": r"postcode lottery|level(?:ling)? down|harmonis|aligned|one size fits all|"
    r"lowest (?:common|level)|eligibility|criteria|ivf|policies",
    "xtravel": r"travel|further away|bus(?:es)?\b|journey|public transport|\bdrive\b|"
    r"don.t drive|car\b|parking|close to home|closer to home",
    # Jobs
    "xredundancy": r"redundan|job loss|lose (?:my|their|our)? ?jobs?|"
    r"posts? (?:deleted|will go|at risk)|jobs? (?:at risk|losses|cuts)|made redundant|"
    r"cutting (?:management )?posts",
    "xmorale": r"morale|demorali|stress|anxious|uncertain|exhausted|wellbeing|"
    r"undervalued|sick leave",
    "xknowledge": r"local knowledge|experience|expertise|skilled|institutional memory|"
    r"relationships|long serving|know the (?:local|area)",
    "xterms": r"terms and conditions|\btupe\b|pay bands?|pensions?|contracts of staff|"
    r"relocat|headquarters|office|commute|flexible working|job descriptions|grades",
    "xrecruit": r"recruit|retain|retention|vacanc|shortages?|agency staff|locums?|"
    r"training places|attract|not enough (?:gps|nurses|staff)",
}
_COMPILED = [(token, re.compile(pattern)) for token, pattern in _IDEAS.items()]


def ideas(text: str) -> list[str]:
    """The idea tokens whose expression occurs in ``text``, in the list's order."""
    text = text.lower()  # the patterns are in small letters: cheaper than IGNORECASE
    return [token for token, pattern in _COMPILED if pattern.search(text)]
