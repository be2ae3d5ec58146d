"""Poll an IMAP folder for feedback sent to the public address.

A message is marked \\Seen only after its item (or its rejection) is committed, and
progress is kept per (account, folder, UIDVALIDITY): when the server renumbers the
folder, reading starts again from the first UID and Message-IDs stop duplicates.
"""

from __future__ import annotations

import contextlib
import imaplib
import logging
import re
import ssl
from dataclasses import dataclass

from flask import current_app
from sqlalchemy import select

from engage import claiming
from engage.extensions import db
from engage.feedback.models import Channel
from engage.mail import inbound
from engage.mail.models import ImapState

log = logging.getLogger(__name__)
_UIDVALIDITY = re.compile(rb"UIDVALIDITY (\d+)")


class ImapNotConfigured(RuntimeError):
    """IMAP_HOST, IMAP_USER or IMAP_PASSWORD is not set."""


@dataclass(frozen=True)
class ImapSettings:
    host: str
    port: int
    user: str
    password: str
    folder: str
    use_ssl: bool

    @classmethod
    def from_config(cls) -> ImapSettings:
        config = current_app.config
        if not (config.get("IMAP_HOST") and config.get("IMAP_USER")):
            raise ImapNotConfigured("Set IMAP_HOST, IMAP_USER and IMAP_PASSWORD to fetch mail")
        return cls(
            host=config["IMAP_HOST"],
            port=config["IMAP_PORT"],
            user=config["IMAP_USER"],
            password=config.get("IMAP_PASSWORD") or "",
            folder=config.get("IMAP_FOLDER") or "INBOX",
            use_ssl=config.get("IMAP_USE_SSL", True),
        )


def _connect(settings: ImapSettings) -> imaplib.IMAP4:
    if settings.use_ssl:
        client: imaplib.IMAP4 = imaplib.IMAP4_SSL(
            settings.host, settings.port, ssl_context=ssl.create_default_context(), timeout=60
        )
    else:
        client = imaplib.IMAP4(settings.host, settings.port, timeout=60)
    client.login(settings.user, settings.password)
    return client


def _state(settings: ImapSettings, uidvalidity: int) -> ImapState:
    account = f"{settings.user}@{settings.host}:{settings.port}"
    state = db.session.scalar(
        select(ImapState).where(
            ImapState.account == account,
            ImapState.folder == settings.folder,
            ImapState.uidvalidity == uidvalidity,
        )
    )
    if state is None:
        state = ImapState(
            account=account, folder=settings.folder, uidvalidity=uidvalidity, last_uid=0
        )
        db.session.add(state)
        # Kept here: the folder's state row is stored before any message is read.
        db.session.commit()
    return state


def fetch(settings: ImapSettings | None = None, *, limit: int = 500) -> inbound.Summary:
    """Import unseen messages from the folder; returns the counts.

    One process at a time reads a folder (engage.claiming.only_one, for every worker on
    the database): another that finds it being read returns at once with nothing
    counted, and the next poll reads on from where the first got to. Message-IDs are
    unique in the table besides, so a message is never stored twice whatever happens.
    """
    settings = settings or ImapSettings.from_config()
    name = f"imap:{settings.user}@{settings.host}:{settings.port}/{settings.folder}"
    with claiming.only_one(name) as mine:
        if not mine:
            log.info("another process is reading %s; this poll leaves it to that one", name)
            return inbound.Summary()
        return _fetch(settings, limit)


def _fetch(settings: ImapSettings, limit: int) -> inbound.Summary:
    summary = inbound.Summary()
    client = _connect(settings)
    try:
        status, _ = client.select(_quote(settings.folder))
        if status != "OK":
            raise imaplib.IMAP4.error(f"cannot open folder {settings.folder!r}")
        uidvalidity = _uidvalidity(client, settings.folder)
        state = _state(settings, uidvalidity)
        status, data = client.uid("SEARCH", None, "UNSEEN", "UID", f"{state.last_uid + 1}:*")
        uids = sorted(int(u) for u in (data[0] or b"").split() if int(u) > state.last_uid)
        for uid in uids[:limit]:
            status, parts = client.uid("FETCH", str(uid), "(BODY.PEEK[])")
            raw = next((p[1] for p in parts if isinstance(p, tuple)), None)
            if status != "OK" or raw is None:
                summary.add(inbound.Outcome(inbound.REJECTED, reason="fetch failed"))
                continue
            summary.add(
                inbound.ingest(raw, channel=Channel.EMAIL, source=f"imap:{settings.folder}/{uid}")
            )
            # The item is committed (or the rejection counted): now mark it read.
            client.uid("STORE", str(uid), "+FLAGS", "(\\Seen)")
            state.last_uid = uid
            # Kept here: each message is committed before the next is fetched, so the folder's
            # last UID never runs ahead of what is stored.
            db.session.commit()
    finally:
        with contextlib.suppress(imaplib.IMAP4.error, OSError):
            client.logout()
    return summary


def _uidvalidity(client: imaplib.IMAP4, folder: str) -> int:
    """The folder's UIDVALIDITY: from the SELECT response, else by asking with STATUS."""
    _, values = client.response("UIDVALIDITY")
    for value in values or []:
        if value:
            return int(value)
    _, data = client.status(_quote(folder), "(UIDVALIDITY)")
    match = _UIDVALIDITY.search(b" ".join(d for d in data if isinstance(d, bytes)))
    if match is None:
        raise imaplib.IMAP4.error("the server did not report UIDVALIDITY")
    return int(match.group(1))


def _quote(folder: str) -> str:
    return '"' + folder.replace("\\", "\\\\").replace('"', '\\"') + '"'
