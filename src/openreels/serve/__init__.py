"""openreels serve: the job service every interface goes through (docs/serve.md).

HTTP API (`app.py`, FastAPI) -> job store (`store.py`, SQLite through SQLAlchemy, Alembic migrations) ->
workers (`workers.py`: embedded processes, or Ray tasks through `farm.py`) -> the library (`jobs.py`).
No model logic lives here.
"""

from openreels.serve.app import Limits, create_app
from openreels.serve.store import Store

__all__ = ["Limits", "Store", "create_app"]
