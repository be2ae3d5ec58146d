"""Read messages from mbox files, Maildir folders and .eml files, one at a time.

The mbox reader streams: it never builds a table of contents or holds more than the
current message, so a mailbox of any size imports in flat memory. Each message comes
with its source, which import-mail prints for a message it did not import: "mbox:PATH#N"
for the Nth message of an mbox (counting from 1), "maildir:FILE", "eml:FILE", or
"file:FILE" for any other single file.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

_FROM = b"From "


def _is_maildir(path: Path) -> bool:
    return path.is_dir() and (path / "cur").is_dir() and (path / "new").is_dir()


def _unescape(line: bytes) -> bytes:
    # mboxrd: ">From ", ">>From " … lose one ">" each.
    stripped = line.lstrip(b">")
    if stripped.startswith(_FROM) and len(stripped) < len(line):
        return line[1:]
    return line


def iter_mbox(path: Path) -> Iterator[tuple[str, bytes]]:
    """Yield each message of an mbox file, streaming it line by line."""
    number = 1
    lines: list[bytes] = []
    seen_separator = False
    previous_blank = True
    with path.open("rb") as handle:
        for line in handle:
            if line.startswith(_FROM) and previous_blank:
                if seen_separator and lines:
                    yield f"mbox:{path}#{number}", _finish(lines)
                    number += 1
                lines = []
                seen_separator = True
                previous_blank = False
                continue
            if seen_separator:
                lines.append(_unescape(line))
            previous_blank = line in (b"\n", b"\r\n")
    if seen_separator and lines:
        yield f"mbox:{path}#{number}", _finish(lines)


def _finish(lines: list[bytes]) -> bytes:
    # The blank line before the next "From " belongs to the mbox format, not the message.
    if lines and lines[-1] in (b"\n", b"\r\n"):
        lines = lines[:-1]
    return b"".join(lines)


def _read(path: Path, max_bytes: int | None) -> bytes:
    """A file's bytes; past ``max_bytes`` only one byte more, enough for the parser to
    reject it as too large without holding a file of any size in memory."""
    if max_bytes is None:
        return path.read_bytes()
    with path.open("rb") as handle:
        return handle.read(max_bytes + 1)


def iter_maildir(path: Path, max_bytes: int | None = None) -> Iterator[tuple[str, bytes]]:
    """Yield each message of a Maildir (new/ then cur/), in a stable order."""
    for sub in ("new", "cur"):
        for entry in sorted((path / sub).iterdir()):
            if entry.is_file() and not entry.name.startswith("."):
                yield f"maildir:{entry}", _read(entry, max_bytes)


def iter_messages(
    path: str | os.PathLike, *, max_bytes: int | None = None
) -> Iterator[tuple[str, bytes]]:
    """Yield (source, raw bytes) for an mbox, a Maildir, an .eml file or a folder of them.

    A file that is not an mbox (it does not start with "From ") is read as one message,
    whatever its name: if it is not an email (an Outlook .msg, a compressed file), the
    parser rejects it with the reason. Raises FileNotFoundError for a missing path and
    ValueError for a folder that is neither a Maildir nor holds .eml files.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path} does not exist")
    if _is_maildir(path):
        return iter_maildir(path, max_bytes)
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.suffix.lower() == ".eml" and p.is_file())
        if not files:
            raise ValueError(f"{path} is neither a Maildir nor a folder of .eml files")
        return ((f"eml:{p}", _read(p, max_bytes)) for p in files)
    if path.suffix.lower() == ".eml":
        return iter([(f"eml:{path}", _read(path, max_bytes))])
    with path.open("rb") as handle:
        first = handle.readline(len(_FROM))
    if first.startswith(_FROM):
        return iter_mbox(path)
    return iter([(f"file:{path}", _read(path, max_bytes))])


def count_messages(path: str | os.PathLike) -> int:
    """How many messages iter_messages() will yield, counted cheaply (for progress bars)."""
    path = Path(path)
    if _is_maildir(path):
        return sum(1 for sub in ("new", "cur") for p in (path / sub).iterdir() if p.is_file())
    if path.is_dir():
        return sum(1 for p in path.iterdir() if p.suffix.lower() == ".eml")
    if path.suffix.lower() == ".eml":
        return 1
    with path.open("rb") as handle:
        if not handle.readline(len(_FROM)).startswith(_FROM):
            return 1
    count = 0
    previous_blank = True
    with path.open("rb") as handle:
        for line in handle:
            if line.startswith(_FROM) and previous_blank:
                count += 1
            previous_blank = line in (b"\n", b"\r\n")
    return count
