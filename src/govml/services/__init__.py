"""Use cases: one entry point per action; authorisation and ledger writes happen here."""
