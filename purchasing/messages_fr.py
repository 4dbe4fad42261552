"""What the services and the schemas say, as a French user of the pages reads it.

The services and the API word their refusals in English, for the API's clients; every
page shows them through this one module, so no English reaches a person. A refusal is
read, in that order:

1. by its exception class, when the class carries the facts (``InvalidTransition`` has
   the entity and both statuses, ``TooManyLoginFailures`` the minutes to wait...);
2. by the message itself: marshmallow's own messages, then the patterns of
   :data:`PATTERNS`, whose named groups are shown in French (``amount`` as euros, ``day``
   as a date, ``status`` as its label, ``field`` as the box's name);
3. else by a generic French sentence naming the field, so an unlisted message is never
   shown in English (and is logged, to be added here).

Text that is already French (a page's own message) is shown as it is.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Mapping
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from purchasing.errors import DomainError
from purchasing.formats import euros, french_date, number, percent, quantity, unit_price

log = logging.getLogger(__name__)

# --- What the messages name -----------------------------------------------------------

#: A field of a form or of the API, as its box is labelled.
FIELD_LABELS = {
    "adhesion": "adhésion",
    "aid_cap_per_unit": "plafond d'aide par unité",
    "aid_per_unit": "aide par unité",
    "aid_rate": "taux d'aide",
    "amount": "montant",
    "bands": "tranches",
    "billed_on": "date de facturation",
    "code": "code",
    "commissioned_on": "date de mise en service",
    "date_from": "date de début",
    "date_to": "date de fin",
    "deliberation": "délibération",
    "deliberation_date": "date de la délibération",
    "deliberation_reference": "référence de la délibération",
    "delivered_on": "date de livraison",
    "delivery_site": "site de livraison",
    "departement_code": "code département",
    "domain": "domaine de services",
    "effective_from": "date d'effet",
    "email": "adresse e-mail",
    "end_date": "date de fin",
    "engagement_number": "numéro d'engagement",
    "envelope": "enveloppe",
    "family": "famille",
    "file": "fichier",
    "fiscal_year": "exercice",
    "format": "format",
    "insee_code": "code INSEE",
    "invoice_date": "date de la facture",
    "invoice_id": "facture",
    "invoice_line_id": "ligne de facture",
    "invoice_number": "numéro de facture",
    "issue_date": "date d'émission",
    "kind": "type",
    "line_id": "ligne",
    "lines": "lignes",
    "member_id": "membre",
    "member_kinds": "types de membres",
    "name": "nom",
    "note": "note",
    "on": "date",
    "order_date": "date de commande",
    "order_id": "commande",
    "order_line_id": "ligne de commande",
    "paid_on": "date de paiement",
    "partner": "partenaire",
    "partners": "partenaires",
    "password": "mot de passe",
    "period": "mois",
    "period_end": "fin de période",
    "period_start": "début de période",
    "population": "population",
    "postal_code": "code postal",
    "products": "produits",
    "programme_id": "programme",
    "purchase_order_id": "bon de commande",
    "purchase_order_line_id": "ligne du bon de commande",
    "quantity": "quantité",
    "reason": "motif",
    "received_on": "date de réception",
    "reference": "référence",
    "reversed_on": "date du reversement",
    "role": "rôle",
    "run_id": "facturation",
    "setup_fee_billed_on": "facturation des frais de mise en service",
    "setup_fee_due_on": "frais de mise en service",
    "siret": "SIRET",
    "sku": "produit",
    "start_date": "date de début",
    "status": "statut",
    "subscription_id": "abonnement",
    "total_excl_vat": "total HT",
    "total_incl_vat": "total TTC",
    "total_vat": "total TVA",
    "unit_cost": "coût unitaire",
    "until": "jusqu'au",
    "valid_from": "début de validité",
    "valid_from_year": "année de début",
    "valid_to": "fin de validité",
    "vat_number": "numéro de TVA",
    "vat_rate": "taux de TVA",
    "within": "délai",
    "year": "exercice",
}

#: Whose lifecycle an ``InvalidTransition`` is about.
ENTITY_LABELS = {
    "adhesion": "l'adhésion",
    "order": "la commande",
    "purchase order": "le bon de commande",
    "supplier invoice": "la facture fournisseur",
    "subscription": "l'abonnement",
    "invoice": "la facture",
}

#: A status value of any lifecycle, as a page shows it.
STATUS_LABELS = {
    "accepted": "écart accepté",
    "active": "active",
    "approved": "approuvée",
    "cancelled": "annulée",
    "closed": "clôturée",
    "delivered": "livrée",
    "draft": "brouillon",
    "failed": "en échec",
    "finished": "terminée",
    "invoiced": "facturé",
    "issued": "émis",
    "matched": "rapprochée",
    "mismatch": "écart à traiter",
    "open": "ouvert",
    "ordered": "commandée",
    "paid": "payée",
    "partly_delivered": "livrée en partie",
    "partly_invoiced": "partiellement facturé",
    "rejected": "rejetée",
    "requested": "demandée",
    "running": "en cours",
    "sent": "envoyé",
    "submitted": "envoyée à la centrale",
    "suspended": "suspendue",
    "withdrawn": "retirée",
    "monthly": "au mois",
    "yearly": "à l'année",
    "one_off": "ponctuellement",
}


#: What a "no <what> with id <n>" message looks for.
WHAT_LABELS = {
    "member": "Aucun membre",
    "order": "Aucune commande",
    "invoice": "Aucune facture",
    "user": "Aucun utilisateur",
    "token": "Aucun jeton",
    "purchase order": "Aucun bon de commande",
    "supplier invoice": "Aucune facture fournisseur",
    "subscription": "Aucun abonnement",
    "billing run": "Aucune facturation",
    "subsidy programme": "Aucun programme",
    "journal entry": "Aucune écriture",
    "price version": "Aucune version de prix",
    "supplier": "Aucun fournisseur",
    "product": "Aucun produit",
    "family": "Aucune famille",
    "service domain": "Aucun domaine de services",
    "partner": "Aucun partenaire",
}


def field_label(field: str | None) -> str:
    """``lines[2].quantity`` -> "quantité (ligne 3)"; an unknown name as it is written."""
    if not field:
        return ""
    match = re.fullmatch(r"(\w+)\[(\d+)\]\.(\w+)", field)
    if match:
        _outer, index, inner = match.groups()
        return f"{FIELD_LABELS.get(inner, inner)} (ligne {int(index) + 1})"
    return FIELD_LABELS.get(field, field.replace("_", " "))


# --- Recognising English --------------------------------------------------------------

#: Words of the services' English that French text does not use.
ENGLISH_WORDS = frozenset(
    """
    after again all already amount an and any approved are be been before being between
    billed blank but can cancelled cannot capital character characters closed credited
    delivered digits down draft each entries entry event events every expected failed field
    for from give given had has have ins inside into invalid invoice invoices is issued it
    its least left less letters line lines many may member members missing more most must
    need needs no none nor not number of only onto open or order ordered orders other out
    outside over paid per posted posting price prices product products received requested
    required reversed right same say should sign some submitted suspended than that the
    their there these this those times to too try under unknown up valid value was were what
    when where which who whole why will with withdrawn within without would year years
    """.split()  # noqa: SIM905 - a list of words reads better as text
)
_WORD = re.compile(r"[^\W\d_]+")


#: Words and letters that say a text is French.
FRENCH_WORDS = frozenset(
    """
    le la les l de du des d un une est sont pas ne n ce cette ces et ou à au aux pour par
    sur dans avec sans vous votre vos son sa ses il elle qui que qu plus moins déjà
    invalide invalides obligatoire chiffres lettres inconnu inconnue refusé refusée aucun
    aucune
    """.split()  # noqa: SIM905 - a list of words reads better as text
)
_FRENCH_LETTERS = frozenset("éèêëàâùûüçôîïœÉÈÊÀÇÔ«»€")


def is_english(text: str) -> bool:
    """True when ``text`` holds a word of the services' English (codes and numbers aside)."""
    words = {w.lower() for w in _WORD.findall(text)}
    return bool(words & ENGLISH_WORDS)


