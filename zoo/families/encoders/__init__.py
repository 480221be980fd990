"""Encoder families: one protocol (:mod:`.protocol`), one runtime (:mod:`.runtime`), thin adapters.

Adapters: :mod:`.timm_vit` (timm ``VisionTransformer``), :mod:`.hf_vision` (HF ViT/DeiT, CLIP and
SigLIP vision towers), :mod:`.hf_text` (BERT/RoBERTa/MiniLM-style text encoders), :mod:`.hf_audio`
(AST, the Whisper encoder). Which encoder method runs on which adapter, and why not where it does
not: :mod:`.support`. Mean pooling over reduced outputs: :mod:`.pooling`.

Importing this package imports no model library.
"""

#: the encoder adapters (names in ``zoo.families.ADAPTERS``); every encoder method declares these
#: families and says per model, through its signals, where it cannot run (:mod:`.support`)
ENCODER_FAMILIES: tuple[str, ...] = (
    "timm-vit", "hf-vit", "hf-clip-vision", "hf-siglip-vision", "hf-bert", "hf-ast", "hf-whisper-encoder",
)
