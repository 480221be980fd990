"""Decoder family: one runtime for Hugging Face decoder models, thin adapters per model class.

- :mod:`~zoo.families.decoders.runtime`: shortens a decoder's token sequence at prefill and
  hides cache entries at decoding steps, reversibly (the API methods are written against).
- :mod:`~zoo.families.decoders.base`: what every adapter offers (structure, placeholder spans,
  positions, signals, the transformers range); :mod:`~zoo.families.decoders.layout` and
  :mod:`~zoo.families.decoders.anyres`: where items sit in the prompt and how their tokens
  are laid out; :mod:`~zoo.families.decoders.sequence` / :mod:`~zoo.families.decoders.probes`:
  index bookkeeping and on-demand attention rows.
- Adapters: :mod:`~zoo.families.decoders.llava` (LLaVA-1.5, LLaVA-NeXT),
  :mod:`~zoo.families.decoders.llava_onevision`, :mod:`~zoo.families.decoders.llava_next_video`,
  :mod:`~zoo.families.decoders.qwen_vl` (Qwen2-VL, Qwen2.5-VL), :mod:`~zoo.families.decoders.text_lm`,
  :mod:`~zoo.families.decoders.qwen_audio` (Qwen2-Audio: audio tokens).
- :mod:`~zoo.families.decoders.support`: the method x model support matrix.

Importing this package imports no torch.
"""

#: adapter names (keys of ``zoo.families.ADAPTERS``) served by this package
DECODER_ADAPTERS: tuple[str, ...] = ("llava", "llava-next", "llava-onevision", "llava-next-video", "qwen2-vl",
                                     "qwen2.5-vl", "text-lm", "qwen2-audio")
#: the adapters of vision-language models
VLM_ADAPTERS: tuple[str, ...] = DECODER_ADAPTERS[:6]
#: the adapters of speech/audio language models (audio placeholder tokens)
AUDIO_LM_ADAPTERS: tuple[str, ...] = ("qwen2-audio",)