def looks_french(text: str) -> bool:
    """True when ``text`` reads as French: a French word or letter, and no English word."""
    if is_english(text):
        return False
    words = {w.lower() for w in _WORD.findall(text)}
    return bool(words & FRENCH_WORDS) or any(c in _FRENCH_LETTERS for c in text)


class French(str):
    """Text already in French: shown as it is when it passes through again."""


# --- Values inside a message ----------------------------------------------------------


def _amount(text: str) -> str:
    try:
        return euros(Decimal(text))
    except (InvalidOperation, ValueError):
        return text


def _day(text: str) -> str:
    try:
        return french_date(date.fromisoformat(text))
    except ValueError:
        return text


def _quantity(text: str) -> str:
    try:
        return quantity(Decimal(text))
    except (InvalidOperation, ValueError):
        return text


def _number(text: str) -> str:
    try:
        return number(Decimal(text))
    except (InvalidOperation, ValueError):
        return text


def _rate(text: str) -> str:
    try:
        return percent(Decimal(text))
    except (InvalidOperation, ValueError):
        return text


def _status(text: str) -> str:
    return STATUS_LABELS.get(text.strip("'\""), "dans un autre état")


_VALUES: tuple[tuple[str, Callable[[str], str]], ...] = (
    ("amount", _amount),
    ("day", _day),
    ("qty", _quantity),
    ("rate", _rate),
    ("num", _number),
    ("status", _status),
    ("field", field_label),
    ("what", lambda text: WHAT_LABELS.get(text, "Aucun élément")),
)


def _french_value(name: str, text: str | None) -> str:
    if text is None:
        return ""
    for prefix, convert in _VALUES:
        if name.startswith(prefix):
            return convert(text)
    return text


# --- Messages -------------------------------------------------------------------------

