"""A member agent's pages: the cart and its order form, my orders, my subscriptions.

The cart lives in the signed session cookie (SKUs and quantities, nothing else): it is
priced afresh from the catalogue each time it is shown, as an order placed today would
keep it, and becomes an order through the orders services only when the agent sends it.
Every page calls the services with the signed-in agent as actor, so another member's
order or subscription is unknown here (404), as in the API.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from flask import (
    Blueprint,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from marshmallow import Schema

from purchasing.auth.access import allow, current_actor
from purchasing.auth.roles import Actor, Role
from purchasing.catalog import pages as catalog_pages
from purchasing.catalog import services as catalog_services
from purchasing.catalog.orderable import orderable_products
from purchasing.db import get_session
from purchasing.errors import DomainError, NotFound
from purchasing.fields import PARIS, Text, today_in_paris
from purchasing.members import services as members_services
from purchasing.money import line_amount
from purchasing.orders import quote, services, subscriptions
from purchasing.orders.models import (
    DELIVERY_SITE_LENGTH,
    QUOTABLE_STATUSES,
    Order,
    OrderLine,
    OrderStatus,
    Subscription,
)
from purchasing.orders.schemas import (
    OrderCreateSchema,
    OrderLineInputSchema,
    OrderQuerySchema,
    OrderUpdateSchema,
    ReasonSchema,
    SubscriptionQuerySchema,
)
from purchasing.pages import PageForm, french_message, query_args, send_document
from purchasing.subsidies.services import AidEstimate, PricedLine, estimate_aid

bp = Blueprint("orders_pages", __name__)

MEMBER = Role.MEMBER

STATUS_LABELS = {
    OrderStatus.DRAFT: "Brouillon",
    OrderStatus.SUBMITTED: "Envoyée à la centrale",
    OrderStatus.APPROVED: "Validée par la centrale",
    OrderStatus.ORDERED: "Commandée aux fournisseurs",
    OrderStatus.PARTLY_DELIVERED: "Livrée en partie",
    OrderStatus.DELIVERED: "Livrée",
    OrderStatus.CLOSED: "Clôturée",
    OrderStatus.CANCELLED: "Annulée",
}
#: Where the services let a member agent cancel its order (once the centre approved it,
#: only its staff may): the page offers the button there only.
MEMBER_CANCELLABLE = frozenset({OrderStatus.DRAFT, OrderStatus.SUBMITTED})
#: What a cookie holds comfortably: a cart is a list of SKUs and quantities.
MAX_CART_ITEMS = 40

#: A cart item as the catalogue's add-to-cart form sends it, read like an API order line.
CART_ITEM_FIELDS = ("sku", "quantity")
#: The boxes of the cart's order form.
ORDER_FORM_FIELDS = ("engagement_number", "delivery_site", "note")


class OrderFormSchema(OrderCreateSchema):
    """The cart's order form: the order's terms, and where to deliver its lines."""

    delivery_site = Text(load_default="", max_length=DELIVERY_SITE_LENGTH)

    class Meta:
        exclude = ("member_id", "order_date", "lines")


# --- The cart -------------------------------------------------------------------------


class Cart:
    """The agent's cart in its session: ``{sku: quantity}`` in the order items were added.

    Bound to the user who filled it, so a browser shared by two agents never hands one
    the other's cart.
    """

    KEY = "cart"

    def __init__(self, actor: Actor) -> None:
        self.user_id = actor.id
        stored = session.get(self.KEY) or {}
        items = stored.get("items", []) if stored.get("user") == self.user_id else []
        self.items: dict[str, Decimal] = {sku: Decimal(quantity) for sku, quantity in items}

    def quantity_of(self, sku: str) -> Decimal:
        return self.items.get(sku, Decimal(0))

    def put(self, sku: str, quantity: Decimal) -> None:
        self.items[sku] = quantity
        self._save()

    def remove(self, sku: str) -> None:
        self.items.pop(sku, None)
        self._save()

    def clear(self) -> None:
        self.items.clear()
        self._save()

    @property
    def full(self) -> bool:
        return len(self.items) >= MAX_CART_ITEMS

    def _save(self) -> None:
        session[self.KEY] = {
            "user": self.user_id,
            "items": [[sku, str(quantity)] for sku, quantity in self.items.items()],
        }


@dataclass(frozen=True)
class CartLine:
    """A cart item priced as an order line placed today would keep it, or why it cannot be."""

    sku: str
    quantity: Decimal
    #: Not added to any order: the line an order of today would hold.
    line: OrderLine | None
    problem: str | None = None
    aid: AidEstimate | None = None


@bp.app_template_global()
def cart_item_form(sku: str) -> PageForm:
    """The add-to-cart form of a catalogue page, quantity 1."""
    return _idle_form(OrderLineInputSchema(only=CART_ITEM_FIELDS), {"sku": sku, "quantity": "1"})


@bp.get("/cart")
@allow(MEMBER)
def cart() -> Any:
    """My cart, priced today, and the form that orders it."""
    return _render_cart(order_form=_idle_form(OrderFormSchema(), {}))


@bp.post("/cart/items")
@allow(MEMBER)
def add_to_cart() -> Any:
    """Put a product in my cart (its quantity is added to what the cart holds)."""
    form = PageForm(OrderLineInputSchema(only=CART_ITEM_FIELDS))
    sku = request.form.get("sku", "").strip()
    # An unknown product answers 404 before anything else is read.
    priced = catalog_services.get_priced_product(get_session(), sku, on=today_in_paris())
    basket = Cart(current_actor())
    data = form.load()
    if not priced.product.active or priced.price is None:
        form.errors.setdefault("_form", []).append(
            "Ce produit ne peut pas être commandé aujourd'hui."
        )
    elif data is not None:
        quantity = basket.quantity_of(priced.product.sku) + data["quantity"]
        problem = _quantity_problem(quantity)
        if problem:
            form.errors.setdefault("quantity", []).append(problem)
        elif sku not in basket.items and basket.full:
            form.errors.setdefault("quantity", []).append(
                f"Votre panier contient déjà {MAX_CART_ITEMS} produits : commandez-les d'abord."
            )
        else:
            basket.put(priced.product.sku, quantity)
            flash(f"« {priced.product.name} » ajouté au panier.")
            return redirect(url_for("orders_pages.cart"))
    return catalog_pages.render_product(sku, cart_form=form, status=422)


@bp.post("/cart/items/<sku>")
@allow(MEMBER)
def update_cart_item(sku: str) -> Any:
    """Change the quantity of a product in my cart."""
    basket = Cart(current_actor())
    if sku not in basket.items:
        return redirect(url_for("orders_pages.cart"))
    form = PageForm(OrderLineInputSchema(only=("quantity",)))
    data = form.load()
    if data is None:
        return _render_cart(
            order_form=_idle_form(OrderFormSchema(), {}),
            item_errors={sku: form.errors_of("quantity")},
            typed={sku: request.form.get("quantity", "")},
        )
    basket.put(sku, data["quantity"])
    flash("Quantité mise à jour.")
    return redirect(url_for("orders_pages.cart"))


@bp.post("/cart/items/<sku>/remove")
@allow(MEMBER)
def remove_from_cart(sku: str) -> Any:
    """Take a product out of my cart."""
    Cart(current_actor()).remove(sku)
    flash("Produit retiré du panier.")
    return redirect(url_for("orders_pages.cart"))


@bp.post("/cart/order")
@allow(MEMBER)
def place_order() -> Any:
    """Order my cart: send it to the centre, or keep it as a draft order."""
    basket = Cart(current_actor())
    form = PageForm(OrderFormSchema())
    send = request.form.get("intent") != "draft"
    if not basket.items:
        flash("Votre panier est vide.", "error")
        return redirect(url_for("orders_pages.cart"))
    if (data := form.load()) is not None:
        site = data.pop("delivery_site")
        lines = [
            services.LineInput(sku=sku, quantity=quantity, delivery_site=site)
            for sku, quantity in basket.items.items()
        ]
        try:
            order = services.create_order(
                get_session(), actor=current_actor(), lines=lines, submit=send, **data
            )
        except DomainError as exc:
            form.refuse(exc)
        else:
            basket.clear()
            flash(
                f"Commande {order.reference} envoyée à la centrale."
                if send
                else f"Commande {order.reference} enregistrée en brouillon."
            )
            return redirect(url_for("orders_pages.my_order", order_id=order.id))
    return _render_cart(order_form=form)


def _render_cart(
    *,
    order_form: PageForm,
    item_errors: Mapping[str, list[str]] | None = None,
    typed: Mapping[str, str] | None = None,
) -> Any:
    actor = current_actor()
    db = get_session()
    today = today_in_paris()
    lines = _priced_cart(Cart(actor), today)
    priced = [line.line for line in lines if line.line is not None]
    member = members_services.get_member(db, actor.member_id, actor=actor)
    refused = order_form.errors or item_errors
    return render_template(
        "orders/cart.html",
        lines=lines,
        general_errors=_unshown_errors(order_form, ORDER_FORM_FIELDS),
        totals=quote.totals_by_billing(priced),
        member=member,
        today=today,
        form=order_form,
        item_errors=item_errors or {},
        typed=typed or {},
        billing_labels=catalog_pages.BILLING_LABELS,
        period_labels=catalog_pages.PERIOD_LABELS,
    ), (422 if refused else 200)


def _priced_cart(basket: Cart, today: date) -> list[CartLine]:
    """The cart's items priced today; an item no longer orderable says why."""
    products = orderable_products(get_session(), basket.items, today)
    lines: list[CartLine] = []
    for position, (sku, quantity) in enumerate(basket.items.items(), start=1):
        product = products.get(sku)
        if product is None:
            lines.append(CartLine(sku, quantity, None, "Ce produit n'est plus proposé."))
        elif product.quote is None:
            lines.append(CartLine(sku, quantity, None, "Aucun prix n'est en vigueur aujourd'hui."))
        elif not product.active:
            lines.append(CartLine(sku, quantity, None, "Ce produit n'est plus proposé."))
        else:
            line = OrderLine.priced(product, quantity=quantity, position=position)
            lines.append(CartLine(sku, quantity, line))
    aids = _cart_aids(current_actor(), lines, today)
    return [
        CartLine(item.sku, item.quantity, item.line, item.problem, aids.get(index))
        for index, item in enumerate(lines)
    ]


