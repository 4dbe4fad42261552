"""What every page for people does the same way: forms, list filters, navigation, files.

Pages read their input with the same marshmallow schemas as the API, so a rule is written
once. A browser sends strings, though: :func:`form_values` turns a submitted form into what
those schemas expect (an empty box is a missing value, "1 234,56" a decimal, a ticked box
True), and :class:`PageForm` keeps what was typed and the messages of each field, in French
(:mod:`purchasing.messages_fr`), to show them next to the field. A page's form is rendered
by the macros of ``templates/_macros.html``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from flask import Response, abort, current_app, request, send_file, url_for
from marshmallow import Schema, ValidationError, fields
from werkzeug.datastructures import MultiDict

from purchasing.auth.roles import Role
from purchasing.errors import DomainError
from purchasing.fields import ExactDecimal, StrictBoolean
from purchasing.messages_fr import french_errors, french_message, french_refusal

#: Values of a ticked checkbox; an unticked box sends nothing.
CHECKED = frozenset({"on", "1", "true", "yes", "oui"})
_SPACES = re.compile(r"[\s\u00a0\u202f]")


def form_values(schema: Schema, form: MultiDict[str, str]) -> dict[str, Any]:
    """The submitted ``form`` as ``schema`` loads it from JSON.

    Only the schema's own fields are read (the CSRF token and buttons are not data). Text
    that does not parse is passed on unchanged, so the schema names the field at fault.
    """
    values: dict[str, Any] = {}
    for name, field in schema.load_fields.items():
        key = field.data_key or name
        if isinstance(field, fields.List):
            items = [item.strip() for item in form.getlist(key) if item.strip()]
            if items:
                values[key] = items
            continue
        if isinstance(field, fields.Boolean | StrictBoolean):
            values[key] = form.get(key, "").strip().lower() in CHECKED
            continue
        raw = form.get(key)
        if raw is None or raw.strip() == "":
            continue
        values[key] = _typed(field, raw.strip())
    return values


def _typed(field: fields.Field, raw: str) -> Any:
    if isinstance(field, ExactDecimal | fields.Decimal | fields.Float):
        # French typing: "1 234,56" is 1234.56.
        return _SPACES.sub("", raw).replace(",", ".")
    if isinstance(field, fields.Integer) and re.fullmatch(r"[+-]?\d+", _SPACES.sub("", raw)):
        return int(_SPACES.sub("", raw))
    return raw


def _flatten(messages: Any, prefix: str = "") -> Iterable[tuple[str, str]]:
    """(field, message) pairs of marshmallow's nested messages; nested keys joined by '.'."""
    if isinstance(messages, str):
        yield prefix or "_form", messages
    elif isinstance(messages, Mapping):
        for key, value in messages.items():
            name = f"{prefix}.{key}" if prefix else str(key)
            yield from _flatten(value, "_form" if key == "_schema" else name)
    else:
        for value in messages:
            yield from _flatten(value, prefix)


class PageForm:
    """A form of a page: ``form.load()`` gives the data or None, errors kept per field.

    >>> form = PageForm(MemberSchema())
    >>> if form.submitted and (data := form.load()) is not None:
    ...     try:
    ...         services.create_member(session, data, actor=actor)
    ...     except DomainError as exc:
    ...         form.refuse(exc)
    """

    def __init__(self, schema: Schema, initial: Mapping[str, Any] | None = None) -> None:
        self.schema = schema
        self.submitted = request.method == "POST"
        self.raw: Mapping[str, Any] = request.form if self.submitted else dict(initial or {})
        self.errors: dict[str, list[str]] = {}

    def load(self) -> dict[str, Any] | None:
        try:
            return self.schema.load(form_values(self.schema, request.form))
        except ValidationError as exc:
            self._add(_flatten(exc.messages))
            return None

    def refuse(self, exc: DomainError) -> None:
        """Show a service's refusal next to its field, or above the form, in French."""
        self._add(refusal_pairs(exc))

    def _add(self, pairs: Iterable[tuple[str, str]]) -> None:
        for field, message in pairs:
            self.errors.setdefault(field, []).append(french_message(message, field))

    @property
    def valid(self) -> bool:
        return not self.errors

    @property
    def status(self) -> int:
        """422 for a refused submission, so tests and tools see the refusal."""
        return 422 if self.errors else 200

    def value(self, name: str, default: Any = "") -> Any:
        """What the box shows: what was typed, else the initial value."""
        value = self.raw.get(name, default)
        return "" if value is None else value

    def checked(self, name: str) -> bool:
        value = self.raw.get(name)
        return value is True or (isinstance(value, str) and value.lower() in CHECKED)

    def errors_of(self, name: str) -> list[str]:
        return self.errors.get(name, [])

    @property
    def form_errors(self) -> list[str]:
        """Messages that belong to no field shown on the page."""
        return self.errors.get("_form", [])


