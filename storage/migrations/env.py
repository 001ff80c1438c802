"""Alembic environment: runs migrations on a connection handed over by storage.db."""

from alembic import context

from storage.tables import metadata

target_metadata = metadata


def run_migrations_online() -> None:
    """Run migrations on the connection storage.db.upgrade passes in."""
    connection = context.config.attributes.get("connection")
    if connection is None:
        raise RuntimeError("run migrations through `trustloop db upgrade`")
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=True,
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    raise RuntimeError("offline SQL generation is not supported")
run_migrations_online()
