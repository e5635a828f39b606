"""Domain records and rules; no web, CLI or database framework is imported here."""