#: marshmallow's messages, and the services' fixed sentences.
EXACT = {
    "Missing data for required field.": "Ce champ est obligatoire.",
    "Field may not be null.": "Ce champ est obligatoire.",
    "Not a valid integer.": "Saisissez un nombre entier.",
    "Not a valid number.": "Saisissez un nombre.",
    "Not a valid decimal.": "Saisissez un nombre.",
    "Not a valid date.": "Saisissez une date (jj/mm/aaaa).",
    "Not a valid datetime.": "Saisissez une date et une heure.",
    "Not a valid string.": "Saisissez un texte.",
    "Not a valid boolean.": "Cochez ou décochez la case.",
    "Not a valid email address.": "Saisissez une adresse e-mail valide.",
    "Not a valid list.": "Choisissez une ou plusieurs valeurs.",
    "Not a valid mapping type.": "Valeur mal formée.",
    "Invalid input type.": "Valeur mal formée.",
    "Invalid value.": "Valeur refusée.",
    "Unknown field.": "Champ inconnu.",
    "Shorter than minimum length 1.": "Ce champ est obligatoire.",
    "String does not match expected pattern.": "Format non reconnu.",
    "Special numeric values (nan or infinity) are not permitted.": "Saisissez un nombre.",
    "required": "Ce champ est obligatoire.",
    "may not be blank": "Ce champ est obligatoire.",
    "may not contain control characters": "Ce champ contient des caractères interdits.",
    "may not be in the future": "Ne peut pas être dans le futur.",
    "must be more than 0": "Saisissez un montant supérieur à 0.",
    "more than 0": "Doit être supérieur à 0.",
    "more than 0 and at most 1": "Doit être supérieur à 0 et au plus 1.",
    "a month written YYYY-MM": "Saisissez un mois (AAAA-MM).",
    "5 digits": "5 chiffres.",
    "say why": "Indiquez le motif.",
    "say why the invoice is corrected": "Indiquez pourquoi la facture est corrigée.",
    "say what the member should change": "Indiquez ce que le membre doit modifier.",
    "a cancellation needs a reason": "Une annulation demande un motif.",
    "a suspension needs a reason": "Une suspension demande un motif.",
    "a draft is not payable": "Un brouillon ne se paie pas : émettez d'abord la facture.",
    "only an issued invoice can be credited": "Seule une facture émise peut être créditée.",
    "this invoice is already fully credited": "Cette facture est déjà entièrement créditée.",
    "an invoice has at least one line": "Une facture a au moins une ligne.",
    "an invoice needs at least one line": "Une facture a au moins une ligne.",
    "an order needs at least one line": "Une commande a au moins une ligne.",
    "at least one line": "Au moins une ligne.",
    "at least one lot": "Au moins un lot.",
    "at least one price version": "Au moins une version de prix.",
    "at least one eligible product": "Au moins un produit éligible.",
    "at least one kind of member": "Au moins un type de membre.",
    "an aided line of a price-reduction programme is credited whole only": (
        "Une ligne aidée par un programme qui réduit le prix ne se crédite qu'en entier : "
        "laissez le montant vide."
    ),
    "the order cannot be submitted": "La commande ne peut pas être envoyée.",
    "the order cannot be approved": "La commande ne peut pas être approuvée.",
    "the adhesion cannot be activated": "L'adhésion ne peut pas être activée.",
    "the member's data do not hold together": "Les données du membre sont incohérentes.",
    "the invoice lines cannot be matched": "Les lignes de la facture ne correspondent pas.",
    "the invoice does not add up": "Les totaux de la facture ne correspondent pas aux lignes.",
    "the programme is incomplete": "Le programme est incomplet.",
    "the programme does not hold together": "Le programme est incohérent.",
    "the fee bands do not hold together": "Les tranches de cotisation sont incohérentes.",
    "a fee schedule needs at least one band": "Un barème a au moins une tranche.",
    "a reinstated adhesion keeps its convention": "Une adhésion rétablie garde sa convention.",
    "cannot change when reinstating an adhesion": "Ne change pas quand l'adhésion est rétablie.",
    "required to activate an adhesion": "Obligatoire pour activer une adhésion.",
    "required for a commune": "Obligatoire pour une commune.",
    "the member has no adhesion; request one first": (
        "Le membre n'a pas d'adhésion : demandez-en une d'abord."
    ),
    "the centre approved this order: ask its purchasing staff to cancel it": (
        "La centrale a approuvé cette commande : demandez à ses acheteurs de l'annuler."
    ),
    "the member has not joined the domain of every line": (
        "Le membre n'a pas rejoint le domaine de services de chaque ligne."
    ),
    "the member who orders is required": "Choisissez le membre qui commande.",
    "only the centre's staff may date an order": (
        "Seul le personnel de la centrale peut dater une commande."
    ),
    "the member pays the supplier directly": "Le membre paie directement le fournisseur.",
    "no set-up fee is due on this line": "Aucuns frais de mise en service sur cette ligne.",
    "the supplier's invoice number is required": (
        "Le numéro de la facture du fournisseur est obligatoire."
    ),
    "this supplier invoice was recorded meanwhile": (
        "Cette facture fournisseur vient d'être enregistrée par ailleurs."
    ),
    "billed twice on this invoice": "Facturée deux fois sur cette facture.",
    "a one-off item is not billed per period": "Un article ponctuel ne se facture pas par période.",
    "before period_start": "Antérieure au début de période.",
    "before period_start.": "Antérieure au début de période.",
    "no commissioning recorded for this service": (
        "Aucune mise en service enregistrée pour ce service."
    ),
    "not a valid e-mail address": "Saisissez une adresse e-mail valide.",
    "a user with this e-mail already exists": "Un utilisateur a déjà cette adresse e-mail.",
    "a member user must be bound to a member": "Un utilisateur membre est rattaché à un membre.",
    "only a member user is bound to a member": (
        "Seul un utilisateur membre est rattaché à un membre."
    ),
    "must be 0 or more": "Doit être 0 ou plus.",
    "a whole number, 0 or more": "Saisissez un nombre entier, 0 ou plus.",
    "must not be before valid_from": "Ne peut pas précéder le début de validité.",
    "must not be before start_date": "Ne peut pas précéder la date de début.",
    "must be after since": "Doit suivre la date de début.",
    "is before date_from": "La date de fin précède la date de début.",
    "is before the start of the range": "La date de fin précède la date de début.",
    "give a fiscal year or a date range, not both": (
        "Choisissez un exercice ou une période, pas les deux : videz l'exercice pour une période."
    ),
    "give a fiscal year, or date_from and date_to": (
        "Choisissez un exercice, ou une date de début et une date de fin."
    ),
    "a date range needs both ends": "Une période a une date de début et une date de fin.",
    "a range stays within one fiscal year (1 January to 31 December): export each year": (
        "Une période reste dans un exercice (du 1er janvier au 31 décembre) : "
        "exportez chaque exercice."
    ),
    "give YEAR or --from and --to, not both": (
        "Choisissez un exercice ou une période, pas les deux."
    ),
    "a year from 2000 to 2100": "Saisissez une année de 2000 à 2100.",
    "not UTF-8 text": "Le fichier n'est pas un texte UTF-8.",
    "lower-case letters, digits and _": "Lettres minuscules, chiffres et _.",
    "capital letters, digits, - and _": "Lettres majuscules, chiffres, - et _.",
    "capital letters and digits, joined by -": "Lettres majuscules et chiffres, reliés par -.",
    "more than 0, or left out for no ceiling": "Supérieur à 0, ou vide sans plafond.",
    "invalid SIRET (checksum)": "SIRET invalide (clé de contrôle).",
    "invalid SIRET (14 digits expected)": "SIRET invalide (14 chiffres attendus).",
    "invalid SIRET (digits only)": "SIRET invalide (chiffres uniquement).",
    "invalid VAT number (checksum)": "Numéro de TVA invalide (clé de contrôle).",
    "invalid VAT number (length)": "Numéro de TVA invalide (longueur).",
    "invalid VAT number (unknown country prefix)": (
        "Numéro de TVA invalide (préfixe de pays inconnu)."
    ),
    "invalid VAT number (format)": "Numéro de TVA invalide (format).",
    "invalid INSEE code (2 digits or 2A/2B, then 3 digits)": (
        "Code INSEE invalide (2 chiffres ou 2A/2B, puis 3 chiffres)."
    ),
    "unknown département code (like 59, 2A or 974)": (
        "Code département inconnu (comme 59, 2A ou 974)."
    ),
    "invalid postal code (5 digits)": "Code postal invalide (5 chiffres).",
    "required when the aid is a rate of the line amount": (
        "Obligatoire quand l'aide est un taux du montant de la ligne."
    ),
    "required when the aid is a fixed amount per unit": (
        "Obligatoire quand l'aide est un montant fixe par unité."
    ),
    "only for a fixed amount per unit; the aid is a rate": (
        "Seulement pour un montant fixe par unité : l'aide est un taux."
    ),
    "only for a rate; the aid is a fixed amount per unit": (
        "Seulement pour un taux : l'aide est un montant fixe par unité."
    ),
    "required: the date of the deliberation setting the schedule": (
        "Obligatoire : la date de la délibération qui fixe le barème."
    ),
}

