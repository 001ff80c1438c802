"""Storage: SQLAlchemy Core tables, migrations and query functions, scoped by Slack team id."""
