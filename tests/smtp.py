"""A real SMTP server (aiosmtpd) for tests, collecting what it receives."""

from __future__ import annotations

import asyncio
import socket
import time
from email import message_from_bytes, policy
from email.message import EmailMessage

from aiosmtpd.controller import Controller


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Collector:
    """aiosmtpd handler that keeps every message it accepts."""

    def __init__(self, delay: float = 0.0):
        self.messages: list[EmailMessage] = []
        self.envelopes = []
        # Pause before answering MAIL FROM: a client killed then has claimed a message
        # but not handed it over, the point where a crash is most likely in real life.
        self.delay = delay
        self.mail_from_count = 0

    async def handle_MAIL(self, server, session, envelope, address, mail_options):  # noqa: N802
        self.mail_from_count += 1
        if self.delay:
            await asyncio.sleep(self.delay)
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd API)
        self.envelopes.append(envelope)
        self.messages.append(message_from_bytes(envelope.content, policy=policy.default))
        return "250 Message accepted for delivery"


class SMTPServer:
    """Start and stop an aiosmtpd server on a fixed loopback port."""

    def __init__(self, port: int | None = None, delay: float = 0.0):
        self.port = port or free_port()
        self.handler = Collector(delay)
        self.controller: Controller | None = None

    @property
    def messages(self) -> list[EmailMessage]:
        return self.handler.messages

    def start(self) -> SMTPServer:
        self.controller = Controller(self.handler, hostname="127.0.0.1", port=self.port)
        self.controller.start()
        return self

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None

    def wait_for_mail_from(self, count: int, timeout: float = 20.0) -> None:
        """Wait until the server is answering the ``count``-th MAIL FROM."""
        deadline = time.monotonic() + timeout
        while self.handler.mail_from_count < count and time.monotonic() < deadline:
            time.sleep(0.005)

    def wait_for(self, count: int, timeout: float = 10.0) -> list[EmailMessage]:
        deadline = time.monotonic() + timeout
        while len(self.messages) < count and time.monotonic() < deadline:
            time.sleep(0.05)
        return self.messages
