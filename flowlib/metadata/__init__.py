"""Metadata stores: the interface (``base``), its records (``records``) and the SQLite and
DynamoDB backends."""
