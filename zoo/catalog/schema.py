"""The catalog schema: pydantic models of ``catalog.yaml`` (one :class:`Paper` per entry).

Closed vocabularies come from :mod:`zoo.vocab`; unknown terms, malformed arXiv IDs,
non-https links, control characters and unknown keys are rejected. :func:`catalog_json_schema`
exports the JSON Schema used by editors and pre-commit (``tokzoo validate --schema``, and the
generated ``zoo/data/catalog.schema.json``).

Three years, three names (schema_version 2):

- ``section_year``: the upstream list's section the paper is filed under (the year of its
  first version); ``tokzoo list --year`` filters this one;
- ``arxiv_published``: the date of the arXiv v1 (``'2024-03-11'``), when the paper has one;
- ``venue.year``: the year of the venue (conference, journal) it appeared at.

schema_version 1 called ``section_year`` ``year``; such files still load (the loader reads
``year`` as ``section_year``), and ``Paper.year`` stays as a read-only alias.
"""

from __future__ import annotations

import datetime as _dt
import re
from typing import Annotated, Any, Literal, Optional

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    StrictStr,
    computed_field,
    model_validator,
)
from pydantic_core import PydanticCustomError

from zoo import vocab

SCHEMA_VERSION = 2
#: versions the loader reads (1: ``year`` instead of ``section_year``)
SUPPORTED_SCHEMA_VERSIONS = (1, 2)

ID_PATTERN = r"^[a-z0-9][a-z0-9-]*$"
#: Versionless arXiv ids: YYMM.NNNNN since 2015, YYMM.NNNN from 2007 to 2014, and old-style
#: ``cs/0112017`` / ``math.GT/0309136`` before that.
ARXIV_PATTERN = (
    r"^((1[5-9]|[2-9]\d)(0[1-9]|1[0-2])\.\d{5}|(0[7-9]|1[0-4])(0[1-9]|1[0-2])\.\d{4}"
    r"|[a-z][a-z-]*(\.[A-Z]{2})?/\d{7})$"
)
ARXIV_VERSIONED_RE = re.compile(r"^(\d{4}\.\d{4,5}|[a-z][a-z-]*(\.[A-Z]{2})?/\d{7})v\d+$")

#: Characters never allowed in catalog text (a regex class body): C0/C1 controls (terminal escape
#: sequences), line/paragraph separators, and the bidirectional embedding/override/isolate controls.
CONTROL_CHARS = r"\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069"
CONTROL_RE = re.compile(f"[{CONTROL_CHARS}]")
#: whole terminal escape sequences (CSI ``ESC [ ... m``, OSC ``ESC ] ... BEL``, two-byte ``ESC x``,
#: the one-byte C1 CSI), removed as a unit so that no ``[2J`` residue is printed
_ESCAPE_SEQUENCE_RE = re.compile(r"(?:\x1b\[|\x9b)[0-?]*[ -/]*[@-~]|(?:\x1b\]|\x9d)[^\x07\x1b\x9c]*(?:\x07|\x1b\\|\x9c)?"
                                 r"|\x1b[@-Z\\-_]")


def strip_controls(text: str) -> str:
    """``text`` without terminal escape sequences and control characters (what output prints)."""
    if not CONTROL_RE.search(text):  # the usual case: nothing to strip
        return text
    return CONTROL_RE.sub("", _ESCAPE_SEQUENCE_RE.sub("", text))

def _terms(vocabulary: dict[str, str]) -> Any:
    """A ``Literal`` type of the vocabulary's terms (so the JSON Schema lists them as an enum)."""
    return Literal[tuple(vocabulary)]  # type: ignore[valid-type]


ModalityTerm = _terms(vocab.MODALITY)
TechniqueTerm = _terms(vocab.TECHNIQUE)
FamilyTerm = _terms(vocab.FAMILY)
ZooStatusTerm = _terms(vocab.ZOO_STATUS)
VenueKindTerm = _terms(vocab.VENUE_KIND)
VenueNoteTerm = _terms(vocab.VENUE_NOTE)


