"""Alembic environment for the job store: runs the migrations in versions/ on the URL `Store` passes in."""

from alembic import context
from sqlalchemy import create_engine

url = context.config.get_main_option("sqlalchemy.url")
engine = create_engine(url)
with engine.connect() as connection:
    context.configure(connection=connection, render_as_batch=True)  # batch: SQLite cannot ALTER most things
    with context.begin_transaction():
        context.run_migrations()
engine.dispose()