def refusal_pairs(exc: DomainError) -> list[tuple[str, str]]:
    """(field, French message) of a service's refusal; ("_form", ...) when it names none."""
    pairs = [(field, m) for field, messages in french_errors(exc).items() for m in messages]
    return pairs or [("_form", french_refusal(exc))]


def refusal_flash(exc: DomainError) -> str:
    """A refusal said in a flash message: "Opération refusée : ..." in French."""
    return f"Opération refusée : {french_refusal(exc)}"


def query_args(schema: Schema) -> tuple[dict[str, Any], dict[str, list[str]]]:
    """A list page's filters from its query string, read by the API's query schema.

    A bad filter is shown next to its box and the list shown unfiltered, not refused.
    """
    values = form_values(schema, request.args)
    try:
        return schema.load(values), {}
    except ValidationError as exc:
        errors: dict[str, list[str]] = {}
        for field, message in _flatten(exc.messages):
            errors.setdefault(field, []).append(french_message(message, field))
        good = {k: v for k, v in values.items() if k not in errors}
        try:
            return schema.load(good), errors
        except ValidationError:
            return schema.load({}), errors


def page_url(page: int) -> str:
    """This list page with the same filters, at ``page``."""
    args = request.args.to_dict()
    args["page"] = str(page)
    return url_for(request.endpoint or "web.home", **(request.view_args or {}), **args)


def send_document(content: bytes, filename: str, *, mimetype: str = "application/pdf") -> Response:
    """A stored document as a download, never cached by a shared proxy."""
    from io import BytesIO

    response = send_file(
        BytesIO(content), mimetype=mimetype, as_attachment=True, download_name=filename
    )
    response.headers["Cache-Control"] = "private, no-store"
    return response


def not_found_unless(condition: object) -> None:
    if not condition:
        abort(404)


@dataclass(frozen=True)
class NavLink:
    label: str
    endpoint: str
    roles: frozenset[Role]


_MEMBER = frozenset({Role.MEMBER})
_PURCHASING = frozenset({Role.PURCHASING, Role.ADMIN})
_FINANCE = frozenset({Role.FINANCE, Role.ADMIN})
_AUDIT = frozenset({Role.AUDITOR, Role.FINANCE, Role.ADMIN})
_STAFF = _PURCHASING | _FINANCE
_ALL = frozenset(Role)

#: The menu: each workspace's pages, shown to the roles that may open them. Entries whose
#: page is not served are left out, so the menu never links to a missing page.
NAVIGATION = (
    NavLink("Catalogue", "catalog_pages.catalogue", _ALL),
    NavLink("Mon panier", "orders_pages.cart", _MEMBER),
    NavLink("Mes commandes", "orders_pages.my_orders", _MEMBER),
    NavLink("Mes abonnements", "orders_pages.my_subscriptions", _MEMBER),
    NavLink("Mes factures", "billing_pages.my_invoices", _MEMBER),
    NavLink("Mon adhésion", "members_pages.my_adhesion", _MEMBER),
    NavLink("Membres", "members_pages.members", _PURCHASING),
    NavLink("Marchés à échéance", "catalog_pages.markets_expiring", _PURCHASING),
    NavLink("Commandes", "orders_staff_pages.orders", _STAFF),
    NavLink("Bons de commande", "orders_staff_pages.purchase_orders", _PURCHASING),
    NavLink("Factures fournisseurs", "orders_staff_pages.supplier_invoices", _STAFF),
    NavLink("Factures", "billing_pages.invoices", _FINANCE),
    NavLink("Facturation mensuelle", "billing_pages.billing_runs", _FINANCE),
    NavLink("Créances", "billing_pages.receivables", _FINANCE),
    NavLink("FEDER", "subsidies_pages.programmes", _FINANCE),
    NavLink("Comptabilité", "ledger_pages.exports", _AUDIT),
    NavLink("Rapport d'activité", "ledger_pages.activity", _AUDIT),
    NavLink("Journal d'audit", "audit_pages.trail", frozenset({Role.AUDITOR, Role.ADMIN})),
)


def navigation_for(role: Role | None) -> list[NavLink]:
    if role is None:
        return []
    served = current_app.view_functions
    return [link for link in NAVIGATION if role in link.roles and link.endpoint in served]
