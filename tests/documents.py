"""Issued documents read back as a member's software reads them: PDF text, Factur-X XML."""

from __future__ import annotations

import io
import re
from decimal import Decimal
from fractions import Fraction
from math import floor

from lxml import etree
from pypdf import PdfReader

from purchasing import formats
from purchasing.billing.facturx import FACTURX_FILENAME, NAMESPACES

_SPACES = re.compile(r"[\u00a0\u202f]")


def pdf_text(pdf: bytes) -> str:
    """The text of every page, no-break spaces as plain ones."""
    reader = PdfReader(io.BytesIO(pdf))
    return _SPACES.sub(" ", "\n".join(page.extract_text() for page in reader.pages))


def embedded_xml(pdf: bytes) -> bytes:
    """The Factur-X XML attached to the PDF."""
    (xml,) = PdfReader(io.BytesIO(pdf)).attachments[FACTURX_FILENAME]
    return xml


def euros(amount: Decimal | str) -> str:
    """An amount as the PDF prints it ("1 234,50 €"), with plain spaces."""
    return _SPACES.sub(" ", formats.euros(Decimal(amount)))


def cii(xml: bytes, path: str) -> list[str]:
    """Texts of the elements at ``path`` ("//ram:DuePayableAmount") in a Factur-X XML."""
    return [element.text for element in etree.fromstring(xml).xpath(path, namespaces=NAMESPACES)]


def cii_amount(xml: bytes, tag: str) -> Decimal:
    """The one header total ``tag`` of the XML (LineTotalAmount, DuePayableAmount...)."""
    (value,) = cii(xml, f"//ram:SpecifiedTradeSettlementHeaderMonetarySummation/ram:{tag}")
    return Decimal(value)


def half_up_cents(value: Fraction) -> Decimal:
    """``value`` (0 or more) rounded half-up to the cent, exactly: the rule a reader checks
    every figure with, computed without any of the code that made them."""
    return Decimal(floor(value * 100 + Fraction(1, 2))) / 100
