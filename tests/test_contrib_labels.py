"""The keyword label proposer: transparent, vocabulary-valid, and silent when unsure."""

from __future__ import annotations

from zoo.contrib.labels import RULES, propose_labels
from zoo.vocab import FAMILY, MODALITY, TECHNIQUE


def test_every_rule_label_is_in_its_vocabulary():
    vocab = {"modality": MODALITY, "technique": TECHNIQUE, "family": FAMILY}
    for rule in RULES:
        assert rule.label in vocab[rule.field], rule
        assert all(u in vocab[rule.field] for u in rule.unless), rule


def test_vlm_pruning_paper_gets_labels_with_reasons():
    p = propose_labels("DivPrune: Diversity-based Visual Token Pruning for Large Multimodal Models",
                       "A training-free method that prunes visual tokens of large multimodal models.")
    assert p.technique == ["pruning"] and p.family == ["vlm"] and "image" in p.modality
    assert p.training_free is True
    explained = "\n".join(p.explain())
    assert "technique=pruning: title mentions 'Pruning'" in explained
    assert "training_free=true: abstract mentions 'training-free'" in explained


def test_title_techniques_win_over_alternatives_named_in_the_abstract():
    p = propose_labels("Token Merging: Your ViT But Faster", "We merge tokens instead of pruning them.")
    assert p.technique == ["merging"]
    assert p.family == ["vit"]


def test_text_and_llm_only_when_no_visual_family_matched():
    text_paper = propose_labels("Prompt compression for large language models", "We drop tokens of long prompts.")
    assert text_paper.modality == ["text"] and text_paper.family == ["llm"]
    vlm_paper = propose_labels("Visual token pruning for multimodal large language models (MLLMs)")
    assert "text" not in vlm_paper.modality and vlm_paper.family == ["vlm"]


def test_nothing_is_guessed_when_no_keyword_matches():
    p = propose_labels("On the Nature of Things", "We study things.")
    assert p.missing() == ["modality", "technique", "family"]
    assert p.training_free is False
    assert any("training_free=false" in line for line in p.explain())


def test_kv_cache_is_kv_compression_not_caching():
    p = propose_labels("Evicting the KV cache of large language models", "")
    assert "kv-compression" in p.technique and "caching" not in p.technique
