"""Every domain's models, imported so that ``metadata`` is complete (Alembic, tests)."""

import purchasing.audit.models
import purchasing.auth.models
import purchasing.billing.models
import purchasing.catalog.models
import purchasing.catalog.versions
import purchasing.events
import purchasing.ledger.models
import purchasing.members.models
import purchasing.numbering
import purchasing.orders.models
import purchasing.subsidies.models  # noqa: F401 - imported for their tables
from purchasing.db import Base

metadata = Base.metadata
