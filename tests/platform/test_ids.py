"""`JsonId`: ids are text inside and JSON numbers on the way out when canonical integers."""

from __future__ import annotations

import pytest
from pydantic import BaseModel

from tanktop.ids import JsonId


class Item(BaseModel):
    item_id: JsonId


@pytest.mark.parametrize(
    ("given", "inside", "json"),
    [
        (1, "1", '{"item_id":1}'),
        ("24", "24", '{"item_id":24}'),
        ("007", "007", '{"item_id":"007"}'),
        ("tt0111161", "tt0111161", '{"item_id":"tt0111161"}'),
        ("-3", "-3", '{"item_id":-3}'),
    ],
)
def test_ids_are_text_inside_and_numbers_when_canonical(
    given: object, inside: str, json: str
) -> None:
    item = Item.model_validate({"item_id": given})
    assert item.item_id == inside
    assert item.model_dump_json() == json


def test_schema_admits_both_forms() -> None:
    schema = Item.model_json_schema()["properties"]["item_id"]
    assert schema["type"] == ["integer", "string"]
