"""Training-time augmentation: the same feedback in the wrappers real mail puts round it.

Real feedback arrives inside greetings, closings, signatures, phone footers and quoted
earlier messages. ``normalise()`` strips what it can recognise, but not every form, and
a model that has only seen bare sentences learns that "Dear", "look forward" or a
council's name in a signature mean something. :func:`wrap` puts an item inside such
a wrapper with its labels unchanged, so the model learns that they mean nothing.

Also used by the metamorphic tests (tests/classify/test_robustness.py), with the same
wrappers, so what training teaches is what the tests check.
"""

from __future__ import annotations

import random
from collections.abc import Sequence

import numpy as np

__all__ = [
    "CLOSINGS",
    "FOOTERS",
    "GREETINGS",
    "KINDS",
    "SIGNATURES",
    "augment",
    "quote_reply",
    "wrap",
]

GREETINGS: tuple[str, ...] = (
    "Dear engagement team,",
    "Dear Sir or Madam,",
    "Dear Sir/Madam",
    "Hi,",
    "Hello,",
    "Hello there,",
    "Good morning,",
    "Good afternoon all,",
    "Dear Councillor Patel,",
    "Dear Ms Okafor,",
    "To whom it may concern,",
    "Hi team,",
    "Dear all,",
    "Dear Mr Davies,",
    "Re: the proposals",
)

CLOSINGS: tuple[str, ...] = (
    "I look forward to your response.",
    "I look forward to hearing from you.",
    "Thank you for your time.",
    "Thank you for reading this.",
    "Thanks in advance for your reply.",
    "Please acknowledge receipt of this email.",
    "I hope you will take this into account.",
    "Please let me know you have received this.",
    "Many thanks for considering my views.",
    "I would be grateful for a reply.",
)

SIGNATURES: tuple[str, ...] = (
    "Kind regards,\nJane Holloway",
    "Best wishes\nTom",
    "Regards,\nMr A. Kumar\n14 Station Road",
    "Yours sincerely,\nMargaret O'Neill (Mrs)",
    "Yours faithfully,\nD. Whitfield",
    "Many thanks,\nPriya",
    "Thanks\nSam\n07700 900123",
    "Cheers,\nDave",
    "With best wishes,\nCllr Ruth Adeyemi\nWard councillor",
    "Regards\nK. Brennan\nResident, Eastfield",
    "--\nAlex Morgan\nVolunteer, patient participation group",
)

FOOTERS: tuple[str, ...] = (
    "Sent from my iPhone",
    "Sent from my Samsung Galaxy smartphone.",
    "Get Outlook for Android",
    "Sent from Mail for Windows",
    "Sent from Yahoo Mail on Android",
)

_QUOTED: tuple[str, ...] = (
    "Thank you for contacting us. Your feedback has been logged and will be considered.",
    "Please find attached the engagement document and the survey link.",
    "We are holding a drop-in session at the library next Tuesday from 2pm.",
    "Thank you for your email. The consultation closes on 30 September.",
)


def quote_reply(text: str, rng: random.Random) -> str:
    """*text* as a reply above a quoted earlier message from the engagement team."""
    quoted = rng.choice(_QUOTED)
    day = rng.choice(("Mon", "Tue", "Wed", "Thu", "Fri"))
    when = f"{day}, {rng.randint(1, 28)} Mar 2021 at 09:{rng.randint(10, 59)}"
    header = f"On {when}, Engagement Team <engage@nhs.example> wrote:"
    return f"{text}\n\n{header}\n> {quoted}"


def wrap(text: str, kind: str, rng: random.Random) -> str:
    """*text* inside one kind of wrapper: greeting, closing, signature, footer, quote, or all."""
    if kind == "greeting":
        sep = rng.choice((" ", "\n", "\n\n"))
        return f"{rng.choice(GREETINGS)}{sep}{text}"
    if kind == "closing":
        return f"{text}{rng.choice((' ', chr(10)))}{rng.choice(CLOSINGS)}"
    if kind == "signature":
        return f"{text}\n\n{rng.choice(SIGNATURES)}"
    if kind == "footer":
        return f"{text}\n\n{rng.choice(FOOTERS)}"
    if kind == "quote":
        return quote_reply(text, rng)
    if kind == "all":
        body = f"{rng.choice(GREETINGS)}\n\n{text}\n\n{rng.choice(CLOSINGS)}"
        return f"{body}\n\n{rng.choice(SIGNATURES)}\n\n{rng.choice(FOOTERS)}"
    raise ValueError(f"unknown wrapper {kind!r}")


# No typing slips: a mistyped word in a training copy would enter the model's word list,
# where the speller (spelling.py) would then take it for a real word.
KINDS: tuple[str, ...] = ("greeting", "closing", "signature", "footer", "quote", "all")


def augment(
    texts: Sequence[str], Y: np.ndarray, copies: int = 1, seed: int = 0
) -> tuple[list[str], np.ndarray]:
    """The items plus *copies* wrapped copies of each (labels unchanged), reproducibly."""
    if copies <= 0:
        return list(texts), np.asarray(Y)
    rng = random.Random(seed)  # noqa: S311 - reproducible data, not secrets
    out = list(texts)
    for _ in range(copies):
        out.extend(wrap(t, rng.choice(KINDS), rng) for t in texts)
    return out, np.concatenate([np.asarray(Y)] * (copies + 1), axis=0)
