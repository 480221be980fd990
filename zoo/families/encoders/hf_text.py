"""Encoder adapter for BERT-family text encoders in Hugging Face transformers (``hf-bert``).

Serves ``BertModel`` (MiniLM / sentence-transformers checkpoints such as all-MiniLM-L6-v2 are
BERTs), ``RobertaModel``, ``XLMRobertaModel``, ``ElectraModel``, ``CamembertModel`` and their
task heads (``...ForSequenceClassification`` etc.), as encoders: decoder configurations
(``is_decoder``, cross-attention) are refused.

The layers are post-norm: ``attention.self`` (``query``/``key``/``value``, ``scaling``) ->
``attention.output`` (dense, dropout, ``LayerNorm(h + x)``) | ``intermediate`` -> ``output``
(dense, dropout, ``LayerNorm(h + x)``). Reducers act after the attention half (after its
LayerNorm), before the feed-forward half, as ToMe-style methods do in BERT.

Tokens: the first token ([CLS] / ``<s>``) is the protected prefix and is always kept first, so
poolers and classification heads reading token 0 keep working. The attention mask is the
padding mask: padding tokens never merge with text and never count in a budget, every row of
a padded batch is reduced as if it were alone (``zoo.families.encoders.runtime``), and
``adapter.output_mask()``/``output_sizes()`` describe the reduced output for pooling
(``zoo.families.encoders.pooling.mean_pool``). Pad on the right (tokenizers' default); a row
whose first token is padding is refused.
"""

from __future__ import annotations

from typing import Any, Callable

from zoo.families.encoders.hf_common import HFEncoderAdapter, hf_module

#: (module path, model class, layer class) of the BERT-family models served
FAMILY = (
    ("bert.modeling_bert", "BertModel", "BertLayer"),
    ("roberta.modeling_roberta", "RobertaModel", "RobertaLayer"),
    ("xlm_roberta.modeling_xlm_roberta", "XLMRobertaModel", "XLMRobertaLayer"),
    ("electra.modeling_electra", "ElectraModel", "ElectraLayer"),
    ("camembert.modeling_camembert", "CamembertModel", "CamembertLayer"),
)


def _base(model: Any) -> Any:
    """The BERT-family base model of ``model`` (itself or its ``base_model``), or ``None``."""
    for path, model_name, _ in FAMILY:
        mod = hf_module(path)
        cls = getattr(mod, model_name, None) if mod is not None else None
        if cls is None:
            continue
        if isinstance(model, cls):
            return model
        base = getattr(model, "base_model", None)
        if base is not model and isinstance(base, cls):
            return base
    return None


class HFBertAdapter(HFEncoderAdapter):
    name = "hf-bert"
    stage = "text"
    SIGNALS = {"class_token": True, "grid": False, "padding": True}
    serves = "transformers BERT/RoBERTa/XLM-R/ELECTRA/CamemBERT encoders (MiniLM sentence encoders included)"
    layer_classes = tuple((path, layer) for path, _, layer in FAMILY)

    @classmethod
    def matches(cls, model: Any) -> bool:
        return _base(model) is not None

    def find_blocks(self, model: Any) -> list[Any]:
        self.base = _base(model)
        config = self.base.config
        if getattr(config, "is_decoder", False) or getattr(config, "add_cross_attention", False):
            raise TypeError(f"hf-bert adapter: {type(model).__name__} is configured as a decoder (is_decoder / "
                            "add_cross_attention); supported: bidirectional encoders")
        return list(self.base.encoder.layer)

    @property
    def num_prefix_tokens(self) -> int:
        return 1

    @property
    def has_class_token(self) -> bool:
        return True

    def attention_module(self, block: Any) -> Any:
        return block.attention.self

    def attention_part(self, block: Any, x: Any, attend: Callable) -> Any:
        sa = block.attention.self
        shape = (x.shape[0], x.shape[1], -1, sa.attention_head_size)
        q = sa.query(x).view(shape).transpose(1, 2)
        k = sa.key(x).view(shape).transpose(1, 2)
        v = sa.value(x).view(shape).transpose(1, 2)
        out = attend(q, k, v, sa.scaling, dropout_p=sa.dropout.p if sa.training else 0.0)
        return block.attention.output(out, x)

    def mlp_part(self, block: Any, x: Any) -> Any:
        if block.chunk_size_feed_forward:
            from transformers.pytorch_utils import apply_chunking_to_forward

            return apply_chunking_to_forward(block.feed_forward_chunk, block.chunk_size_feed_forward,
                                             block.seq_len_dim, x)
        return block.feed_forward_chunk(x)