_AMOUNT = r"-?\d[\d.]*"
_DAY = r"\d{4}-\d{2}-\d{2}"

#: (pattern, French) in the order tried; the whole message must match.
PATTERNS: tuple[tuple[str, str], ...] = (
    # marshmallow's validators
    (r"Must be one of: (?P<choices>.*)\.", "Choisissez une valeur proposée."),
    (
        r"Must be greater than or equal to (?P<low>\S+) and less than or equal to (?P<high>\S+)\.?",
        "Doit être compris entre {low} et {high}.",
    ),
    (r"Must be greater than or equal to (?P<low>\S+)\.?", "Doit être au moins {low}."),
    (r"Must be less than or equal to (?P<high>\S+)\.?", "Doit être au plus {high}."),
    (r"Longer than maximum length (?P<n>\d+)\.?", "Au plus {n} caractères."),
    (r"Shorter than minimum length (?P<n>\d+)\.?", "Au moins {n} caractères."),
    (r"Length must be between (?P<low>\d+) and (?P<high>\d+)\.?", "De {low} à {high} caractères."),
    # the project's fields (fields.py)
    (r"at most (?P<places>\d+) decimal places", "Au plus {places} décimales."),
    (r"must be from 0\.001 to \S+", "Saisissez une quantité supérieure à 0."),
    (r"must be from 0 to (?P<high>\S+)", "Saisissez un nombre positif."),
    (r"must be from (?P<low>\S+) to (?P<high>\S+)", "Doit être compris entre {low} et {high}."),
    # not found
    (r"no (?P<what>[\w ]+?) with id (?P<id>\d+)", "{what} n° {id}."),
    (r"no (?P<what>[\w ]+?) (?P<ref>\S+)", "{what} : {ref}."),
    (r"invoice (?P<id>\d+) has no document", "La facture n° {id} n'a pas de document."),
    (r"no line (?P<line>\d+) in order (?P<ref>\S+)", "La commande {ref} n'a pas de ligne {line}."),
    # orders
    (
        r"required: (?P<member>.+) needs its engagement number on Chorus Pro invoices",
        "Obligatoire : {member} indique son numéro d'engagement sur les factures Chorus Pro.",
    ),
    (
        r"order (?P<ref>\S+) is (?P<status>\w+): it changes only while a draft",
        "La commande {ref} est « {status} » : elle ne se modifie qu'à l'état de brouillon.",
    ),
    (
        r"no longer offered: (?P<skus>.+); remove them",
        "Plus proposés : {skus} ; retirez-les de la commande.",
    ),
    (
        r"too large: an amount of the line would pass (?P<amount>\S+)",
        "Trop grand : un montant de la ligne dépasserait {amount}.",
    ),
    (
        r"only (?P<qty>\S+) left to deliver of (?P<qty_ordered>\S+) ordered",
        "Il ne reste que {qty} à livrer sur {qty_ordered} commandés.",
    ),
    (
        r"(?P<sku>\S+) is billed (?P<status>\w+): record its commissioning",
        "{sku} est un service récurrent : enregistrez sa mise en service.",
    ),
    (
        r"(?P<sku>\S+) is a one-off item: record its delivery",
        "{sku} est un article ponctuel : enregistrez sa livraison.",
    ),
    (
        rf"already commissioned on (?P<day>{_DAY})",
        "Déjà mis en service le {day}.",
    ),
    (
        rf"set-up fee already billed on (?P<day>{_DAY})",
        "Frais de mise en service déjà facturés le {day}.",
    ),
    (rf"already billed on (?P<day>{_DAY})", "Déjà facturé le {day}."),
    (rf"before the order date \((?P<day>{_DAY})\)", "Antérieure à la date de commande ({day})."),
    (
        r"line (?P<line>\d+): (?P<rest>.+)",
        "Ligne {line} : {rest_fr}",
    ),
    (
        r"(?P<sku>\S+) is attached to no framework market lot: it cannot be ordered",
        "{sku} n'est rattaché à aucun lot de marché : il ne peut pas être commandé.",
    ),
    (
        rf"(?P<sku>\S+) is bought under (?P<lot>\S+), in force from (?P<day_from>{_DAY}) to "
        rf"(?P<day_to>{_DAY}), not on (?P<day_on>{_DAY})",
        "{sku} est acheté au titre du lot {lot}, en vigueur du {day_from} au {day_to}, "
        "pas le {day_on}.",
    ),
    (
        r"(?P<sku>[A-Z0-9][\w-]*): (?P<rest>.+)",
        "{sku} : {rest_fr}",
    ),
    (
        r"purchase order (?P<number>\S+) is (?P<status>\w+): supplier invoices are recorded "
        r"against sent purchase orders only",
        "Le bon de commande {number} est « {status} » : une facture fournisseur ne "
        "s'enregistre que sur un bon de commande envoyé.",
    ),
    (
        rf"already terminated: it ends on (?P<day>{_DAY})",
        "Déjà résilié : il prend fin le {day}.",
    ),
    (
        rf"before the start of the subscription \((?P<day>{_DAY})\)",
        "Antérieure au début de l'abonnement ({day}).",
    ),
    (
        rf"a quantity change takes effect on (?P<day>{_DAY}), after this end",
        "Un changement de quantité prend effet le {day}, après cette fin.",
    ),
    (
        rf"outside the subscription \((?P<day>{_DAY})(?: to (?P<day_end>{_DAY}))?\)",
        "Hors de l'abonnement (à partir du {day}).",
    ),
    (
        rf"already (?P<qty>\S+) on (?P<day>{_DAY})",
        "Déjà {qty} le {day}.",
    ),
    (
        r"a (?P<role>\w+) user may not (?P<doing>.+)",
        "Votre rôle ne permet pas cette opération.",
    ),
    # supplier invoices
    (
        r"not a line of purchase order (?P<number>\S+)",
        "Ce n'est pas une ligne du bon de commande {number}.",
    ),
    (
        r"required: (?P<sku>\S+) is billed (?P<status>\w+)",
        "Obligatoire : {sku} se facture {status}.",
    ),
    (
        r"invoice (?P<number>\S+) of this supplier is already recorded \(id (?P<id>\d+)\)",
        "La facture {number} de ce fournisseur est déjà enregistrée (n° {id}).",
    ),
    (
        rf"the lines add up to (?P<amount>{_AMOUNT})",
        "Les lignes totalisent {amount}.",
    ),
    (
        rf"VAT per rate on the lines comes to (?P<amount>{_AMOUNT}); ask the supplier for a "
        "corrected invoice",
        "La TVA par taux des lignes est de {amount} : demandez une facture corrigée au "
        "fournisseur.",
    ),
    (
        rf"total_excl_vat \+ total_vat comes to (?P<amount>{_AMOUNT})",
        "Total HT + TVA = {amount}.",
    ),
    # members and adhesions
    (r"already the SIRET of member (?P<holder>.+)", "Déjà le SIRET du membre {holder}."),
    (
        r"the member already has an adhesion (?P<status>\w+)",
        "Le membre a déjà une adhésion « {status} ».",
    ),
    (
        r"only an active member can order: (?P<reason>.+)",
        "Seul un membre actif peut commander : {reason_fr}",
    ),
    (
        r"(?P<member>.+): its adhesion is requested, not yet active",
        "l'adhésion de {member} est demandée, pas encore active.",
    ),
    (
        rf"(?P<member>.+): its adhesion starts on (?P<day>{_DAY})",
        "l'adhésion de {member} commence le {day}.",
    ),
    (r"(?P<member>.+): its adhesion is suspended", "l'adhésion de {member} est suspendue."),
    (
        rf"(?P<member>.+): its adhesion ended on (?P<day>{_DAY})",
        "l'adhésion de {member} a pris fin le {day}.",
    ),
    (r"not a valid SIRET: (?P<rest>.+)", "{rest_fr}"),
    (r"not a valid VAT number: (?P<rest>.+)", "{rest_fr}"),
    (
        r"not a commune of département (?P<code>\S+)",
        "Ce n'est pas une commune du département {code}.",
    ),
    (
        r"a French VAT number must carry the SIREN (?P<siren>\d+)",
        "Un numéro de TVA français contient le SIREN {siren}.",
    ),
    (
        rf"before the start of the adhesion \((?P<day>{_DAY})\)",
        "Antérieure au début de l'adhésion ({day}).",
    ),
    (
        r"(?P<member>.+) may not order in the (?P<label>.+) domain \((?P<domain>\S+)\) on .*",
        "{member} ne peut pas commander dans le domaine {label} à cette date : il n'y a pas "
        "adhéré.",
    ),
    (
        r"(?P<member>.+) does not adhere to the centre: a domain is joined within an adhesion",
        "{member} n'adhère pas à la centrale : un domaine se rejoint dans une adhésion.",
    ),
    (r"(?P<member>.+) never joined (?P<domain>\S+)", "{member} n'a jamais rejoint {domain}."),
    (
        rf"(?P<member>.+) is already in (?P<domain>\S+) since (?P<day>{_DAY})",
        "{member} est déjà dans {domain} depuis le {day}.",
    ),
    (
        rf"before the deliberation joining the domain \((?P<day>{_DAY})\)",
        "Antérieure à la délibération d'adhésion au domaine ({day}).",
    ),
    (
        rf"the member was in (?P<domain>\S+) until (?P<day>{_DAY}): join again from the day after",
        "Le membre était dans {domain} jusqu'au {day} : il le rejoint à partir du lendemain.",
    ),
    (
        rf"already left (?P<domain>\S+) on (?P<day>{_DAY})",
        "A déjà quitté {domain} le {day}.",
    ),
    (
        rf"before the member joined the domain \((?P<day>{_DAY})\)",
        "Antérieure à l'entrée du membre dans le domaine ({day}).",
    ),
    (
        r"a fee schedule from (?P<year>\d+) already exists",
        "Un barème à partir de {year} existe déjà.",
    ),
    (r"bands (?P<a>.+) and (?P<b>.+) overlap", "Les tranches {a} et {b} se chevauchent."),
    (r"(?P<name>.+) has no adhesion", "{name} n'a pas d'adhésion."),
    # catalogue
    (
        rf"product (?P<sku>\S+) has no price in force on (?P<day>{_DAY})",
        "Le produit {sku} n'a pas de prix en vigueur le {day}.",
    ),
    (r"prices refused for (?P<sku>\S+)", "Prix refusés pour {sku}."),
    (
        r"required to put prices in force: .*",
        "Obligatoire pour mettre les prix en vigueur : la délibération qui les a fixés "
        "(référence et date) ; enregistrez les prix en brouillon d'ici son adoption.",
    ),
    (
        rf"a (?P<status>\w+) version of (?P<sku>\S+) already starts on (?P<day>{_DAY})",
        "Une version « {status} » de {sku} commence déjà le {day}.",
    ),
    (
        r"price version (?P<id>\d+) is already in force",
        "La version de prix n° {id} est déjà en vigueur.",
    ),
    (
        r"the new prices \((?P<new>.+)\) overlap the version in force (?P<old>.+)",
        "Les nouveaux prix chevauchent la version en vigueur.",
    ),
    (
        rf"deliberation (?P<ref>.+) is recorded as adopted on (?P<day>{_DAY}), not "
        rf"(?P<day_other>{_DAY})",
        "La délibération {ref} est enregistrée comme adoptée le {day}, pas le {day_other}.",
    ),
    (
        r"not a French VAT rate; one of (?P<rates>.+)",
        "Ce n'est pas un taux de TVA français.",
    ),
    (r"lot (?P<lots>.+) given twice", "Lot {lots} donné deux fois."),
    (
        r"(?P<lot>\S+): this order commits (?P<amount>\S+) excl\. VAT, but only "
        r"(?P<amount_left>\S+) is left of its (?P<year>\d+) ceiling of (?P<amount_ceiling>\S+) "
        r"\((?P<amount_consumed>\S+) already committed by approved orders\)",
        "{lot} : cette commande engage {amount} HT, mais il ne reste que {amount_left} du "
        "plafond {year} de {amount_ceiling} ({amount_consumed} déjà engagés par des commandes "
        "approuvées).",
    ),
    # billing
    (
        r"(?P<amount>\S+) is more than the (?P<amount_due>\S+) still due on (?P<number>\S+)",
        "Plus que les {amount_due} restant dus sur {number}.",
    ),
    (
        rf"before the invoice was issued \((?P<day>{_DAY})\)",
        "Antérieure à l'émission de la facture ({day}).",
    ),
    (
        r"(?P<number>\S+) is a credit note: only an invoice is paid",
        "{number} est un avoir : seule une facture se paie.",
    ),
    (
        r"(?P<number>\S+) is a credit note: only an invoice can be credited",
        "{number} est un avoir : seule une facture se corrige par un avoir.",
    ),
    (
        r"line (?P<line>\d+) is already fully credited",
        "La ligne {line} est déjà entièrement créditée.",
    ),
    (
        r"at most (?P<amount>\S+) can still be credited on line (?P<line>\d+)",
        "Au plus {amount} HT peuvent encore être crédités sur la ligne {line}.",
    ),
    (r"line \d+ is not a line of (?P<number>\S+)", "Cette ligne n'est pas une ligne de {number}."),
    (
        rf"before the invoice it corrects \((?P<day>{_DAY})\)",
        "Antérieure à la facture corrigée ({day}).",
    ),
    (
        rf"(?P<series>\S+) documents of (?P<year>\d{{4}}) are issued up to (?P<day>{_DAY}); "
        r"a number may not go to an earlier date",
        "Les documents {series} de {year} sont émis jusqu'au {day} : la numérotation suit "
        "les dates, choisissez ce jour ou un jour suivant.",
    ),
    (
        r"invoice (?P<number>\S+) is issued and can no longer change; "
        r"correct it with a credit note",
        "La facture {number} est émise et ne change plus : corrigez-la par un avoir.",
    ),
    (
        r"(?P<month>\S+) is too far ahead: a run bills at most (?P<month_max>\S+)",
        "{month} est trop loin : une facturation va au plus jusqu'à {month_max}.",
    ),
    (r".* is not a month written YYYY-MM", "Saisissez un mois (AAAA-MM)."),
    (
        r"the envelope was already moved for document (?P<id>\d+)",
        "L'enveloppe a déjà été mouvementée pour le document n° {id}.",
    ),
    (
        r"document (?P<number>.+): (?P<count>\d+) problem\(s\), not rendered",
        "Document {number} : {count} problème(s), il n'est pas produit.",
    ),
    # subsidies
    (
        r"(?P<reference>.+) is already recorded on (?P<code>\S+)",
        "La référence {reference} est déjà enregistrée sur {code}.",
    ),
    (
        r"at most (?P<amount>\S+) can still be received on (?P<code>\S+): the grant is "
        r"(?P<amount_grant>\S+), (?P<amount_received>\S+) received so far",
        "Au plus {amount} peuvent encore être reçus : la subvention est de {amount_grant}, "
        "dont {amount_received} déjà reçus.",
    ),
    (
        r"no partner (?P<partner>.*) in (?P<code>\S+) \(partners: (?P<known>.*)\)",
        "{partner} n'est pas un partenaire de {code} (partenaires : {known}).",
    ),
    (
        r"at most (?P<amount>\S+) can still be reversed to (?P<partner>\S+): its share is "
        r"(?P<amount_share>\S+), (?P<amount_done>\S+) reversed so far",
        "Au plus {amount} peuvent encore être reversés à {partner} : sa part est de "
        "{amount_share}, dont {amount_done} déjà reversés.",
    ),
    (
        rf"at most (?P<amount>\S+) can be passed on on (?P<day>{_DAY}): .*",
        "Au plus {amount} peuvent être reversés au {day} : un reversement transmet des fonds "
        "reçus, et à aucune date les reversements ne dépassent les versements reçus.",
    ),
    (r"a programme (?P<code>\S+) already exists", "Un programme {code} existe déjà."),
    (r"more than the grant \((?P<amount>\S+)\)", "Plus que la subvention ({amount})."),
    (r"partner\(s\) (?P<codes>.+) repeated", "Partenaire(s) {codes} en double."),
    (r"(?P<codes>.+) repeated", "{codes} en double."),
    (
        r"(?P<code>\S+): aid was granted, or grant money received or reversed; "
        r"the money settings can no longer change",
        "{code} : de l'aide a été accordée, ou des fonds reçus ou reversés ; les réglages "
        "financiers ne changent plus.",
    ),
    (
        r"(?P<code>\S+), in force at the same time .*",
        "{code}, en vigueur sur la même période, traite l'aide autrement pour la TVA : une "
        "facture n'en porte qu'un traitement.",
    ),
    # ledger
    (r"close fiscal year (?P<year>.+) first", "Clôturez d'abord l'exercice {year}."),
    (
        r"(?P<count>\d+) event\(s\) of (?P<year>\d+) are not posted yet.*",
        "{count} opération(s) de {year} ne sont pas encore passées en écriture : "
        "lancez d'abord la comptabilisation.",
    ),
    (r"fiscal year (?P<year>\d+) is already closed", "L'exercice {year} est déjà clôturé."),
    (
        r"fiscal year (?P<year>\d+) is not over: it can be closed from (?P<when>\S+)",
        "L'exercice {year} n'est pas terminé : il pourra être clôturé à partir du {when}.",
    ),
    (r"fiscal year (?P<year>\d+) already exists", "L'exercice {year} existe déjà."),
    (r"fiscal year (?P<year>\d+) is open", "L'exercice {year} est ouvert."),
    (
        r"fiscal year (?P<year>\d+) is closed for good: .*",
        "L'exercice {year} est clôturé définitivement : ses comptes sont arrêtés ; corrigez "
        "par une écriture de l'exercice ouvert (un avoir, par exemple).",
    ),
    (
        r"fiscal year (?P<year>\d+) is closed.*: it takes no posting",
        "L'exercice {year} est clôturé : il ne reçoit plus aucune écriture.",
    ),
    (r"no (?:closed )?fiscal year (?P<year>\d+)", "Aucun exercice {year}."),
    (
        r"a fiscal year from (?P<low>\d+) to (?P<high>\d+)",
        "Saisissez un exercice de {low} à {high}.",
    ),
    (
        r"(?P<title>.+): (?P<count>\d+) lines, more than the (?P<num_max>\d+) a PDF holds; .*",
        "Trop de lignes pour un PDF (au plus {num_max}) : choisissez CSV, XLSX ou le FEC.",
    ),
    # more of the catalogue, orders, ledger and subsidies
    (
        r'an account number is a string of digits, e\.g\. "(?P<example>\d+)"',
        "Un numéro de compte s'écrit en chiffres, par exemple « {example} ».",
    ),
    (
        r'an account number is 2 to 8 digits, e\.g\. "(?P<example>\d+)"',
        "Un numéro de compte a de 2 à 8 chiffres, par exemple « {example} ».",
    ),
    (
        r"an intermediary family takes no margin: its members pay the supplier directly",
        "Une famille en intermédiation ne prend pas de marge : ses membres paient "
        "directement le fournisseur.",
    ),
    (
        r"belongs to SIREN (?P<siren>\S+), not to this supplier's SIREN (?P<own>\S+)",
        "Appartient au SIREN {siren}, pas au SIREN {own} de ce fournisseur.",
    ),
    (r"letters, digits and -, e\.g\. .*", "Lettres, chiffres et -, par exemple 2 ou unique."),
    (r"(?P<sku>\S+) is no longer offered", "{sku} n'est plus proposé."),
    (
        r"(?P<sku>\S+) was placed before its market lot was recorded: .*",
        "{sku} a été commandé avant l'enregistrement de son lot de marché : sa quantité ne "
        "peut pas augmenter ; commandez les unités supplémentaires.",
    ),
    (
        r"order (?P<ref>\S+) is (?P<status>\w+): a quote is made for a draft or submitted "
        r"order only",
        "La commande {ref} est « {status} » : un devis se fait pour une commande en brouillon "
        "ou envoyée seulement.",
    ),
    (
        rf"before the deliberation approving the adhesion \((?P<day>{_DAY})\)",
        "Antérieure à la délibération approuvant l'adhésion ({day}).",
    ),
    (
        r"no fiscal year after (?P<year>\d+) to carry the balances into",
        "Aucun exercice après {year} pour reprendre les soldes : créez-le d'abord.",
    ),
    (
        r"account (?P<account>\S+) is not in the chart of accounts.*",
        "Le compte {account} n'est pas au plan de comptes : chargez-le, ou corrigez le "
        "paramétrage des écritures.",
    ),
    (
        r"account (?P<account>\S+) is a heading of the chart: .*",
        "Le compte {account} est un compte de regroupement : utilisez un de ses sous-comptes.",
    ),
    (
        r"a fixed amount per unit is its own cap per unit; use aid_per_unit",
        "Un montant fixe par unité est son propre plafond : renseignez l'aide par unité.",
    ),
    (
        r"line (?P<line>\S+) of invoice (?P<invoice>\S+) is (?P<amount>\S+); "
        r"(?P<amount_credited>\S+) would be credited in all",
        "La ligne aidée vaut {amount} : {amount_credited} seraient crédités en tout.",
    ),
    # auth
    (
        r"too many failed sign-ins: try again in (?P<minutes>\d+) minute\(s\)",
        "Trop de tentatives de connexion échouées : réessayez dans {minutes} minute(s).",
    ),
    (r"at least (?P<n>\d+) characters", "Au moins {n} caractères."),
    (r"unknown role; one of .*", "Rôle inconnu."),
    # imports
    (
        r"(?P<source>.+): (?P<count>\d+) problem\(s\), nothing imported",
        "Fichier refusé : {count} problème(s), rien n'a été importé.",
    ),
    (
        r"(?P<field>[a-z_]+\w*): (?P<rest>.+)",
        "{field} : {rest_fr}",
    ),
)
_COMPILED = tuple((re.compile(pattern, re.DOTALL), french) for pattern, french in PATTERNS)

