"""Moved to :mod:`zoo.families.decoders.runtime` (kept so that imports written against it keep working)."""

from zoo.families.decoders.runtime import *  # noqa: F401,F403
from zoo.families.decoders.runtime import (  # noqa: F401
    DecodeContext, DecodeEvent, DecodeSelection, DecoderRuntime, LlavaRuntime, LlmContext, LlmEvent, PruneSelection,
    VisionContext, VisionSelection,
)