def _cart_aids(actor: Actor, lines: list[CartLine], today: date) -> dict[int, AidEstimate]:
    """The aid the cart's lines would get together (they share the envelope)."""
    requests = [
        PricedLine(
            key=index,
            product_id=item.line.product_id,
            subsidy_eligible=item.line.subsidy_eligible,
            quantity=item.quantity,
            gross_amount=item.line.amount,
            vat_rate=item.line.vat_rate,
        )
        for index, item in enumerate(lines)
        if item.line is not None and not item.line.contracted_directly_by_member
    ]
    return estimate_aid(get_session(), member_id=actor.member_id, on=today, lines=requests)


def _quantity_problem(quantity: Decimal) -> str | None:
    """Why a cart total is no quantity an order line takes, in the API's own words."""
    errors = OrderLineInputSchema(only=("quantity",)).validate({"quantity": str(quantity)})
    return french_message(errors["quantity"][0], "quantity") if errors else None


# --- My orders ------------------------------------------------------------------------


@bp.get("/my/orders")
@allow(MEMBER)
def my_orders() -> Any:
    """My collectivity's orders, most recent first, filtered by status."""
    args, errors = query_args(OrderQuerySchema(only=("status", "page", "per_page")))
    page, per_page = args.pop("page"), args.pop("per_page")
    found = services.list_orders(
        get_session(),
        actor=current_actor(),
        filters=services.OrderFilters(**args),
        page=page,
        per_page=per_page,
    )
    return render_template(
        "orders/my_orders.html",
        page=found,
        filter_errors=errors,
        status_labels=STATUS_LABELS,
        totals_of=quote.totals_by_billing,
    )


