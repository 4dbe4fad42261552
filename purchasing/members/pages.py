"""Pages of the purchasing staff for members and adhesions, and a member's own adhesion.

Each page reads its input with the API's schemas (``purchasing.pages``) and calls one
service; refusals are shown next to their field and nothing is changed.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from flask import Blueprint, flash, redirect, render_template, url_for
from marshmallow import Schema

from purchasing.auth.access import allow, current_actor
from purchasing.auth.roles import Role
from purchasing.db import get_session
from purchasing.errors import DomainError
from purchasing.fields import today_in_paris
from purchasing.members import services
from purchasing.members.models import (
    ADHESION_TRANSITIONS,
    Adhesion,
    AdhesionStatus,
    Member,
    MemberKind,
)
from purchasing.members.schemas import (
    AdhesionActivateSchema,
    AdhesionRequestSchema,
    AdhesionSuspendSchema,
    AdhesionWithdrawSchema,
    MemberQuerySchema,
    MemberSchema,
)
from purchasing.money import ZERO
from purchasing.pages import PageForm, query_args

bp = Blueprint("members_pages", __name__)

MANAGERS = (Role.PURCHASING, Role.ADMIN)
_BOTH = ["GET", "POST"]
_ADHESION = "/members/<int:member_id>/adhesion"

KIND_LABELS = {
    MemberKind.COMMUNE: "Commune",
    MemberKind.EPCI: "EPCI",
    MemberKind.DEPARTEMENT: "Département",
    MemberKind.REGION: "Région",
    MemberKind.SYNDICAT: "Syndicat",
    MemberKind.ETABLISSEMENT_PUBLIC: "Établissement public",
    MemberKind.OTHER: "Autre",
}
ADHESION_LABELS = {
    AdhesionStatus.REQUESTED: "Demandée",
    AdhesionStatus.ACTIVE: "Active",
    AdhesionStatus.SUSPENDED: "Suspendue",
    AdhesionStatus.WITHDRAWN: "Retirée",
}


def refuse(form: PageForm, exc: DomainError) -> None:
    """Show a service's refusal next to its box; what concerns no box goes above the form.

    A refusal may name a field the form has no box for (``status`` of a transition the
    adhesion no longer allows, ``adhesion`` when one is already live): its message must
    still be read.
    """
    form.refuse(exc)
    boxes = {field.data_key or name for name, field in form.schema.load_fields.items()}
    for name in [name for name in form.errors if name not in boxes and name != "_form"]:
        form.errors.setdefault("_form", []).extend(form.errors.pop(name))


@bp.get("/members")
@allow(*MANAGERS)
def members() -> str:
    """Members, filtered and paginated."""
    args, errors = query_args(MemberQuerySchema())
    page, per_page = args.pop("page"), args.pop("per_page")
    found = services.list_members(
        get_session(),
        actor=current_actor(),
        filters=services.MemberFilters(**args),
        page=page,
        per_page=per_page,
    )
    return render_template(
        "members/list.html",
        page=found,
        filter_errors=errors,
        kinds=KIND_LABELS,
        adhesion_labels=ADHESION_LABELS,
    )


@bp.route("/members/new", methods=["GET", "POST"])
@allow(*MANAGERS)
def new_member() -> Any:
    """Register a member."""
    form = PageForm(MemberSchema())
    if form.submitted and (data := form.load()) is not None:
        try:
            member = services.create_member(get_session(), data, actor=current_actor())
        except DomainError as exc:
            refuse(form, exc)
        else:
            flash(f"Membre « {member.name} » enregistré.")
            return redirect(url_for("members_pages.member", member_id=member.id))
    return render_template("members/new.html", form=form, kinds=KIND_LABELS), form.status


@bp.get("/members/<int:member_id>")
@allow(*MANAGERS)
def member(member_id: int) -> str:
    """A member: its facts, its adhesion and their history, what may be done next."""
    found = services.get_member(get_session(), member_id, actor=current_actor())
    return render_template(
        "members/detail.html",
        member=found,
        kinds=KIND_LABELS,
        adhesion_labels=ADHESION_LABELS,
        actions=adhesion_actions(found.current_adhesion),
    )


@bp.route("/members/<int:member_id>/edit", methods=["GET", "POST"])
@allow(*MANAGERS)
def edit_member(member_id: int) -> Any:
    """Change a member's facts.

    The whole form is read as at creation (not as a partial change): a box left empty
    clears an optional value, and a required one left empty is refused, as it would be.
    """
    session = get_session()
    found = services.get_member(session, member_id, actor=current_actor())
    form = PageForm(
        MemberSchema(), initial={name: getattr(found, name) for name in services.MEMBER_FIELDS}
    )
    if form.submitted and (data := form.load()) is not None:
        try:
            services.update_member(session, member_id, data, actor=current_actor())
        except DomainError as exc:
            refuse(form, exc)
        else:
            flash(f"Membre « {found.name} » modifié.")
            return redirect(url_for("members_pages.member", member_id=member_id))
    return (
        render_template("members/edit.html", form=form, member=found, kinds=KIND_LABELS),
        form.status,
    )


# --- Adhesion actions -------------------------------------------------------------------


@dataclass(frozen=True)
class AdhesionAction:
    """A step of an adhesion's life, as a small form of the member's page."""

    #: The page's heading and button, in French.
    title: str
    button: str
    schema: Callable[[], Schema]
    #: The service doing it: ``run(session, member_id, actor=..., **form_data)``.
    run: Callable[..., Adhesion]
    #: Said once it is done.
    done: str
    #: What the boxes show at first.
    initial: Callable[[Member], Mapping[str, Any]] = lambda _member: {}


def _convention_so_far(member: Member) -> dict[str, Any]:
    """A request may have recorded the convention already: activating starts from it."""
    adhesion = member.current_adhesion
    if adhesion is None:
        return {}
    return {
        "convention_number": adhesion.convention_number,
        "deliberation_reference": adhesion.deliberation_reference,
        "deliberation_date": adhesion.deliberation_date,
    }


ADHESION_ACTIONS: dict[str, AdhesionAction] = {
    "request": AdhesionAction(
        title="Enregistrer une demande d'adhésion",
        button="Enregistrer la demande",
        schema=AdhesionRequestSchema,
        run=services.request_adhesion,
        done="Demande d'adhésion enregistrée.",
        initial=lambda _member: {"requested_on": today_in_paris()},
    ),
    "activate": AdhesionAction(
        title="Activer l'adhésion",
        button="Activer",
        schema=AdhesionActivateSchema,
        run=services.activate_adhesion,
        done="Adhésion active : le membre peut commander.",
        initial=_convention_so_far,
    ),
    "suspend": AdhesionAction(
        title="Suspendre l'adhésion",
        button="Suspendre",
        schema=AdhesionSuspendSchema,
        run=services.suspend_adhesion,
        done="Adhésion suspendue : le membre ne peut plus commander.",
    ),
    "withdraw": AdhesionAction(
        title="Retirer l'adhésion",
        button="Retirer",
        schema=AdhesionWithdrawSchema,
        run=services.withdraw_adhesion,
        done="Adhésion retirée.",
    ),
}


def adhesion_actions(adhesion: Adhesion | None) -> list[str]:
    """The steps the member's adhesion may take now, as the adhesion's transitions say.

    Reinstating a suspended adhesion is its activation without new values (a button, not
    the form).
    """
    if adhesion is None or not adhesion.is_live:
        return ["request"]
    targets = ADHESION_TRANSITIONS[adhesion.status]
    steps = {
        "activate": AdhesionStatus.ACTIVE,
        "suspend": AdhesionStatus.SUSPENDED,
        "withdraw": AdhesionStatus.WITHDRAWN,
    }
    return [step for step, target in steps.items() if target in targets]


# One address per step, the step passed to the view (a variable part would let any
# word through to the view before the access rule is checked).
@bp.route(f"{_ADHESION}/request", defaults={"step": "request"}, methods=_BOTH)
@bp.route(f"{_ADHESION}/activate", defaults={"step": "activate"}, methods=_BOTH)
@bp.route(f"{_ADHESION}/suspend", defaults={"step": "suspend"}, methods=_BOTH)
@bp.route(f"{_ADHESION}/withdraw", defaults={"step": "withdraw"}, methods=_BOTH)
@allow(*MANAGERS)
def adhesion_step(member_id: int, step: str) -> Any:
    """Request, activate (or reinstate), suspend or withdraw a member's adhesion."""
    action = ADHESION_ACTIONS[step]
    session = get_session()
    found = services.get_member(session, member_id, actor=current_actor())
    form = PageForm(action.schema(), initial=action.initial(found))
    if form.submitted and (data := form.load()) is not None:
        try:
            action.run(session, member_id, actor=current_actor(), **data)
        except DomainError as exc:
            refuse(form, exc)
        else:
            flash(action.done)
            return redirect(url_for("members_pages.member", member_id=member_id))
    return (
        render_template(
            "members/adhesion_step.html",
            form=form,
            member=found,
            step=step,
            action=action,
            adhesion_labels=ADHESION_LABELS,
        ),
        form.status,
    )


@bp.get("/my/adhesion")
@allow(Role.MEMBER)
def my_adhesion() -> str:
    """A member agent's own adhesion: status, dates, convention, deliberation, fee, and
    the service domains its collectivity joined."""
    actor = current_actor()
    session = get_session()
    found = services.get_member(session, actor.member_id, actor=actor)
    today = today_in_paris()
    fee_band = services.adhesion_fee_band(session, found, today.year)
    return render_template(
        "members/my_adhesion.html",
        member=found,
        adhesion=found.current_adhesion,
        today=today,
        fee=fee_band.amount if fee_band is not None else ZERO,
        fee_deliberation=fee_band.deliberation if fee_band is not None else None,
        adhesion_labels=ADHESION_LABELS,
    )
