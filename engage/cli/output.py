"""What the commands print: one JSON object on a line, for --json."""

from __future__ import annotations

import json

import click


def echo_json(data) -> None:
    """``data`` as one line of JSON on stdout."""
    click.echo(json.dumps(data, sort_keys=False))
