"""The annex budget's books (nomenclature M4, operating section), fed by domain events.

``posting`` holds the rules that turn an event into a balanced entry, ``services`` posts
pending events and keeps the fiscal years, ``lettering`` matches invoices with what
settles them, ``closing`` builds the year-end entries (result, à-nouveaux), ``exports``
writes the journal, the general ledger, the trial balance and the FEC as streams,
``reports`` sums them up per family and per year. The ledger reads the other domains'
events and tables; none of them imports it.
"""
