"""Persistence: tables, migrations, repositories, and the claim/lease queue."""
