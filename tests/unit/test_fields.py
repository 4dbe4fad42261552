"""The input fields every API and page form shares."""

from __future__ import annotations

import pytest
from marshmallow import Schema

from purchasing.fields import MAX_ID, MAX_PAGE, Id, PaginationQuerySchema, Text


class _Reason(Schema):
    reason = Text(required=True, max_length=50)
    member_id = Id()


@pytest.mark.parametrize("text", ["avoir\x00partiel", "ligne\x1bcouleur", "fin\x7f", "\ufffe"])
def test_control_characters_are_refused_not_carried_into_documents(text):
    errors = _Reason().validate({"reason": text})
    assert errors == {"reason": ["may not contain control characters"]}


def test_line_breaks_and_accents_are_kept():
    loaded = _Reason().load({"reason": "  Erreur de\ttarif\nsur la ligne 2 — été  "})
    assert loaded["reason"] == "Erreur de\ttarif\nsur la ligne 2 — été"


@pytest.mark.parametrize("value", [0, -1, MAX_ID + 1, 10**30])
def test_an_id_no_column_can_hold_is_refused(value):
    assert "member_id" in _Reason().validate({"reason": "x", "member_id": value})


def test_pages_beyond_the_last_are_refused():
    assert PaginationQuerySchema().load({"page": MAX_PAGE}) == {"page": MAX_PAGE, "per_page": 50}
    assert "page" in PaginationQuerySchema().validate({"page": MAX_PAGE + 1})
