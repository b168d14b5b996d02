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
        ("0", "0", '{"item_id":0}'),
        ("-0", "-0", '{"item_id":"-0"}'),
        ("123456789012345678", "123456789012345678", '{"item_id":123456789012345678}'),
        ("1234567890123456789", "1234567890123456789", '{"item_id":"1234567890123456789"}'),
        ("\u0661", "\u0661", '{"item_id":"\u0661"}'),  # a digit, but not an ASCII one
        ("", "", '{"item_id":""}'),
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


def test_ids_in_lists_too() -> None:
    class Items(BaseModel):
        items: list[JsonId]

    items = Items.model_validate({"items": [1, "24", "x"]})
    assert items.items == ["1", "24", "x"]
    assert items.model_dump_json() == '{"items":[1,24,"x"]}'