@bp.get("/my/orders/<int:order_id>")
@allow(MEMBER)
def my_order(order_id: int) -> Any:
    """One of my orders: its lines, totals, history, and what I may still do with it."""
    order = services.get_order(get_session(), order_id, actor=current_actor())
    return _render_order(order)


@bp.post("/my/orders/<int:order_id>")
@allow(MEMBER)
def update_my_order(order_id: int) -> Any:
    """Change the engagement number or the note of my draft order."""
    form = PageForm(OrderUpdateSchema())
    db = get_session()
    if (data := form.load()) is not None:
        # The form shows both fields: a box left empty clears it.
        changes = {"engagement_number": data.get("engagement_number"), "note": data.get("note", "")}
        try:
            services.update_order(db, order_id, changes, actor=current_actor())
        except DomainError as exc:
            form.refuse(exc)
        else:
            flash("Commande mise à jour.")
            return redirect(url_for("orders_pages.my_order", order_id=order_id))
    order = services.get_order(db, order_id, actor=current_actor())
    return _render_order(order, terms_form=form)


@bp.post("/my/orders/<int:order_id>/submit")
@allow(MEMBER)
def submit_my_order(order_id: int) -> Any:
    """Send my draft order to the centre."""
    db = get_session()
    try:
        order = services.submit_order(db, order_id, actor=current_actor())
    except NotFound:
        raise
    except DomainError as exc:
        # Shown with the draft's terms: a missing engagement number next to its box.
        order = services.get_order(db, order_id, actor=current_actor())
        terms = _idle_form(OrderUpdateSchema(), _terms_of(order))
        terms.refuse(exc)
        return _render_order(order, terms_form=terms)
    flash(f"Commande {order.reference} envoyée à la centrale.")
    return redirect(url_for("orders_pages.my_order", order_id=order_id))