def _check_unique(values: list[str]) -> list[str]:
    seen: set[str] = set()
    for value in values:
        if value in seen:
            raise PydanticCustomError("duplicate_term", "term {value!r} is listed twice", {"value": value})
        seen.add(value)
    return values


#: https only; no whitespace, no control characters and none of ``" < > \ ^ ` { | }`` (a URL must
#: percent-encode them): a link can then break out of no HTML attribute, BibTeX brace or Markdown.
HTTPS_PATTERN = rf'^https://[^\s{CONTROL_CHARS}"<>\\^`{{|}}]+$'
TEXT_PATTERN = rf"^[^\s{CONTROL_CHARS}](?:[^{CONTROL_CHARS}]*[^\s{CONTROL_CHARS}])?$"
DATE_PATTERN = r"^\d{4}-\d{2}-\d{2}$"

# Patterns are checked by pydantic-core (fast); zoo.catalog.validate turns a mismatch into a
# message that says what is expected (see PATTERN_HELP).
HttpsUrl = Annotated[StrictStr, Field(pattern=HTTPS_PATTERN)]
ArxivId = Annotated[StrictStr, Field(pattern=ARXIV_PATTERN)]
PaperId = Annotated[StrictStr, Field(pattern=ID_PATTERN)]

PATTERN_HELP: dict[str, str] = {
    HTTPS_PATTERN: "is not an https URL; links must start with https:// and contain no spaces, control characters "
                   "or any of \" < > \\ ^ ` { | } (percent-encode them, e.g. %7B for {)",
    ARXIV_PATTERN: "is not a versionless arXiv id; expected e.g. '2403.06764' (YYMM.NNNNN; YYMM.NNNN before 2015) or an old-style id like 'cs/0112017'",
    TEXT_PATTERN: "must be non-empty single-line text without leading or trailing spaces and without control characters",
    ID_PATTERN: "is not a valid id; ids are lowercase letters, digits and '-', starting with a letter or digit (e.g. 'fastv', 'llava-prumerge')",
    DATE_PATTERN: "is not a date; expected YYYY-MM-DD, e.g. '2024-03-11' (quote it in YAML)",
}
Text = Annotated[StrictStr, Field(pattern=TEXT_PATTERN)]

_PASTED_LIST = re.compile(r";|\bet al\b|\band\b|,(?!\s*(?:Jr|Sr|II|III|IV)\.?$)", re.I)


def _check_author(name: str) -> str:
    if _PASTED_LIST.search(name):
        raise PydanticCustomError(
            "author_name", "{name!r} looks like several names (or 'et al.'); write one full name per list item, "
            "in the paper's order", {"name": name[:80]})
    return name


def _check_date(text: str) -> str:
    try:
        _dt.date.fromisoformat(text)
    except ValueError:
        raise PydanticCustomError("date", "{text!r} is not a calendar date (YYYY-MM-DD)", {"text": text}) from None
    return text


AuthorName = Annotated[Text, AfterValidator(_check_author)]
IsoDate = Annotated[StrictStr, Field(pattern=DATE_PATTERN), AfterValidator(_check_date)]


def _labels(term: Any, what: str, vocabulary: dict[str, str]) -> Any:
    return Annotated[
        list[term],
        Field(
            min_length=1,
            json_schema_extra={"uniqueItems": True},
            description=f"One or more {what} terms: " + "; ".join(f"{k}: {v}" for k, v in vocabulary.items()),
        ),
        AfterValidator(_check_unique),
    ]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)


