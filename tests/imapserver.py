"""A real IMAP server for tests: Debian's dovecot on a loopback port, in a temp folder."""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

DOVECOT = shutil.which("dovecot") or "/usr/sbin/dovecot"
PASSWORD = "secret"

_CONFIG = """
protocols = imap
listen = 127.0.0.1
base_dir = {root}/run
state_dir = {root}/state
log_path = {root}/dovecot.log
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
default_login_user = {login_user}
default_internal_user = {internal_user}
mail_location = maildir:{root}/mail/%u
first_valid_uid = 0
passdb {{
  driver = static
  args = password={password}
}}
userdb {{
  driver = static
  args = uid={mail_user} gid={mail_group} home={root}/home/%u
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
  chroot =
}}
service anvil {{
  chroot =
}}
"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Dovecot:
    """Start dovecot with its own config, state and maildirs; stop it and clean up."""

    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="engage-dovecot-", dir="/tmp"))
        self.port = _free_port()

    def start(self) -> Dovecot:
        self.root.chmod(0o755)
        if os.geteuid() == 0:
            login, internal, mail_user = "dovenull", "dovecot", "dovecot"
        else:
            login = internal = mail_user = pwd.getpwuid(os.geteuid()).pw_name
        for name in ("run", "state", "mail", "home"):
            (self.root / name).mkdir()
        for name in ("mail", "home"):
            shutil.chown(self.root / name, user=mail_user, group=mail_user)
        config = self.root / "dovecot.conf"
        config.write_text(
            _CONFIG.format(
                root=self.root,
                port=self.port,
                login_user=login,
                internal_user=internal,
                mail_user=mail_user,
                mail_group=mail_user,
                password=PASSWORD,
            )
        )
        # The daemon keeps inherited pipes open, so give it none (its log is a file).
        subprocess.run(
            [DOVECOT, "-c", str(config)],
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with socket.socket() as sock:
                if sock.connect_ex(("127.0.0.1", self.port)) == 0:
                    return self
            time.sleep(0.05)
        raise RuntimeError(f"dovecot did not start: {(self.root / 'dovecot.log').read_text()}")

    def stop(self) -> None:
        subprocess.run(
            [DOVECOT, "-c", str(self.root / "dovecot.conf"), "stop"], capture_output=True
        )
        time.sleep(0.2)
        shutil.rmtree(self.root, ignore_errors=True)
