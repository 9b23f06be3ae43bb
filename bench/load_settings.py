"""The project's settings with one addition for bench/load.py: the ceiling endpoint's URL.
Everything else (middleware, authentication, database, broker) is what production serves."""

from marketplace.settings import *  # noqa: F403

ROOT_URLCONF = "bench.load_urls"