@bp.post("/my/orders/<int:order_id>/cancel")
@allow(MEMBER)
def cancel_my_order(order_id: int) -> Any:
    """Cancel my order while the centre has not approved it, saying why."""
    form = PageForm(ReasonSchema())
    db = get_session()
    if (data := form.load()) is not None:
        try:
            order = services.cancel_order(
                db, order_id, reason=data["reason"], actor=current_actor()
            )
        except NotFound:
            raise
        except DomainError as exc:
            form.refuse(exc)
        else:
            flash(f"Commande {order.reference} annulée.")
            return redirect(url_for("orders_pages.my_order", order_id=order_id))
    order = services.get_order(db, order_id, actor=current_actor())
    return _render_order(order, cancel_form=form)


@bp.post("/my/orders/<int:order_id>/lines/<int:line_id>/remove")
@allow(MEMBER)
def remove_my_order_line(order_id: int, line_id: int) -> Any:
    """Take a line out of my draft order."""
    services.remove_order_line(get_session(), order_id, line_id, actor=current_actor())
    flash("Ligne retirée de la commande.")
    return redirect(url_for("orders_pages.my_order", order_id=order_id))


@bp.get("/my/orders/<int:order_id>/quote.pdf")
@allow(MEMBER)
def my_order_quote(order_id: int) -> Any:
    """The quote (devis) of my draft or submitted order, as a PDF."""
    data = services.quote_of_order(
        get_session(), order_id, seller=current_app.config["SELLER"], actor=current_actor()
    )
    return send_document(quote.render_quote_pdf(data), f"devis-{data.reference}.pdf")


@dataclass(frozen=True)
class HistoryEntry:
    at: datetime
    label: str
    detail: str | None = None


def _history(order: Order) -> list[HistoryEntry]:
    """What happened to the order, from the moments it keeps, in Paris time.

    An order returned and submitted again keeps its last submission only; the audit trail
    holds every move.
    """
    moments = [
        (order.created_at, "Commande créée", None),
        (order.submitted_at, "Envoyée à la centrale", None),
        (order.returned_at, "Renvoyée par la centrale pour modification", order.return_reason),
        (order.approved_at, "Validée par la centrale", None),
        (order.sent_at, "Commandée aux fournisseurs", None),
        (order.delivered_at, "Entièrement livrée ou mise en service", None),
        (order.closed_at, "Clôturée", None),
        (order.cancelled_at, "Annulée", order.cancellation_reason),
    ]
    entries = [
        HistoryEntry(_in_paris(at), label, detail)
        for at, label, detail in moments
        if at is not None
    ]
    return sorted(entries, key=lambda entry: entry.at)


