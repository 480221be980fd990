"""Tiny random encoders of every encoder adapter (4 blocks, 64 reducible tokens each), and their inputs.

Each builder returns ``(model, inputs, n_prefix)``; ``inputs`` is the keyword dict of one forward
(batch of 3). Attention is sharpened (query weights scaled) so that scores differ between tokens.
"""

from __future__ import annotations

from typing import Any, Callable

import torch

DEPTH = 4
N_REDUCIBLE = 64
BATCH = 3


def _gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _sharpen(layers, q_attr: str) -> None:
    with torch.no_grad():
        for layer in layers:
            mod = layer
            for part in q_attr.split("."):
                mod = getattr(mod, part)
            mod.weight.mul_(4.0)


def timm_deit():
    from vit_fixtures import tiny_vit

    model = tiny_vit("deit")
    return model, {"x": torch.randn(BATCH, 3, 32, 32, generator=_gen(0))}, 1


def _vit_config(cls, **kw):
    return cls(image_size=32, patch_size=4, hidden_size=32, num_hidden_layers=DEPTH, num_attention_heads=2,
               intermediate_size=64, **kw)


def hf_vit():
    from transformers import ViTConfig, ViTForImageClassification

    torch.manual_seed(0)
    model = ViTForImageClassification(_vit_config(ViTConfig, num_labels=5)).eval()
    _sharpen(model.vit.layers, "attention.q_proj")
    return model, {"pixel_values": torch.randn(BATCH, 3, 32, 32, generator=_gen(1))}, 1


def hf_deit():
    from transformers import DeiTConfig, DeiTModel

    torch.manual_seed(0)
    model = DeiTModel(_vit_config(DeiTConfig)).eval()
    _sharpen(model.layers, "attention.q_proj")
    return model, {"pixel_values": torch.randn(BATCH, 3, 32, 32, generator=_gen(2))}, 2


def hf_clip():
    from transformers import CLIPVisionConfig, CLIPVisionModel

    torch.manual_seed(0)
    model = CLIPVisionModel(_vit_config(CLIPVisionConfig)).eval()
    _sharpen(model.encoder.layers, "self_attn.q_proj")
    return model, {"pixel_values": torch.randn(BATCH, 3, 32, 32, generator=_gen(3))}, 1


def hf_siglip():
    from transformers import SiglipVisionConfig, SiglipVisionModel

    torch.manual_seed(0)
    model = SiglipVisionModel(_vit_config(SiglipVisionConfig)).eval()
    _sharpen(model.encoder.layers, "self_attn.q_proj")
    return model, {"pixel_values": torch.randn(BATCH, 3, 32, 32, generator=_gen(4))}, 0


def bert_config(**kw):
    from transformers import BertConfig

    return BertConfig(vocab_size=120, hidden_size=32, num_hidden_layers=DEPTH, num_attention_heads=2,
                      intermediate_size=64, max_position_embeddings=128, **kw)


def hf_bert(**kw):
    from transformers import BertModel

    torch.manual_seed(0)
    model = BertModel(bert_config(**kw)).eval()
    _sharpen(model.encoder.layer, "attention.self.query")
    ids = torch.randint(5, 120, (BATCH, N_REDUCIBLE + 1), generator=_gen(5))
    ids[:, 0] = 2  # a [CLS]-like first token
    return model, {"input_ids": ids}, 1


def hf_roberta():
    from transformers import RobertaConfig, RobertaForSequenceClassification

    torch.manual_seed(0)
    config = RobertaConfig(vocab_size=120, hidden_size=32, num_hidden_layers=DEPTH, num_attention_heads=2,
                           intermediate_size=64, max_position_embeddings=140, pad_token_id=1, num_labels=3)
    model = RobertaForSequenceClassification(config).eval()
    _sharpen(model.roberta.encoder.layer, "attention.self.query")
    ids = torch.randint(5, 120, (BATCH, N_REDUCIBLE + 1), generator=_gen(6))
    ids[:, 0] = 0
    return model, {"input_ids": ids}, 1


def ast_config():
    from transformers import ASTConfig

    # patch 4, strides 4: (32 - 4) // 4 + 1 = 8 frequency x (32 - 4) // 4 + 1 = 8 time patches
    return ASTConfig(hidden_size=32, num_hidden_layers=DEPTH, num_attention_heads=2, intermediate_size=64,
                     patch_size=4, frequency_stride=4, time_stride=4, max_length=32, num_mel_bins=32, num_labels=4)


def hf_ast():
    from transformers import ASTForAudioClassification

    torch.manual_seed(0)
    model = ASTForAudioClassification(ast_config()).eval()
    _sharpen(model.audio_spectrogram_transformer.layers, "attention.q_proj")
    return model, {"input_values": torch.randn(BATCH, 32, 32, generator=_gen(7))}, 2


def whisper_config():
    from transformers import WhisperConfig

    return WhisperConfig(vocab_size=60, d_model=32, encoder_layers=DEPTH, decoder_layers=1, encoder_attention_heads=2,
                         decoder_attention_heads=2, encoder_ffn_dim=64, decoder_ffn_dim=64,
                         max_source_positions=N_REDUCIBLE, max_target_positions=16, num_mel_bins=16,
                         pad_token_id=0, bos_token_id=1, eos_token_id=2, decoder_start_token_id=1)


def hf_whisper_encoder():
    from transformers import WhisperModel

    torch.manual_seed(0)
    encoder = WhisperModel(whisper_config()).get_encoder().eval()
    _sharpen(encoder.layers, "self_attn.q_proj")
    return encoder, {"input_features": torch.randn(BATCH, 16, 2 * N_REDUCIBLE, generator=_gen(8))}, 0


#: adapter name -> builder
MODELS: dict[str, Callable[[], tuple[Any, dict[str, Any], int]]] = {
    "timm-vit": timm_deit,
    "hf-vit": hf_vit,
    "hf-vit/deit": hf_deit,
    "hf-clip-vision": hf_clip,
    "hf-siglip-vision": hf_siglip,
    "hf-bert": hf_bert,
    "hf-bert/roberta": hf_roberta,
    "hf-ast": hf_ast,
    "hf-whisper-encoder": hf_whisper_encoder,
}


def main_output(out: Any) -> torch.Tensor:
    """The tensor a test compares: timm logits, HF ``logits`` or ``last_hidden_state``."""
    if isinstance(out, torch.Tensor):
        return out
    for key in ("logits", "last_hidden_state"):
        value = getattr(out, key, None)
        if value is not None:
            return value
    raise TypeError(type(out))


def hidden(out: Any) -> torch.Tensor:
    """The token-level output (``last_hidden_state``) or the timm logits."""
    value = getattr(out, "last_hidden_state", None)
    return value if value is not None else main_output(out)