#: Reasons a supplier invoice line disagrees with its purchase order line, as stored.
MISMATCH_PATTERNS: tuple[tuple[str, str], ...] = (
    (
        r"quantity (?P<qty>\S+) is more than the (?P<qty_ordered>\S+) in service",
        "Quantité {qty} supérieure aux {qty_ordered} en service.",
    ),
    (
        r"over-invoiced: (?P<qty>\S+) invoiced in all \((?P<qty_before>\S+) on earlier "
        r"invoices\) for (?P<qty_ordered>\S+) ordered",
        "Surfacturation : {qty} facturés en tout ({qty_before} sur des factures précédentes) "
        "pour {qty_ordered} commandés.",
    ),
    (
        r"over-invoiced: (?P<qty>\S+) invoiced in all for (?P<qty_ordered>\S+) ordered",
        "Surfacturation : {qty} facturés en tout pour {qty_ordered} commandés.",
    ),
    (
        r"unit cost (?P<amount>\S+) differs from the ordered (?P<amount_ordered>\S+)",
        "Coût unitaire {amount_unit} différent de celui commandé ({amount_ordered_unit}).",
    ),
    (
        r"amount (?P<amount>\S+) differs from the expected (?P<amount_expected>\S+) "
        r"\((?P<qty>\S+) x (?P<amount_unit>\S+)\)",
        "Montant {amount} différent du montant attendu {amount_expected} "
        "({qty} \u00d7 {amount_unit_price}).",
    ),
    (
        r"VAT rate (?P<rate>\S+) differs from the ordered (?P<rate_ordered>\S+)",
        "Taux de TVA {rate} différent de celui commandé ({rate_ordered}).",
    ),
    (
        r"no commissioning recorded for this service",
        "Aucune mise en service enregistrée pour ce service.",
    ),
    (
        rf"period outside the subscription \((?P<day>{_DAY}) to (?P<day_end>{_DAY})\)",
        "Période hors de l'abonnement (du {day} au {day_end}).",
    ),
    (
        rf"period outside the subscription \((?P<day>{_DAY}) to open-ended\)",
        "Période hors de l'abonnement (à partir du {day}, sans fin).",
    ),
    (
        r"period already invoiced on supplier invoice (?P<number>.+)",
        "Période déjà facturée sur la facture fournisseur {number}.",
    ),
)
_MISMATCHES = tuple((re.compile(p, re.DOTALL), french) for p, french in MISMATCH_PATTERNS)