class Venue(_Strict):
    """Where a paper appeared. Preprints: ``{name: arXiv, year: null, kind: preprint}``."""

    name: Text = Field(description="Short venue name, e.g. CVPR, NeurIPSW, TPAMI, arXiv, OpenReview.")
    year: Optional[StrictInt] = Field(default=None, ge=1950, le=2100, description="Year of the venue; null for arXiv preprints.")
    kind: VenueKindTerm = Field(description="; ".join(f"{k}: {v}" for k, v in vocab.VENUE_KIND.items()))
    note: Optional[VenueNoteTerm] = Field(default=None, description="Oral, Spotlight, Highlight or Findings.")

    @model_validator(mode="after")
    def _year_for_published(self) -> "Venue":
        if self.kind != "preprint" and self.year is None:
            raise PydanticCustomError(
                "venue_year",
                "venue '{name}' is a {kind}: its year is required (only preprints may have year: null)",
                {"name": self.name, "kind": self.kind},
            )
        return self

    def label(self) -> str:
        """``'CVPR 2024 Oral'``, ``'arXiv'``."""
        parts = [self.name] + ([str(self.year)] if self.year is not None else []) + ([self.note] if self.note else [])
        return " ".join(parts)


class Links(_Strict):
    """Links of a paper; every link is https."""

    paper: HttpsUrl = Field(description="The paper itself (arXiv abstract page or the venue's page/PDF).")
    code: Optional[HttpsUrl] = Field(default=None, description="The official code repository (the main one).")
    other_code: list[HttpsUrl] = Field(
        default_factory=list, description="Further official code repositories (e.g. a second implementation).")
    project: Optional[HttpsUrl] = Field(default=None, description="Project page.")
    other: list[HttpsUrl] = Field(default_factory=list, description="Other links (e.g. Hugging Face model page).")


class Sources(_Strict):
    """Where curated values were found (an https page that shows them), field by field."""

    authors: Optional[HttpsUrl] = Field(default=None, description="Page listing the authors (arXiv abstract, proceedings).")
    arxiv_published: Optional[HttpsUrl] = Field(default=None, description="Page showing the arXiv v1 date.")
    venue: Optional[HttpsUrl] = Field(default=None, description="Proceedings/journal page or the authors' README naming the venue.")
    code: Optional[HttpsUrl] = Field(default=None, description="Where the official code link was found (paper, project page).")
    project: Optional[HttpsUrl] = Field(default=None, description="Where the project page was found.")
    code_license: Optional[HttpsUrl] = Field(default=None, description="The code's license file.")

    def is_empty(self) -> bool:
        return all(getattr(self, name) is None for name in type(self).model_fields)


class ZooInfo(_Strict):
    """Whether tokzoo implements the paper, and under which method id."""

    status: ZooStatusTerm = Field(default="none", description="; ".join(f"{k}: {v}" for k, v in vocab.ZOO_STATUS.items()))
    method: Optional[PaperId] = Field(default=None, description="zoo.papers.REGISTRY key; required when implemented.")

    @model_validator(mode="after")
    def _method_matches_status(self) -> "ZooInfo":
        if self.status == "implemented" and not self.method:
            raise PydanticCustomError(
                "zoo_method", "status 'implemented' needs method: <the zoo.papers.REGISTRY id>", {}
            )
        if self.status == "none" and self.method:
            raise PydanticCustomError(
                "zoo_method",
                "method {method!r} is set but status is 'none'; use status 'implemented' or 'planned'",
                {"method": self.method},
            )
        return self


#: code licenses that restrict use (matched case-insensitively in ``code_license``)
_RESTRICTIVE_LICENSE = re.compile(r"\bNC\b|non-?commercial|research|academic|no license|proprietary|custom|"
                                  r"all rights reserved|evaluation only", re.I)


