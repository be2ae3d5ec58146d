"""WSGI entry point for gunicorn: ``gunicorn wsgi:app``."""

import sys

from engage import create_app
from engage.config import ConfigError

try:
    app = create_app()
except ConfigError as error:
    print(f"engage: configuration error: {error}", file=sys.stderr)
    sys.exit(2)
