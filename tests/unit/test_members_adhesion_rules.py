"""The adhesion lifecycle as the model enforces it, without a database."""

from __future__ import annotations

from datetime import date

import pytest

from purchasing.errors import InvalidTransition, ValidationFailed
from purchasing.members.models import ADHESION_TRANSITIONS, Adhesion, AdhesionStatus

CONVENTION = {
    "convention_number": "CONV-2023-014",
    "deliberation_reference": "DEL-2023-045",
    "deliberation_date": date(2023, 4, 11),
    "start_date": date(2023, 6, 1),
}


def adhesion_in(status: AdhesionStatus) -> Adhesion:
    adhesion = Adhesion(status=AdhesionStatus.REQUESTED, requested_on=date(2023, 3, 1))
    if status is AdhesionStatus.REQUESTED:
        return adhesion
    adhesion.activate(**CONVENTION)
    if status is AdhesionStatus.SUSPENDED:
        adhesion.suspend(reason="titres impayés")
    elif status is AdhesionStatus.WITHDRAWN:
        adhesion.withdraw(end_date=date(2024, 12, 31))
    return adhesion


def move(adhesion: Adhesion, target: AdhesionStatus) -> None:
    match target:
        case AdhesionStatus.ACTIVE:
            adhesion.activate(**CONVENTION)
        case AdhesionStatus.SUSPENDED:
            adhesion.suspend(reason="titres impayés")
        case AdhesionStatus.WITHDRAWN:
            adhesion.withdraw(end_date=date(2024, 12, 31))
        case AdhesionStatus.REQUESTED:
            pytest.skip("no action leads back to requested")


def test_the_lifecycle_is_the_documented_one():
    legal = {(s.value, t.value) for s, targets in ADHESION_TRANSITIONS.items() for t in targets}
    assert legal == {
        ("requested", "active"),
        ("requested", "withdrawn"),
        ("active", "suspended"),
        ("active", "withdrawn"),
        ("suspended", "active"),
        ("suspended", "withdrawn"),
    }


ILLEGAL = [
    (current, target)
    for current in AdhesionStatus
    for target in (AdhesionStatus.ACTIVE, AdhesionStatus.SUSPENDED, AdhesionStatus.WITHDRAWN)
    if target not in ADHESION_TRANSITIONS[current]
]


@pytest.mark.parametrize(("current", "target"), ILLEGAL)
def test_an_illegal_move_is_refused_and_changes_nothing(current, target):
    adhesion = adhesion_in(current)
    before = {c: getattr(adhesion, c) for c in ("status", "end_date", "status_reason")}
    with pytest.raises(InvalidTransition) as refused:
        move(adhesion, target)
    assert refused.value.errors == {
        "status": [f"adhesion cannot go from '{current.value}' to '{target.value}'"]
    }
    assert {c: getattr(adhesion, c) for c in before} == before


def test_activation_needs_the_convention_and_names_what_is_missing():
    adhesion = adhesion_in(AdhesionStatus.REQUESTED)
    with pytest.raises(ValidationFailed) as refused:
        adhesion.activate(convention_number="CONV-2023-014")
    assert refused.value.errors == {
        "deliberation_reference": ["required to activate an adhesion"],
        "deliberation_date": ["required to activate an adhesion"],
        "start_date": ["required to activate an adhesion"],
    }
    assert adhesion.status is AdhesionStatus.REQUESTED
    assert adhesion.convention_number is None


def test_activation_uses_what_the_request_already_recorded():
    adhesion = Adhesion(
        status=AdhesionStatus.REQUESTED,
        deliberation_reference="DEL-2023-045",
        deliberation_date=date(2023, 4, 11),
    )
    adhesion.activate(convention_number="CONV-2023-014", start_date=date(2023, 6, 1))
    assert adhesion.status is AdhesionStatus.ACTIVE
    assert adhesion.deliberation_reference == "DEL-2023-045"


def test_an_adhesion_cannot_start_before_its_deliberation():
    adhesion = adhesion_in(AdhesionStatus.REQUESTED)
    with pytest.raises(ValidationFailed) as refused:
        adhesion.activate(**{**CONVENTION, "start_date": date(2023, 4, 10)})
    assert refused.value.errors == {
        "start_date": ["before the deliberation approving the adhesion (2023-04-11)"]
    }


def test_reinstating_keeps_the_signed_convention():
    adhesion = adhesion_in(AdhesionStatus.SUSPENDED)
    with pytest.raises(ValidationFailed) as refused:
        adhesion.activate(convention_number="CONV-2024-001")
    assert set(refused.value.errors) == {"convention_number"}
    assert adhesion.status is AdhesionStatus.SUSPENDED

    adhesion.activate(**CONVENTION)  # the same values are no change
    assert adhesion.status is AdhesionStatus.ACTIVE
    assert adhesion.status_reason is None


def test_a_suspension_needs_a_reason():
    adhesion = adhesion_in(AdhesionStatus.ACTIVE)
    with pytest.raises(ValidationFailed) as refused:
        adhesion.suspend(reason="  ")
    assert set(refused.value.errors) == {"reason"}
    assert adhesion.status is AdhesionStatus.ACTIVE


def test_a_withdrawal_cannot_end_before_the_start():
    adhesion = adhesion_in(AdhesionStatus.ACTIVE)
    with pytest.raises(ValidationFailed) as refused:
        adhesion.withdraw(end_date=date(2023, 5, 31))
    assert refused.value.errors == {"end_date": ["before the start of the adhesion (2023-06-01)"]}
    adhesion.withdraw(end_date=date(2023, 6, 1))
    assert adhesion.status is AdhesionStatus.WITHDRAWN


def test_an_abandoned_request_ends_no_earlier_than_it_was_made():
    adhesion = adhesion_in(AdhesionStatus.REQUESTED)
    with pytest.raises(ValidationFailed):
        adhesion.withdraw(end_date=date(2023, 2, 28))
    adhesion.withdraw(end_date=date(2023, 3, 1), reason="délibération non adoptée")
    assert (adhesion.status, adhesion.status_reason) == (
        AdhesionStatus.WITHDRAWN,
        "délibération non adoptée",
    )


def test_only_an_active_adhesion_that_has_started_allows_ordering():
    active = adhesion_in(AdhesionStatus.ACTIVE)
    assert not active.allows_ordering_on(date(2023, 5, 31))
    assert active.allows_ordering_on(date(2023, 6, 1))
    for status in (AdhesionStatus.REQUESTED, AdhesionStatus.SUSPENDED, AdhesionStatus.WITHDRAWN):
        assert not adhesion_in(status).allows_ordering_on(date(2025, 1, 1))
