"""WSGI entry point for gunicorn: ``gunicorn wsgi:app``."""

import gc
import sys

from engage import create_app
from engage.config import ConfigError

try:
    app = create_app()
except ConfigError as error:
    print(f"engage: configuration error: {error}", file=sys.stderr)
    sys.exit(2)

# What start-up made (modules, the app, its templates, the model) lives as long as the
# process: move it out of the cycle collector's sight. Otherwise each full collection
# walks all of it, ~100 ms in which none of the worker's threads answers (issue #9).
# Under gunicorn --preload the workers are forked after this and inherit it.
gc.freeze()
