"""Moved to :mod:`zoo.families.decoders.sequence` (kept so that imports written against it keep working)."""

from zoo.families.decoders.sequence import *  # noqa: F401,F403
