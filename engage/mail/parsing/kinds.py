"""What kind of mail a message is: genuine, a bounce, an automatic reply, bulk, our own."""

from __future__ import annotations

import re
from email.message import Message

from engage.mail.parsing.headers import _header, _raw_header

_AUTO_SUBJECT = re.compile(
    r"^\s*(out of (the )?office|automatic reply|auto(matic)?[- ]?reply|auto:|"
    r"autoreply|away from (the )?office|on leave)",
    re.IGNORECASE,
)
# A bounce written as plain text by an old MTA: only with a MAILER-DAEMON sender.
_BOUNCE_SUBJECT = re.compile(
    r"^\s*(undeliver(ed|able)|delivery (status notification|failure|has failed)|"
    r"mail delivery (failed|failure|system)|returned mail|failure notice|"
    r"non[- ]?delivery|delivery notification)",
    re.IGNORECASE,
)


def _kind(
    message: Message,
    sender: str,
    subject: str,
    own: frozenset[str],
    present: frozenset[str] | None = None,
) -> tuple[str, str]:
    """(kind, why): by the message's structure and headers, never by its sender's name
    alone (a person may write from postmaster@)."""
    if sender and sender in own:
        return "own", "sent from this platform's own address"
    content_type = message.get_content_type()
    if content_type == "multipart/report":
        report = (message.get_param("report-type") or "").lower()
        if report == "disposition-notification":
            return "auto_reply", "a read receipt (multipart/report)"
        return "bounce", f"a delivery report (multipart/report; report-type={report or '?'})"
    if content_type in ("message/delivery-status", "message/disposition-notification"):
        return "bounce", f"a delivery report ({content_type})"
    if _header(message, "X-Failed-Recipients", present):
        return "bounce", "a bounce (it has an X-Failed-Recipients header)"
    auto = _header(message, "Auto-Submitted", present).lower()
    # RFC 3834: any value but "no" (parameters and comments aside) marks automatic mail.
    if auto and re.split(r"[;(\s]", auto, maxsplit=1)[0] != "no":
        return "auto_reply", f"an automatic reply (Auto-Submitted: {auto[:40]})"
    for name in ("X-Autoreply", "X-Autorespond"):
        if _header(message, name, present):
            return "auto_reply", f"an automatic reply (it has an {name} header)"
    suppress = _header(message, "X-Auto-Response-Suppress", present).lower()
    if "oof" in suppress or suppress == "all":
        return "auto_reply", f"an automatic reply (X-Auto-Response-Suppress: {suppress[:40]})"
    if _AUTO_SUBJECT.search(subject):
        return "auto_reply", "an automatic reply (its subject says so)"
    if present is None or "return-path" in present:
        return_path = _raw_header(message, "Return-Path")
        if return_path is not None and return_path.strip() in ("<>", ""):
            return (
                "bounce",
                "sent with an empty return path (Return-Path: <>), as only bounces "
                "and automatic replies are",
            )
    if sender.partition("@")[0] == "mailer-daemon" and _BOUNCE_SUBJECT.search(subject):
        return "bounce", "a bounce (from MAILER-DAEMON, with a delivery-failure subject)"
    if (
        _header(message, "Precedence", present).lower() in {"bulk", "junk", "list"}
        or _header(message, "List-Id", present)
        or _header(message, "List-Unsubscribe", present)
    ):
        return "bulk", "mailing-list or bulk mail"
    return "genuine", ""
