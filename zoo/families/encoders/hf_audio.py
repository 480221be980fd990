"""Encoder adapters for audio in Hugging Face transformers: AST and the Whisper encoder.

- ``hf-ast``: ``ASTModel`` and ``ASTForAudioClassification`` (Audio Spectrogram Transformer).
  Tokens: [CLS] + distillation token (protected, first) and the spectrogram patches, ordered
  frequency-major on a ``(frequency, time)`` grid (``ASTEmbeddings.get_shape``), which GTP-ViT's
  spatial graph uses.
- ``hf-whisper-encoder``: ``WhisperEncoder`` itself, or the encoder of ``WhisperModel``,
  ``WhisperForConditionalGeneration`` and ``WhisperForAudioClassification``. 1500 frame tokens,
  **no [CLS]**: nothing is protected (methods ranking tokens by a class token refuse the model)
  and there is no 2-D grid. The decoder's cross-attention reads the reduced encoder output as
  it is (a merged frame counts once there), and ``WhisperForAudioClassification`` averages the
  reduced tokens without size weights.
"""

from __future__ import annotations

from typing import Any

from zoo.families.encoders.hf_common import ViTStyle, WhisperStyle, hf_class, isinstance_any


class HFASTAdapter(ViTStyle):
    name = "hf-ast"
    stage = "audio"
    SIGNALS = {"class_token": True, "grid": True, "padding": False}
    serves = "transformers ASTModel, ASTForAudioClassification"
    layer_classes = (("audio_spectrogram_transformer.modeling_audio_spectrogram_transformer", "ASTLayer"),)
    _path = "audio_spectrogram_transformer.modeling_audio_spectrogram_transformer"

    @classmethod
    def _tower(cls, model: Any) -> Any:
        base = hf_class(cls._path, "ASTModel")
        if base is None:
            return None
        if isinstance(model, base):
            return model
        head = hf_class(cls._path, "ASTForAudioClassification")
        return model.base_model if head is not None and isinstance(model, head) else None

    @classmethod
    def matches(cls, model: Any) -> bool:
        return cls._tower(model) is not None

    def find_blocks(self, model: Any) -> list[Any]:
        self.tower = self._tower(model)
        return list(self.tower.layers)

    @property
    def num_prefix_tokens(self) -> int:
        return 2

    @property
    def has_class_token(self) -> bool:
        return True

    def grid_for(self, n_tokens: int) -> tuple[int, int] | None:
        f, t = self.tower.embeddings.get_shape(self.tower.config)
        return (int(f), int(t)) if f * t == n_tokens else None


class HFWhisperEncoderAdapter(WhisperStyle):
    name = "hf-whisper-encoder"
    stage = "audio"
    SIGNALS = {"class_token": False, "grid": False, "padding": False}
    serves = "transformers WhisperEncoder (alone or inside WhisperModel/ForConditionalGeneration/ForAudioClassification)"
    layer_classes = (("whisper.modeling_whisper", "WhisperEncoderLayer"),)

    @staticmethod
    def _encoder(model: Any) -> Any:
        enc_cls = hf_class("whisper.modeling_whisper", "WhisperEncoder")
        if enc_cls is None:
            return None
        if isinstance(model, enc_cls):
            return model
        wrappers = [hf_class("whisper.modeling_whisper", n) for n in
                    ("WhisperModel", "WhisperForConditionalGeneration", "WhisperForAudioClassification")]
        if not isinstance_any(model, wrappers):
            return None
        enc = model.get_encoder() if hasattr(model, "get_encoder") else getattr(model, "encoder", None)
        return enc if isinstance(enc, enc_cls) else None

    @classmethod
    def matches(cls, model: Any) -> bool:
        return cls._encoder(model) is not None

    def find_blocks(self, model: Any) -> list[Any]:
        self.encoder = self._encoder(model)
        return list(self.encoder.layers)