def _fill(match: re.Match[str], french: str) -> str:
    values: dict[str, str] = {}
    for name, text in match.groupdict().items():
        values[name] = _french_value(name, text)
        if text is not None:
            # A nested message ("line 2: ..."), and a unit cost kept to four decimals.
            if f"{{{name}_fr}}" in french:
                values[f"{name}_fr"] = _inner(text)
            if name.startswith("amount"):
                values[f"{name}_unit"] = _unit_price(text)
                values[f"{name}_price"] = _unit_price(text)
    return french.format_map(_Missing(values))


def _inner(message: str) -> str:
    """A nested message, in French, placed after a colon: "saisissez..." when the sentence
    starts with a word of ours (a name it starts with keeps its capital)."""
    sentence = french_message(message)
    template = EXACT.get(message) or next(
        (french for pattern, french in _COMPILED if pattern.fullmatch(message)), "{"
    )
    if not template.startswith("{") and sentence[:1].isupper() and sentence[1:2].islower():
        return sentence[0].lower() + sentence[1:]
    return sentence


def _unit_price(text: str) -> str:
    try:
        return unit_price(Decimal(text))
    except (InvalidOperation, ValueError):
        return text


class _Missing(dict[str, str]):
    def __missing__(self, key: str) -> str:
        return ""


