"""Adapters for persistence: the metadata store (SQLAlchemy) and the artifact store."""