class Paper(_Strict):
    """One catalog entry (one paper of the upstream list, or one the zoo added: ``added: tokzoo``)."""

    id: PaperId = Field(description="Stable, readable, unique id; never reused (e.g. 'fastv').")
    title: Text
    short_name: Optional[Text] = Field(default=None, description="The name the field uses (e.g. FastV); null if none.")
    authors: list[AuthorName] = Field(
        default_factory=list, description="Full author names, one per item, in the paper's order (empty: not known yet).")
    section_year: StrictInt = Field(
        ge=1990, le=2100, description="The upstream list's section year: the year of the paper's first version. "
        "`tokzoo list --year` filters this one (venue year: venue.year; arXiv date: arxiv_published).")
    arxiv_published: Optional[IsoDate] = Field(
        default=None, description="Date of the arXiv v1, YYYY-MM-DD (null: no arXiv version or not known yet).")
    venue: Venue
    arxiv: Optional[ArxivId] = Field(default=None, description="Versionless arXiv id; null when the paper has none.")
    links: Links
    code_license: Optional[Text] = Field(
        default=None, description="License of the official code: an SPDX id (MIT, Apache-2.0) or a short phrase "
        "such as 'CC BY-NC 4.0 (non-commercial)'; 'none' when the repository has no license.")
    modality: _labels(ModalityTerm, "modality", vocab.MODALITY)
    technique: _labels(TechniqueTerm, "technique", vocab.TECHNIQUE)
    family: _labels(FamilyTerm, "model family", vocab.FAMILY)
    training_free: StrictBool = Field(description="True when the method works on a pretrained model without training.")
    zoo: ZooInfo = Field(default_factory=ZooInfo)
    added: Literal["upstream", "tokzoo"] = Field(
        default="upstream", description="Provenance: 'upstream' (the awesome list; the default, left out of "
        "catalog.yaml) or 'tokzoo' (added by the zoo, not in the upstream list; `tokzoo sync` never reports it missing).")
    sources: Sources = Field(default_factory=Sources, description="Where curated values were found, field by field.")

    # --- conveniences (not stored) ---
    @computed_field(description="Deprecated alias of section_year (its schema_version 1 name); kept in JSON output.")  # type: ignore[prop-decorator]
    @property
    def year(self) -> int:
        return self.section_year

    @property
    def name(self) -> str:
        """The short name when there is one, else the id."""
        return self.short_name or self.id

    @property
    def has_code(self) -> bool:
        return self.links.code is not None

    @property
    def code_links(self) -> list[str]:
        """Every official code link, the main one first."""
        return ([self.links.code] if self.links.code else []) + list(self.links.other_code)

    @property
    def license_restricts_use(self) -> bool:
        """True when ``code_license`` says the code may not be used freely (non-commercial, research only, ...)."""
        return bool(self.code_license and _RESTRICTIVE_LICENSE.search(self.code_license))

    @property
    def implemented(self) -> bool:
        return self.zoo.status == "implemented"

    @property
    def arxiv_url(self) -> Optional[str]:
        return f"https://arxiv.org/abs/{self.arxiv}" if self.arxiv else None

    def bibtex(self) -> str:
        """This paper as a BibTeX entry (key = id)."""
        from zoo.catalog.bibtex import paper_bibtex

        return paper_bibtex(self)

    def to_dict(self) -> dict[str, Any]:
        """The entry as plain data, in catalog key order, plus the deprecated ``year`` alias
        (the JSON output shape of one paper)."""
        return self.model_dump(mode="json")


class CatalogFile(_Strict):
    """The whole ``catalog.yaml``."""

    schema_version: Literal[1, 2] = Field(
        description="Version of this schema (2; 1 is still read: it named section_year 'year'). Bumped when a "
        "field is renamed or removed; new optional fields do not bump it.")
    papers: list[Paper]
    retired_ids: list[PaperId] = Field(
        default_factory=list, description="Ids of removed entries; never reused by a new entry."
    )


def catalog_json_schema() -> dict[str, Any]:
    """The JSON Schema of ``catalog.yaml`` (draft 2020-12, from pydantic), for the current version."""
    schema = CatalogFile.model_json_schema(mode="validation")
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "tokzoo catalog"
    schema["properties"]["schema_version"] = {
        "const": SCHEMA_VERSION, "title": "Schema Version",
        "description": schema["properties"]["schema_version"].get("description", ""),
    }
    return schema