_EXACT_LOWER = {message.lower(): french for message, french in EXACT.items()}


def _translated(message: str) -> str | None:
    if message in EXACT:
        return EXACT[message]
    if message.lower() in _EXACT_LOWER:
        return _EXACT_LOWER[message.lower()]
    for pattern, french in _COMPILED:
        match = pattern.fullmatch(message)
        if match:
            return _fill(match, french)
    return None


def french_message(message: str, field: str | None = None) -> str:
    """``message`` about ``field`` (a field name, or None/"_form"), in French.

    A message that no rule knows gives a generic sentence naming the field.
    """
    if isinstance(message, French) or looks_french(message):
        return French(message)
    translated = _translated(message)
    if translated is not None and not is_english(translated):
        return French(translated)
    log.info("no French for %r (field %s)", message, field)
    return French(_generic(field))


def _generic(field: str | None) -> str:
    if field and field != "_form":
        return f"Valeur refusée pour le champ « {field_label(field)} » : vérifiez la saisie."
    return "Opération refusée : vérifiez les données et réessayez."


# --- Domain errors --------------------------------------------------------------------


def _invalid_transition(exc: Any) -> str | None:
    entity = str(exc.message).split(" cannot go from ")[0]
    current, target = getattr(exc, "current", None), getattr(exc, "target", None)
    if current is None or target is None:
        return None
    who = ENTITY_LABELS.get(entity, "l'élément")
    if current == target:
        return f"Impossible : {who} est déjà « {_status(current)} »."
    return f"Impossible de faire passer {who} de « {_status(current)} » à « {_status(target)} »."


