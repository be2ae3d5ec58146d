"""The baseline: a bare Flask app with one route, served by the same gunicorn settings.

    gunicorn bench.bare:app

Its throughput is what Flask, gunicorn and the load generator cost on this machine
with no database, templates or extensions; every page is reported as a ratio to it.
"""

from __future__ import annotations

from flask import Flask

app = Flask(__name__)

PAGE = (
    "<!doctype html><html lang=en><head><meta charset=utf-8><title>Bare</title></head>"
    "<body><h1>Hello</h1><p>A bare Flask route for the benchmark's baseline.</p></body></html>"
)


@app.get("/")
def index() -> str:
    return PAGE
