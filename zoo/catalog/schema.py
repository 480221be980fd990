"""The catalog schema: pydantic models of ``catalog.yaml`` (one :class:`Paper` per entry).

Closed vocabularies come from :mod:`zoo.vocab`; unknown terms, malformed arXiv IDs,
non-https links and unknown keys are rejected. :func:`catalog_json_schema` exports the JSON
Schema used by editors and pre-commit (``tokzoo validate --schema``, and the generated
``zoo/data/catalog.schema.json``).
"""

from __future__ import annotations

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
    model_validator,
)
from pydantic_core import PydanticCustomError

from zoo import vocab

SCHEMA_VERSION = 1

ID_PATTERN = r"^[a-z0-9][a-z0-9-]*$"
#: Versionless arXiv ids: YYMM.NNNNN since 2015, YYMM.NNNN from 2007 to 2014, and old-style
#: ``cs/0112017`` / ``math.GT/0309136`` before that.
ARXIV_PATTERN = (
    r"^((1[5-9]|[2-9]\d)(0[1-9]|1[0-2])\.\d{5}|(0[7-9]|1[0-4])(0[1-9]|1[0-2])\.\d{4}"
    r"|[a-z][a-z-]*(\.[A-Z]{2})?/\d{7})$"
)
ARXIV_VERSIONED_RE = re.compile(r"^(\d{4}\.\d{4,5}|[a-z][a-z-]*(\.[A-Z]{2})?/\d{7})v\d+$")


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


HTTPS_PATTERN = r"^https://\S+$"
TEXT_PATTERN = r"^\S(?:[^\n\r]*\S)?$"

# Patterns are checked by pydantic-core (fast); zoo.catalog.validate turns a mismatch into a
# message that says what is expected (see PATTERN_HELP).
HttpsUrl = Annotated[StrictStr, Field(pattern=HTTPS_PATTERN)]
ArxivId = Annotated[StrictStr, Field(pattern=ARXIV_PATTERN)]
PaperId = Annotated[StrictStr, Field(pattern=ID_PATTERN)]

PATTERN_HELP: dict[str, str] = {
    HTTPS_PATTERN: "is not an https URL; links must start with https:// and contain no spaces",
    ARXIV_PATTERN: "is not a versionless arXiv id; expected e.g. '2403.06764' (YYMM.NNNNN; YYMM.NNNN before 2015) or an old-style id like 'cs/0112017'",
    TEXT_PATTERN: "must be non-empty single-line text without leading or trailing spaces",
    ID_PATTERN: "is not a valid id; ids are lowercase letters, digits and '-', starting with a letter or digit (e.g. 'fastv', 'llava-prumerge')",
}
Text = Annotated[StrictStr, Field(pattern=TEXT_PATTERN)]


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
                "venue {name!r} is a {kind}: its year is required (only preprints may have year: null)",
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
    code: Optional[HttpsUrl] = Field(default=None, description="Official code repository.")
    project: Optional[HttpsUrl] = Field(default=None, description="Project page.")
    other: list[HttpsUrl] = Field(default_factory=list, description="Other links (e.g. Hugging Face model page).")


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


class Paper(_Strict):
    """One catalog entry (one paper of the upstream list)."""

    id: PaperId = Field(description="Stable, readable, unique id; never reused (e.g. 'fastv').")
    title: Text
    short_name: Optional[Text] = Field(default=None, description="The name the field uses (e.g. FastV); null if none.")
    year: StrictInt = Field(ge=1990, le=2100, description="The upstream list's section year (first-version year).")
    venue: Venue
    arxiv: Optional[ArxivId] = Field(default=None, description="Versionless arXiv id; null when the paper has none.")
    links: Links
    modality: _labels(ModalityTerm, "modality", vocab.MODALITY)
    technique: _labels(TechniqueTerm, "technique", vocab.TECHNIQUE)
    family: _labels(FamilyTerm, "model family", vocab.FAMILY)
    training_free: StrictBool = Field(description="True when the method works on a pretrained model without training.")
    zoo: ZooInfo = Field(default_factory=ZooInfo)
    authors: list[Text] = Field(default_factory=list, description="Author names, in order (optional).")

    # --- conveniences (not stored) ---
    @property
    def name(self) -> str:
        """The short name when there is one, else the id."""
        return self.short_name or self.id

    @property
    def has_code(self) -> bool:
        return self.links.code is not None

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
        """The entry as plain data, in catalog key order (the JSON output shape of one paper)."""
        return self.model_dump(mode="json")


class CatalogFile(_Strict):
    """The whole ``catalog.yaml``."""

    schema_version: Literal[1] = Field(description="Version of this schema; bumped on incompatible changes.")
    papers: list[Paper]
    retired_ids: list[PaperId] = Field(
        default_factory=list, description="Ids of removed entries; never reused by a new entry."
    )


def catalog_json_schema() -> dict[str, Any]:
    """The JSON Schema of ``catalog.yaml`` (draft 2020-12, from pydantic)."""
    schema = CatalogFile.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "tokzoo catalog"
    return schema
