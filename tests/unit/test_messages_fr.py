"""The pages' French: every refusal the services and schemas can word reads in French.

The services word their refusals in English for the API; ``purchasing.messages_fr`` is the
one place the pages translate them. These tests walk every ``DomainError`` subclass of the
project, and every message the project's source raises or records, through it.
"""

from __future__ import annotations

import ast
import importlib
import pkgutil
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace

import pytest

import purchasing
from purchasing.errors import DomainError, ImportRefused, InvalidTransition, NotFound
from purchasing.messages_fr import (
    french_errors,
    french_message,
    french_mismatch,
    french_refusal,
    is_english,
    looks_french,
)

SOURCE = Path(purchasing.__file__).parent
#: Modules that need a running broker or worker to import; they word no refusal.
SKIPPED_MODULES = ("purchasing.celery_worker",)


def _import_all() -> None:
    for module in pkgutil.walk_packages(purchasing.__path__, "purchasing."):
        if module.name.startswith(SKIPPED_MODULES):
            continue
        importlib.import_module(module.name)


def _subclasses(cls: type) -> set[type]:
    found = set()
    for sub in cls.__subclasses__():
        found |= {sub, *_subclasses(sub)}
    return found


_import_all()
DOMAIN_ERRORS = sorted(_subclasses(DomainError) | {DomainError}, key=lambda c: c.__qualname__)
ERROR_NAMES = {cls.__name__ for cls in DOMAIN_ERRORS} | {"ValidationError", "InvalidValue"}


def assert_french(text: str) -> None:
    assert looks_french(text) and not is_english(text), text


# --- Every DomainError subclass -----------------------------------------------------------


@pytest.mark.parametrize("cls", DOMAIN_ERRORS, ids=lambda cls: cls.__qualname__)
def test_every_domain_error_reads_in_french(cls):
    # Built without its own __init__ (some take ORM objects): the message is one no rule
    # knows, so what the class handler or the generic sentence says is checked.
    refused = cls.__new__(cls)
    DomainError.__init__(refused, "an unheard-of refusal", field="amount")

    assert_french(french_refusal(refused))
    for messages in french_errors(refused).values():
        for message in messages:
            assert_french(message)


def test_a_transition_names_the_entity_and_both_statuses_in_french():
    said = french_refusal(InvalidTransition("order", "draft", "approved"))

    assert said == "Impossible de faire passer la commande de « brouillon » à « approuvée »."


def test_a_transition_to_the_same_status_says_it_already_is():
    said = french_refusal(InvalidTransition("adhesion", "active", "active"))

    assert said == "Impossible : l'adhésion est déjà « active »."


def test_not_found_never_shows_the_english_id_message():
    assert "999" not in french_refusal(NotFound("no order with id 999", field="order_id"))
    assert_french(french_refusal(NotFound("no order with id 999", field="order_id")))


def test_a_refused_import_counts_its_problems():
    said = french_refusal(ImportRefused("members.csv", ["line 2: siret: bad", "line 3: x"]))

    assert said == "Fichier refusé : 2 problème(s), rien n'a été importé."


def test_login_throttling_says_how_long_to_wait():
    from purchasing.auth.services import TooManyLoginFailures

    assert "5 minute(s)" in french_refusal(TooManyLoginFailures(timedelta(minutes=5)))


# --- Every message of the source ----------------------------------------------------------

_SAMPLES = (
    (("year",), "2026"),
    (("isoformat", "date", "day", "_on", "start", "end", "since", "adopted"), "2026-03-15"),
    (("amount", "cost", "total", "left", "ceiling", "consumed", "grant", "price"), "12.50"),
    (("quantity", "count", "places", "index", "position", "_id", "length", "id"), "2"),
    (("status",), "draft"),
)


def _sample(node: ast.expr) -> str:
    """What a placeholder of an f-string holds at run time, near enough to match."""
    text = ast.unparse(node).lower()
    for words, sample in _SAMPLES:
        if any(word in text for word in words):
            return sample
    return "MC-MAIL"


def _text(node: ast.expr) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        parts = []
        for value in node.values:
            if isinstance(value, ast.Constant):
                parts.append(str(value.value))
            elif isinstance(value, ast.FormattedValue):
                parts.append(_sample(value.value))
        return "".join(parts)
    return None


