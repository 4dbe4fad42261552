"""Every model of every domain, imported so that ``metadata`` is complete (Alembic, tests)."""

from purchasing.audit.models import AuditRecord
from purchasing.auth.models import ApiToken, User
from purchasing.catalog.models import *  # noqa: F403 - the catalogue's tables
from purchasing.db import Base
from purchasing.events import DomainEvent
from purchasing.members.models import *  # noqa: F403 - the members' tables
from purchasing.numbering import NumberSequence
from purchasing.orders.models import (
    Delivery,
    Order,
    OrderLine,
    PurchaseOrder,
    PurchaseOrderLine,
    Subscription,
    SubscriptionQuantity,
    SupplierInvoice,
    SupplierInvoiceLine,
)

metadata = Base.metadata

__all__ = [
    "ApiToken",
    "AuditRecord",
    "Delivery",
    "DomainEvent",
    "NumberSequence",
    "Order",
    "OrderLine",
    "PurchaseOrder",
    "PurchaseOrderLine",
    "Subscription",
    "SubscriptionQuantity",
    "SupplierInvoice",
    "SupplierInvoiceLine",
    "User",
    "metadata",
]
