"""Moved to :mod:`zoo.families.decoders.probes` (kept so that imports written against it keep working)."""

from zoo.families.decoders.probes import *  # noqa: F401,F403
