"""Moved to :mod:`zoo.families.decoders.llava` (kept so that imports written against it keep working)."""

from zoo.families.decoders.llava import *  # noqa: F401,F403
from zoo.families.decoders.llava import (  # noqa: F401
    SUPPORTED_TRANSFORMERS, TESTED_TRANSFORMERS, LlavaAdapter, LlavaNextAdapter, check_transformers_version,
)
