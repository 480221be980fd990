"""One module per implemented paper, each registered under its catalog id.

``REGISTRY`` maps a catalog id to ``"module:Class"``. It is a literal table so that the
CLI can list method ids without importing torch; ``zoo.interface.method_class`` imports
the module on demand, and a test checks that every entry resolves and that its class
``id`` equals the key and matches a catalog entry whose ``zoo.method`` points back.
"""

from __future__ import annotations

REGISTRY: dict[str, str] = {
    "tome": "zoo.papers.tome:ToMe",
    "evit": "zoo.papers.evit:EViT",
    "zero-tprune": "zoo.papers.zero_tprune:ZeroTPrune",
    "token-fusion": "zoo.papers.token_fusion:TokenFusion",
    "ppt": "zoo.papers.ppt:PPT",
    "gtp-vit": "zoo.papers.gtp_vit:GTPViT",
    "ats": "zoo.papers.ats:ATS",
    "random": "zoo.papers.random_control:RandomPruning",
    "pitome": "zoo.papers.pitome:PiToMe",
    "power-bert": "zoo.papers.power_bert:PoWERBERT",
    "a-tome": "zoo.papers.a_tome:AToMe",
    "spatten": "zoo.papers.spatten:SpAtten",
    "alpine": "zoo.papers.alpine:ALPINE",
    "fastv": "zoo.papers.fastv:FastV",
    "visionzip": "zoo.papers.visionzip:VisionZip",
    "fastervlm": "zoo.papers.fastervlm:FasterVLM",
    "sparsevlm": "zoo.papers.sparsevlm:SparseVLM",
    "pyramiddrop": "zoo.papers.pyramiddrop:PyramidDrop",
    "llava-prumerge": "zoo.papers.llava_prumerge:PruMerge",
    "dart": "zoo.papers.dart:DART",
    "divprune": "zoo.papers.divprune:DivPrune",
    "fastadasp": "zoo.papers.fastadasp:FastAdaSP",
    "gemfilter": "zoo.papers.gemfilter:GemFilter",
    "pooling": "zoo.papers.pooling_control:SpatialPooling",
    "dycoke": "zoo.papers.dycoke:DyCoke",
    "prunevid": "zoo.papers.prunevid:PruneVid",
    "framefusion": "zoo.papers.framefusion:FrameFusion",
    "fastvid": "zoo.papers.fastvid:FastVID",
    "holitom": "zoo.papers.holitom:HoliTom",
    "vidcom2": "zoo.papers.vidcom2:VidCom2",
    "slowfast-llava": "zoo.papers.slowfast_llava:SlowFastLLaVA",
    "frame-subsample": "zoo.papers.video_controls:FrameSubsample",
    "video-random": "zoo.papers.video_controls:VideoRandom",
    "tomesd": "zoo.papers.tomesd:ToMeSD",
    "todo": "zoo.papers.todo:ToDo",
    "ca-tome": "zoo.papers.ca_tome:CAToMe",
    "sito": "zoo.papers.sito:SiTo",
    "dato": "zoo.papers.dato:DaTo",
}