def _too_many_failures(exc: Any) -> str | None:
    minutes = getattr(exc, "minutes", None)
    if minutes is None:
        return None
    return f"Trop de tentatives de connexion échouées : réessayez dans {minutes} minute(s)."


def _ceiling_exceeded(exc: Any) -> str | None:
    try:
        left = max(exc.ceiling - exc.consumed, Decimal(0))
        return (
            f"{exc.lot_reference} : cette commande engage {euros(exc.this_order)} HT, mais il ne "
            f"reste que {euros(left)} du plafond {exc.year} de {euros(exc.ceiling)} "
            f"({euros(exc.consumed)} déjà engagés par des commandes approuvées)."
        )
    except AttributeError:
        return None


def _import_refused(exc: Any) -> str | None:
    problems = getattr(exc, "problems", None)
    if problems is None:
        return None
    return f"Fichier refusé : {len(problems)} problème(s), rien n'a été importé."


def _permission_denied(_exc: Any) -> str | None:
    return "Votre rôle ne permet pas cette opération."


def _not_found(_exc: Any) -> str | None:
    return "Cet élément n'existe pas, ou vous n'y avez pas accès."


#: Refusals read by their class (by name, so this module imports no domain), most
#: specific first along the class's MRO.
BY_CLASS: Mapping[str, Callable[[Any], str | None]] = {
    "InvalidTransition": _invalid_transition,
    "TooManyLoginFailures": _too_many_failures,
    "CeilingExceeded": _ceiling_exceeded,
    "ImportRefused": _import_refused,
    "PermissionDenied": _permission_denied,
    "NotFound": _not_found,
}


def french_refusal(exc: DomainError) -> str:
    """What the refusal ``exc`` says as a whole (a flash, the top of a form), in French."""
    for cls in type(exc).__mro__:
        handler = BY_CLASS.get(cls.__name__)
        if handler is not None:
            said = handler(exc)
            if said is not None:
                return French(said)
            break
    fields = [f for f in getattr(exc, "errors", {}) if f != "_form"]
    field = fields[0] if len(fields) == 1 else None
    return french_message(str(getattr(exc, "message", exc)), field)


def french_errors(exc: DomainError) -> dict[str, list[str]]:
    """The messages of ``exc`` per field, in French; the class decides its own message."""
    said: dict[str, list[str]] = {}
    for field, messages in exc.errors.items():
        said[field] = [
            french_refusal(exc) if message == exc.message else french_message(message, field)
            for message in messages
        ]
    return said


def french_mismatch(reason: str) -> str:
    """A stored mismatch reason of a supplier invoice line, in French with French numbers."""
    for pattern, french in _MISMATCHES:
        match = pattern.fullmatch(reason)
        if match:
            return French(_fill(match, french))
    return french_message(reason)
