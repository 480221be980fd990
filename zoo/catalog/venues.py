"""Known publication venues: canonical short name -> kind and full name.

The importer uses this table to normalise the upstream list's venue tags ("[CVPR 2024 Oral]",
"[NeurIPSW 2024]", "[TPAMI 2024]") into ``{name, year, kind, note}``; BibTeX uses the full
names. ``VENUE_ALIASES`` repairs spellings seen upstream. A venue missing here is still
accepted by the catalog schema (the name is free text); the importer reports it so that it
can be added with its kind.
"""

from __future__ import annotations

from typing import NamedTuple


class VenueInfo(NamedTuple):
    kind: str  # a key of zoo.vocab.VENUE_KIND
    full_name: str


VENUES: dict[str, VenueInfo] = {
    # conferences
    "AAAI": VenueInfo("conference", "AAAI Conference on Artificial Intelligence"),
    "ACL": VenueInfo("conference", "Annual Meeting of the Association for Computational Linguistics"),
    "ACM MM": VenueInfo("conference", "ACM International Conference on Multimedia"),
    "COLING": VenueInfo("conference", "International Conference on Computational Linguistics"),
    "CVPR": VenueInfo("conference", "IEEE/CVF Conference on Computer Vision and Pattern Recognition"),
    "ECCV": VenueInfo("conference", "European Conference on Computer Vision"),
    "EMNLP": VenueInfo("conference", "Conference on Empirical Methods in Natural Language Processing"),
    "FCCM": VenueInfo("conference", "IEEE International Symposium on Field-Programmable Custom Computing Machines"),
    "HPCA": VenueInfo("conference", "IEEE International Symposium on High-Performance Computer Architecture"),
    "ICASSP": VenueInfo("conference", "IEEE International Conference on Acoustics, Speech and Signal Processing"),
    "ICCV": VenueInfo("conference", "IEEE/CVF International Conference on Computer Vision"),
    "ICLR": VenueInfo("conference", "International Conference on Learning Representations"),
    "ICML": VenueInfo("conference", "International Conference on Machine Learning"),
    "IJCAI": VenueInfo("conference", "International Joint Conference on Artificial Intelligence"),
    "INFOCOM": VenueInfo("conference", "IEEE International Conference on Computer Communications"),
    "Interspeech": VenueInfo("conference", "Annual Conference of the International Speech Communication Association (Interspeech)"),
    "IPMI": VenueInfo("conference", "International Conference on Information Processing in Medical Imaging"),
    "KDD": VenueInfo("conference", "ACM SIGKDD Conference on Knowledge Discovery and Data Mining"),
    "LREC": VenueInfo("conference", "Joint International Conference on Computational Linguistics, Language Resources and Evaluation"),
    "MIPR": VenueInfo("conference", "IEEE International Conference on Multimedia Information Processing and Retrieval"),
    "NAACL": VenueInfo("conference", "Annual Conference of the North American Chapter of the Association for Computational Linguistics"),
    "NeurIPS": VenueInfo("conference", "Advances in Neural Information Processing Systems"),
    "WACV": VenueInfo("conference", "IEEE/CVF Winter Conference on Applications of Computer Vision"),
    # workshops
    "CVPRW": VenueInfo("workshop", "IEEE/CVF Conference on Computer Vision and Pattern Recognition Workshops"),
    "ECCVW": VenueInfo("workshop", "European Conference on Computer Vision Workshops"),
    "ICCVW": VenueInfo("workshop", "IEEE/CVF International Conference on Computer Vision Workshops"),
    "ICLRW": VenueInfo("workshop", "International Conference on Learning Representations Workshops"),
    "ICMLW": VenueInfo("workshop", "International Conference on Machine Learning Workshops"),
    "NeurIPSW": VenueInfo("workshop", "Advances in Neural Information Processing Systems Workshops"),
    # journals
    "ACM TIS": VenueInfo("journal", "ACM Transactions on Information Systems"),
    "Applied Informatics": VenueInfo("journal", "Applied Informatics"),
    "Neural Networks": VenueInfo("journal", "Neural Networks"),
    "Neurocomputing": VenueInfo("journal", "Neurocomputing"),
    "TMLR": VenueInfo("journal", "Transactions on Machine Learning Research"),
    "TMM": VenueInfo("journal", "IEEE Transactions on Multimedia"),
    "TPAMI": VenueInfo("journal", "IEEE Transactions on Pattern Analysis and Machine Intelligence"),
    # preprint servers
    "arXiv": VenueInfo("preprint", "arXiv"),
    "OpenReview": VenueInfo("preprint", "OpenReview"),
}

#: Upstream spellings -> canonical names (typos and variants).
VENUE_ALIASES: dict[str, str] = {
    "Interpeech": "Interspeech",
    "ACMMM": "ACM MM",
    "NIPS": "NeurIPS",
    "Arxiv": "arXiv",
}


def canonical_venue(name: str) -> str | None:
    """Return the canonical venue name for ``name`` (case-insensitive), or None if unknown."""
    name = VENUE_ALIASES.get(name, name)
    if name in VENUES:
        return name
    folded = name.casefold()
    for known in VENUES:
        if known.casefold() == folded:
            return known
    for alias, known in VENUE_ALIASES.items():
        if alias.casefold() == folded:
            return known
    return None


def full_venue_name(name: str) -> str:
    """The long name of a venue for BibTeX (the short name itself when unknown)."""
    info = VENUES.get(name)
    return info.full_name if info else name