def _in_paris(moment: datetime) -> datetime:
    # Stamps are UTC; SQLite gives them back without their zone.
    aware = moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
    return aware.astimezone(PARIS)


def _terms_of(order: Order) -> dict[str, str]:
    return {"engagement_number": order.engagement_number or "", "note": order.note}


def _render_order(
    order: Order, *, terms_form: PageForm | None = None, cancel_form: PageForm | None = None
) -> Any:
    forms = {
        "terms": terms_form or _idle_form(OrderUpdateSchema(), _terms_of(order)),
        "cancel": cancel_form or _idle_form(ReasonSchema(), {}),
    }
    refused = any(form.errors for form in forms.values())
    return render_template(
        "orders/my_order.html",
        order=order,
        terms_errors=_unshown_errors(forms["terms"], ("engagement_number", "note")),
        cancel_errors=_unshown_errors(forms["cancel"], ("reason",)),
        totals=quote.totals_by_billing(order.lines),
        history=_history(order),
        forms=forms,
        editable=order.status is OrderStatus.DRAFT,
        # A refused cancellation is shown with its form, whatever the status.
        cancellable=order.status in MEMBER_CANCELLABLE or bool(forms["cancel"].errors),
        quotable=order.status in QUOTABLE_STATUSES,
        status_labels=STATUS_LABELS,
        billing_labels=catalog_pages.BILLING_LABELS,
        period_labels=catalog_pages.PERIOD_LABELS,
    ), (422 if refused else 200)


def _unshown_errors(form: PageForm, shown: tuple[str, ...]) -> list[str]:
    """Refusals of no box of the form (adhesion, domains, status): shown above it. A cart
    line's own refusal (``lines[2].quantity``) is shown on its line."""
    return [
        message
        for field, messages in form.errors.items()
        if field not in shown and not field.startswith("lines[")
        for message in messages
    ]


def _idle_form(schema: Schema, initial: Mapping[str, Any]) -> PageForm:
    """A form of the page that was not the one sent: it shows its initial values."""
    form = PageForm(schema, initial=initial)
    form.submitted = False
    form.raw = dict(initial)
    return form


# --- My subscriptions -----------------------------------------------------------------


@bp.get("/my/subscriptions")
@allow(MEMBER)
def my_subscriptions() -> Any:
    """My collectivity's services in service or ended, with their period price."""
    args, errors = query_args(SubscriptionQuerySchema(only=("active_on", "page", "per_page")))
    page, per_page = args.pop("page"), args.pop("per_page")
    found = subscriptions.list_subscriptions(
        get_session(),
        actor=current_actor(),
        filters=subscriptions.SubscriptionFilters(**args),
        page=page,
        per_page=per_page,
    )
    today = today_in_paris()
    return render_template(
        "orders/my_subscriptions.html",
        page=found,
        rows=[_subscription_row(subscription, today) for subscription in found.items],
        today=today,
        filter_errors=errors,
        period_labels=catalog_pages.PERIOD_LABELS,
    )


@dataclass(frozen=True)
class SubscriptionRow:
    subscription: Subscription
    quantity: Decimal
    #: What one full period costs at today's quantity, before VAT.
    period_amount: Decimal
    status: str
    status_label: str


def _subscription_row(subscription: Subscription, today: date) -> SubscriptionRow:
    if subscription.start_date > today:
        status, label = "pending", f"Démarre le {subscription.start_date:%d/%m/%Y}"
    elif subscription.end_date is None:
        status, label = "active", "En service"
    elif subscription.end_date >= today:
        status, label = "active", f"En service jusqu'au {subscription.end_date:%d/%m/%Y}"
    else:
        status, label = "closed", f"Terminé le {subscription.end_date:%d/%m/%Y}"
    # Not yet started, or ended: the quantity it starts (or ended) with.
    day = max(today, subscription.start_date)
    if subscription.end_date is not None:
        day = min(day, subscription.end_date)
    quantity = subscription.quantity_on(day)
    return SubscriptionRow(
        subscription=subscription,
        quantity=quantity,
        period_amount=line_amount(subscription.unit_price, quantity),
        status=status,
        status_label=label,
    )
