"""The application factory uvicorn's worker processes import (`aggregator serve --workers N`).

With several workers uvicorn starts each process afresh and builds the app by import
path, so the config folder is handed down in the environment (CONFIG_DIR_ENV, set by the
serve command). Each worker opens its own `App` (its own database connections) and
closes it when it shuts down.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from fastapi import FastAPI

from aggregator.api.app import create_app
from aggregator.app import App

CONFIG_DIR_ENV = "AGGREGATOR_SERVE_CONFIG_DIR"
FACTORY = "aggregator.api.factory:app_from_env"
LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def app_from_env() -> FastAPI:
    # A spawned worker starts without the parent's logging set-up (uvicorn's is off).
    logging.basicConfig(level=logging.INFO, format=LOG_FORMAT)
    return create_app(App.open(Path(os.environ[CONFIG_DIR_ENV]), os.environ), owns_app=True)
