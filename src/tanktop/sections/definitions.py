"""What a section may be: the kinds, each kind's params and item types, and the default page.

Pure: a definition is fully validated (and its params' defaults filled in) before it is stored.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, Final, TypeVar

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    JsonValue,
    StrictInt,
    StrictStr,
    ValidationError,
)

from tanktop.errors import BadRequest, describe_validation_errors
from tanktop.ids import AS_JSON_ID, NAME_PATTERN
from tanktop.sections.schemas import Section, SectionBody

MAX_SECTIONS: Final = 100
"""Definitions per service: a page is built from all of them, so they are bounded."""
CONTENT: Final = ("movie", "programme")
"""What recommendation-like rows show (a programme stands for its episodes)."""
LISTED: Final = ("movie", "programme", "episode")


def _listify(value: Any) -> Any:
    """`"seen"` means `["seen"]`, as a repeated query parameter would."""
    return [value] if isinstance(value, str) else value


def _id_text(value: Any) -> Any:
    return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


Name = Annotated[StrictStr, Field(pattern=NAME_PATTERN)]
Names = Annotated[list[Name], BeforeValidator(_listify), Field(max_length=20)]
Id = Annotated[
    StrictStr,
    BeforeValidator(_id_text),
    Field(pattern=NAME_PATTERN),
    AS_JSON_ID,
]
"""An item id in params: text inside, a JSON number when it is a canonical integer (API.md)."""


class _Params(BaseModel):
    model_config = ConfigDict(extra="forbid")


class NoParams(_Params):
    pass


class LiveParams(_Params):
    window: Annotated[StrictInt, Field(ge=1, le=1440)] = 30
    """Minutes ahead: what is on now or starts within them."""


class NewParams(_Params):
    days: Annotated[StrictInt, Field(ge=1, le=365)] = 14


class PopularParams(_Params):
    days: Annotated[StrictInt, Field(ge=1, le=365)] = 7


class GenreParams(_Params):
    genre: Annotated[StrictStr, Field(min_length=1, max_length=100)]


class ListParams(_Params):
    include: Names = []
    exclude: Names = []


class EditorialParams(_Params):
    ids: Annotated[list[Id], Field(min_length=1, max_length=100)]


P = TypeVar("P", bound="_Params")


def params_of(section: Section, model: type[P]) -> P:
    """A stored section's params as its kind's typed params (they were checked when stored)."""
    return model.model_validate(section.params)


@dataclass(frozen=True)
class Kind:
    """A kind's params and the item types it may be narrowed to (None: any type, the first
    of `types` when none is given)."""

    params: type[_Params]
    types: tuple[str, ...] | None
    one_type: bool = False
    """The row is of one item type (`types[0]` unless the definition names another)."""


KINDS: Final[dict[str, Kind]] = {
    "continue_watching": Kind(NoParams, CONTENT),
    "watchlist": Kind(NoParams, LISTED),
    "recommended": Kind(NoParams, CONTENT),
    "because_you_watched": Kind(NoParams, CONTENT),
    "live_now": Kind(LiveParams, ()),
    "new": Kind(NewParams, CONTENT),
    "popular": Kind(PopularParams, CONTENT),
    "genre": Kind(GenreParams, CONTENT),
    "list": Kind(ListParams, None, one_type=True),
    "editorial": Kind(EditorialParams, None, one_type=True),
}


def _problem(error: ValidationError, prefix: str = "") -> BadRequest:
    summary, items = describe_validation_errors(error.errors())
    if prefix:
        summary = "; ".join(f"{prefix}{i['location']}: {i['message']}" for i in items)
    return BadRequest(f"Invalid section: {summary}.")


def parse_definition(section_id: str, raw: JsonValue, *, default_position: int) -> Section:
    """A stored definition from a request body; `default_position` is used when the body
    gives none (after the others for a new section, its current one when replacing)."""
    if not isinstance(raw, dict):
        raise BadRequest(f"A section is a JSON object, not {type(raw).__name__}.")
    try:
        body = SectionBody.model_validate(raw)
    except ValidationError as exc:
        raise _problem(exc) from None
    kind = KINDS.get(body.kind)
    if kind is None:
        raise BadRequest(f"Unknown section kind {body.kind!r}; one of {', '.join(KINDS)}.")
    try:
        params = kind.params.model_validate(body.params)
    except ValidationError as exc:
        raise _problem(exc, "params.") from None
    item_type = body.item_type
    if item_type is not None and kind.types is not None and item_type not in kind.types:
        allowed = ", ".join(kind.types) if kind.types else "none (leave item_type out)"
        raise BadRequest(f"A {body.kind} section's item_type may be {allowed}; got {item_type!r}.")
    if item_type is None and kind.one_type:
        item_type = "movie"
    return Section(
        section_id=section_id,
        title=body.title,
        kind=body.kind,
        item_type=item_type,
        params=params.model_dump(mode="json"),
        position=default_position if body.position is None else body.position,
        max_items=body.max_items,
        locked=body.locked,
    )


def _default(position: int, kind: str, title: str) -> Section:
    return Section(
        section_id=kind,
        title=title,
        kind=kind,
        item_type=None,
        params=KINDS[kind].params().model_dump(mode="json"),
        position=position,
        max_items=20,
        locked=False,
    )


DEFAULT_PAGE: Final = tuple(
    _default(position, kind, title)
    for position, (kind, title) in enumerate(
        [
            ("continue_watching", "Continue watching"),
            ("watchlist", "Your watchlist"),
            ("recommended", "Recommended for you"),
            ("because_you_watched", "Because you watched {title}"),
            ("live_now", "On TV now"),
            ("popular", "Popular this week"),
        ]
    )
)
"""What a service that has defined no sections gets."""
