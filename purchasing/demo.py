"""``centrale demo``: the demo data set — members of Nord / Pas-de-Calais and the service
domains each joined, a user per role, and last month's orders and invoices.

Idempotent: members already present are kept, users already present are not recreated.
The credentials printed here are for a local demonstration only.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext
from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload

from purchasing.auth import services as auth_services
from purchasing.auth.models import User
from purchasing.billing import periods
from purchasing.billing import run as billing_run
from purchasing.billing.settings import BillingSettings, settings_from_config
from purchasing.catalog.models import MarketLot, Product, ServiceDomain
from purchasing.cli_support import reports_domain_errors
from purchasing.config import PROJECT_ROOT
from purchasing.db import get_session
from purchasing.fields import today_in_paris
from purchasing.members import services as member_services
from purchasing.members.models import Member
from purchasing.orders import services as order_services
from purchasing.orders.models import Order

DEMO_DIR = PROJECT_ROOT / "demo"
DEMO_PASSWORD = "demo-centrale-2026"
DEMO_TOKEN_LABEL = "demo"
STAFF = [
    ("admin@centrale.example", "admin", "Administratrice"),
    ("achats@centrale.example", "purchasing", "Service achats"),
    ("finances@centrale.example", "finance", "Service finances"),
    ("audit@centrale.example", "auditor", "Commissaire aux comptes"),
]


_D = ServiceDomain
#: The service domains each demo member joined (by SIRET), by the same deliberation of its
#: council as its adhesion: what a commune, an EPCI or a département of the area would take.
DEMO_DOMAINS: dict[str, tuple[ServiceDomain, ...]] = {
    # Arras
    "21620041000019": (_D.TELECOM, _D.VIDEO_PROTECTION, _D.MAIRIE_CONNECTEE, _D.CYBERSECURITY),
    "21590043200018": (_D.TELECOM, _D.VIDEO_PROTECTION, _D.MAIRIE_CONNECTEE),  # Bailleul
    "21590209900013": (_D.TELECOM, _D.MAIRIE_CONNECTEE),  # Esquelbecq
    "21620054300017": (_D.MAIRIE_CONNECTEE,),  # Audresselles
    # CC de Flandre Intérieure
    "20004094700018": (_D.TELECOM, _D.MAIRIE_CONNECTEE, _D.IOT, _D.CYBERSECURITY),
    "24620036400015": (_D.VIDEO_PROTECTION, _D.IOT),  # CC de la Terre des Deux Caps
    "22620001200012": (_D.TELECOM, _D.CYBERSECURITY),  # Département du Pas-de-Calais
    "20005374200017": (_D.CYBERSECURITY,),  # Région Hauts-de-France
    "25590123300015": (_D.IOT,),  # syndicat d'énergie
    "19620089300010": (_D.TELECOM,),  # collège
    "28590002300018": (_D.TELECOM, _D.VIDEO_PROTECTION, _D.CYBERSECURITY),  # SDIS du Nord
    "13002143900018": (_D.MAIRIE_CONNECTEE,),  # CCI Grand Lille
}


def load_demo_members(session: Session, csv_path: Path) -> int:
    """Import the demo members, with the service domains each joined, unless they are
    already there; the number imported."""
    if session.scalar(select(Member.id).limit(1)) is not None:
        return 0
    with csv_path.open(encoding="utf-8-sig", newline="") as stream:
        imported = member_services.import_members_csv(
            session, stream.read(), source_name=csv_path.name, imported_by=None
        )
    for member in session.scalars(select(Member).order_by(Member.id)).all():
        adhesion = member.current_adhesion
        for domain in DEMO_DOMAINS.get(member.siret, ()):
            member_services.join_service_domain(
                session,
                member.id,
                domain=domain,
                start_date=adhesion.start_date,
                deliberation_reference=adhesion.deliberation_reference,
                deliberation_date=adhesion.deliberation_date,
                actor=None,
            )
    return imported


@dataclass(frozen=True)
class DemoOrder:
    member_index: int
    lines: tuple[tuple[str, str], ...]  # (SKU, quantity)
    engagement_number: str


#: What the demo members ordered last month: Mairie Connectée modules and video-protection
#: equipment (wholesaler). A line whose market is not in force from last month to today is
#: left out (:func:`orderable_lines`): the demo loads whatever today's date, each market
#: leaving the demo orders when it ends.
DEMO_ORDERS = (
    DemoOrder(0, (("MC-MESSAGERIE", "25"), ("MC-DOMAINE", "1"), ("MC-SAUVEGARDE", "1")), "ENG-1"),
    DemoOrder(1, (("VID-CAM-DOME", "4"), ("MC-DEMARCHES", "1")), "ENG-2"),
    DemoOrder(2, (("MC-MESSAGERIE", "6"), ("MC-SITE", "1")), "ENG-3"),
)


def orderable_lines(
    session: Session, spec: DemoOrder, *, ordered_on: date, approved_on: date
) -> list[tuple[str, str]]:
    """The lines of ``spec`` that can be ordered on ``ordered_on`` and approved on
    ``approved_on``: products offered, priced on the order date, and bought under a market
    lot in force on both days (an order is approved only while its markets are)."""
    skus = [sku for sku, _quantity in spec.lines]
    products = {
        product.sku: product
        for product in session.scalars(
            select(Product)
            .where(Product.sku.in_(skus))
            .options(joinedload(Product.lot).joinedload(MarketLot.market))
        )
    }

    def orderable(sku: str) -> bool:
        product = products.get(sku)
        if product is None or not product.active or product.lot is None:
            return False
        market = product.lot.market
        return (
            market.covers(ordered_on)
            and market.covers(approved_on)
            and product.price_version_on(ordered_on) is not None
        )

    return [(sku, quantity) for sku, quantity in spec.lines if orderable(sku)]


def load_demo_activity(session: Session, settings: BillingSettings) -> int:
    """Orders of the demo members, delivered and commissioned last month, then that
    month's billing run; nothing when orders already exist. The invoices issued.

    Only what can be ordered last month and approved today goes into the orders (see
    :func:`orderable_lines`); an order left without lines is not placed.
    """
    if session.scalar(select(Order.id).limit(1)) is not None:
        return 0
    today = today_in_paris()
    last_day_of_last_month = today.replace(day=1) - timedelta(days=1)
    last_month = periods.parse_month(f"{last_day_of_last_month:%Y-%m}")
    members = session.scalars(select(Member).order_by(Member.id)).all()
    for spec in DEMO_ORDERS:
        lines = orderable_lines(session, spec, ordered_on=last_month.start, approved_on=today)
        if not lines:
            continue
        order = order_services.create_order(
            session,
            actor=None,
            member_id=members[spec.member_index].id,
            order_date=last_month.start,
            engagement_number=f"{spec.engagement_number}-{last_month.start:%Y%m}",
            lines=[
                order_services.LineInput(sku=sku, quantity=Decimal(quantity))
                for sku, quantity in lines
            ],
        )
        for step in (
            order_services.submit_order,
            order_services.approve_order,
            order_services.send_order,
        ):
            step(session, order.id, actor=None)
        fulfilled_on = last_month.start + timedelta(days=9)
        for line in order.lines:
            if line.is_recurring:
                order_services.record_commissioning(
                    session, order.id, line.id, commissioned_on=fulfilled_on, actor=None
                )
            else:
                order_services.record_delivery(
                    session,
                    order.id,
                    line.id,
                    quantity=line.quantity,
                    delivered_on=fulfilled_on,
                    actor=None,
                )
    result = billing_run.run_billing(
        session, f"{last_month.start:%Y-%m}", settings=settings, started_by=None
    )
    return len(result.issued)


def ensure_user(
    session: Session, *, email: str, role: str, full_name: str, member_id: int | None = None
) -> tuple[User, str]:
    """The user with this e-mail (created when missing) and a fresh demo API token.

    Only a token's hash is stored, so each run revokes the previous demo token and
    prints a new one: the printed credentials always work.
    """
    user = session.scalar(select(User).where(User.email == email))
    if user is None:
        user = auth_services.create_user(
            session,
            email=email,
            role=role,
            member_id=member_id,
            password=DEMO_PASSWORD,
            full_name=full_name,
            created_by=None,
        )
    for token in auth_services.list_tokens(session, user_id=user.id):
        if token.label == DEMO_TOKEN_LABEL and token.revoked_at is None:
            auth_services.revoke_token(session, token_id=token.id, revoked_by=None)
    issued = auth_services.issue_token(
        session, user_id=user.id, label=DEMO_TOKEN_LABEL, issued_by=None
    )
    return user, issued.secret


@click.command("demo")
@with_appcontext
@reports_domain_errors
def demo() -> None:
    """Load the demo members and users, and print their credentials."""
    session = get_session()
    imported = load_demo_members(session, DEMO_DIR / "members.csv")
    click.echo(f"demo members imported: {imported}")
    invoices = load_demo_activity(session, settings_from_config(current_app.config))
    click.echo(f"demo orders billed last month: {invoices} invoice(s)")
    rows = [ensure_user(session, email=e, role=r, full_name=n) for e, r, n in STAFF]
    members = session.scalars(select(Member).order_by(Member.id).limit(3))
    for member in members:
        email = f"agent.{member.id}@{member.billing_email.split('@', 1)[1]}"
        rows.append(
            ensure_user(
                session,
                email=email,
                role="member",
                full_name=f"Agent de {member.name}",
                member_id=member.id,
            )
        )
    click.echo(f"\nDemo accounts (password for all: {DEMO_PASSWORD}):")
    for user, token in rows:
        member = f" — {session.get(Member, user.member_id).name}" if user.member_id else ""
        click.echo(f"  {user.role.value:<10} {user.email}{member}")
        click.echo(f"             API token: {token}")
