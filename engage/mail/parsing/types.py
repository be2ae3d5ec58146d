"""What parsing returns and refuses: the limits, the parsed message, the rejection."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True)
class ParseLimits:
    """What a message may not exceed; checked before the body is used."""

    max_bytes: int = 10 * 1024 * 1024
    max_parts: int = 100
    max_depth: int = 10


class RejectedMessage(Exception):
    """The message cannot be accepted; ``reason`` says why, worded for an email."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class ParsedMessage:
    """The parts of an email that become a feedback item."""

    message_id: str
    sender_email: str
    sender_name: str
    to_addresses: tuple[str, ...]
    subject: str
    text: str
    full_text: str
    attachment_names: tuple[str, ...] = field(default_factory=tuple)
    attachment_count: int = 0
    kind: str = "genuine"  # genuine | auto_reply | bounce | bulk | own
    date: datetime | None = None
    # Why the message is not "genuine", in words (the header or structure that said so).
    kind_reason: str = ""
    # What was left unread because the message is over a MIME limit, else None.
    truncated: str | None = None
    # Earlier identities of a message without a Message-ID (the fingerprint an older
    # release stored), looked up too so that mail imported before stays a duplicate.
    legacy_ids: tuple[str, ...] = ()