def _messages() -> list[tuple[str, str]]:
    """(where, message) of every refusal the source raises or records for a field."""
    found = []
    for path in sorted(SOURCE.rglob("*.py")):
        if path.name in ("pages.py", "staff_pages.py", "messages_fr.py", "cli.py"):
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            texts: list[ast.expr] = []
            if isinstance(node, ast.Raise) and isinstance(node.exc, ast.Call):
                func = node.exc.func
                name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", "")
                # An InvalidTransition names an entity, not a message: its class says it.
                if name in ERROR_NAMES - {"InvalidTransition"} and node.exc.args:
                    texts.append(node.exc.args[0])
            elif isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Subscript):
                target = node.targets[0].value
                named = isinstance(target, ast.Name) and target.id == "problems"
                if named and isinstance(node.value, ast.List):
                    texts.extend(node.value.elts)
            elif isinstance(node, ast.keyword) and node.arg == "error":
                texts.append(node.value)
            for expr in texts:
                text = _text(expr)
                if text and is_english(text):
                    where = f"{path.relative_to(SOURCE.parent)}:{expr.lineno}"
                    found.append((where, text))
    return found


MESSAGES = _messages()


def test_the_source_walk_finds_the_refusals():
    assert len(MESSAGES) > 150


@pytest.mark.parametrize(("where", "message"), MESSAGES, ids=[w for w, _ in MESSAGES])
def test_every_message_of_the_source_reads_in_french(where, message):
    assert_french(french_message(message, "amount"))
    assert_french(french_message(message))


def test_most_messages_are_translated_not_only_generic():
    generic = [m for _, m in MESSAGES if "vérifiez" in french_message(m, "amount")]

    assert len(generic) <= len(MESSAGES) // 3, generic


# --- What people saw in English -----------------------------------------------------------


@pytest.mark.parametrize(
    ("message", "field", "french"),
    [
        ("must be from 0.001 to 999999999", "quantity", "Saisissez une quantité supérieure à 0."),
        ("at most 3 decimal places", "quantity", "Au plus 3 décimales."),
        (
            "required: Commune de Wimille needs its engagement number on Chorus Pro invoices",
            "engagement_number",
            "Obligatoire : Commune de Wimille indique son numéro d'engagement sur les factures "
            "Chorus Pro.",
        ),
        ("invalid SIRET (14 digits expected)", "siret", "SIRET invalide (14 chiffres attendus)."),
        ("Missing data for required field.", "name", "Ce champ est obligatoire."),
        (
            "an unheard-of refusal",
            "engagement_number",
            "Valeur refusée pour le champ « numéro d'engagement » : vérifiez la saisie.",
        ),
        ("an unheard-of refusal", None, "Opération refusée : vérifiez les données et réessayez."),
        ("Cochez au moins une ligne à créditer.", "lines", "Cochez au moins une ligne à créditer."),
    ],
)
def test_messages_people_saw_in_english(message, field, french):
    assert french_message(message, field) == french


@pytest.mark.parametrize(
    ("reason", "french"),
    [
        (
            "unit cost 12.5000 differs from the ordered 10.0000",
            "Coût unitaire 12,50\u00a0€ différent de celui commandé (10,00\u00a0€).",
        ),
        (
            "amount 125.00 differs from the expected 100.00 (10 x 10.0000)",
            "Montant 125,00\u00a0€ différent du montant attendu 100,00\u00a0€ "
            "(10 \u00d7 10,00\u00a0€).",
        ),
        (
            "VAT rate 0.2000 differs from the ordered 0.0550",
            "Taux de TVA 20\u00a0% différent de celui commandé (5,5\u00a0%).",
        ),
        (
            "over-invoiced: 1234.5 invoiced in all for 10 ordered",
            "Surfacturation : 1\u202f234,5 facturés en tout pour 10 commandés.",
        ),
    ],
)
def test_mismatch_reasons_read_in_french_with_french_numbers(reason, french):
    assert french_mismatch(reason) == french


def test_every_mismatch_reason_of_the_matcher_reads_in_french():
    from purchasing.orders.purchase_orders import line_mismatches

    reasons = line_mismatches(
        quantity=Decimal("12"),
        ordered_quantity=Decimal("10"),
        unit_cost=Decimal("11.00"),
        ordered_unit_cost=Decimal("10.00"),
        amount=Decimal("1.00"),
        vat_rate=Decimal("0.2000"),
        ordered_vat_rate=Decimal("0.0550"),
        invoiced_before=Decimal("1"),
    )

    assert len(reasons) == 4
    for reason in reasons:
        assert_french(french_mismatch(reason))


def test_a_page_message_already_in_french_is_kept():
    note = SimpleNamespace(text="La facture FA-2026-00001 est émise.")

    assert french_message(note.text) == note.text
