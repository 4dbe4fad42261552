"""Orders of members, purchase orders to suppliers, supplier invoices, subscriptions."""
