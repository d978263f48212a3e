"""The job store: tokens, uploads, projects and jobs in SQLite (WAL) under the data folder, through SQLAlchemy,
with the schema made by Alembic migrations (`migrations/`).

A job moves queued -> running -> done | failed | cancelled. A worker claims a job with one UPDATE (so two
workers never take the same job), and its attempt number fences it: a worker finishes a job only while the
job is still running under the attempt it claimed, so a job the server re-queued after a crash cannot be
finished by a leftover worker as well.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import (
    JSON,
    Boolean,
    Float,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
    create_engine,
    event,
    select,
    update,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, sessionmaker

from openreels.errors import OpenreelsError

STATES = ("queued", "running", "done", "failed", "cancelled")
FINAL = ("done", "failed", "cancelled")


class Base(DeclarativeBase):
    pass


class Token(Base):
    __tablename__ = "tokens"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    digest: Mapped[str] = mapped_column(String(64), unique=True)  # sha256 of the secret
    created_at: Mapped[float] = mapped_column(Float)


class Upload(Base):
    __tablename__ = "uploads"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    token_id: Mapped[str] = mapped_column(ForeignKey("tokens.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # image | video
    content_type: Mapped[str] = mapped_column(String(64))
    bytes: Mapped[int] = mapped_column(Integer)
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    frames: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[float] = mapped_column(Float)


class ProjectRow(Base):
    __tablename__ = "projects"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    token_id: Mapped[str] = mapped_column(ForeignKey("tokens.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[float] = mapped_column(Float)


class Job(Base):
    __tablename__ = "jobs"
    __table_args__ = (UniqueConstraint("token_id", "client_key"),)
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    token_id: Mapped[str] = mapped_column(ForeignKey("tokens.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # generate | animate | compose | plan | render | shot
    state: Mapped[str] = mapped_column(String(16), index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    request: Mapped[dict] = mapped_column(JSON)
    request_digest: Mapped[str] = mapped_column(String(64))
    client_key: Mapped[str | None] = mapped_column(String(128), nullable=True)
    project_id: Mapped[str | None] = mapped_column(ForeignKey("projects.id"), nullable=True, index=True)
    result: Mapped[dict | None] = mapped_column(JSON, nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    progress: Mapped[dict | None] = mapped_column(JSON, nullable=True)
    cancel_requested: Mapped[bool] = mapped_column(Boolean, default=False)
    worker: Mapped[str | None] = mapped_column(String(64), nullable=True)  # who runs it (attempt's owner)
    created_at: Mapped[float] = mapped_column(Float, index=True)
    started_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    finished_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    updated_at: Mapped[float] = mapped_column(Float)


def new_id() -> str:
    return uuid.uuid4().hex


def digest(secret: str) -> str:
    # Tokens are 256 random bits, so a plain sha256 is enough (a slow password hash guards guessable secrets).
    return hashlib.sha256(secret.encode()).hexdigest()


def request_digest(kind: str, request: dict) -> str:
    return hashlib.sha256(json.dumps([kind, request], sort_keys=True).encode()).hexdigest()


def migrate(url: str) -> None:
    """Bring the database at `url` to the newest schema (Alembic, `migrations/`)."""
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(Path(__file__).with_name("migrations")))
    config.set_main_option("sqlalchemy.url", url)
    command.upgrade(config, "head")


class Store:
    """The database of one data folder; safe to open from several processes at once (SQLite WAL)."""

    def __init__(self, data: str | Path, migrate_schema: bool = True) -> None:
        self.data = Path(data)
        self.data.mkdir(parents=True, exist_ok=True)
        url = f"sqlite:///{self.data / 'serve.db'}"
        if migrate_schema:
            migrate(url)
        self.engine = self._engine(url, begin=None)  # reads: no transaction held
        # Writes take the write lock when they begin (BEGIN IMMEDIATE), so a read-then-write transaction
        # waits its turn instead of failing with "database is locked" when another process wrote meanwhile.
        self.write_engine = self._engine(url, begin="BEGIN IMMEDIATE")
        self._reads = sessionmaker(self.engine, expire_on_commit=False)
        self._writes = sessionmaker(self.write_engine, expire_on_commit=False)

    @staticmethod
    def _engine(url: str, begin: str | None):
        engine = create_engine(url, connect_args={"timeout": 30})

        @event.listens_for(engine, "connect")
        def _pragmas(conn, _record) -> None:
            cur = conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            # WAL with synchronous=NORMAL loses nothing when a process dies (only on power loss).
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.close()
            if begin:
                conn.isolation_level = None  # the driver's own BEGIN is off; ours follows

        if begin:

            @event.listens_for(engine, "begin")
            def _begin(conn) -> None:
                conn.exec_driver_sql(begin)

        return engine

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session for reading."""
        with self._reads() as s:
            yield s

    @contextmanager
    def write(self) -> Iterator[Session]:
        """A session that writes, committed at the end (rolled back on an exception)."""
        with self._writes.begin() as s:
            yield s

    # --- tokens ------------------------------------------------------------------------------------------
    def create_token(self, name: str) -> str:
        """A new token for `name`; only its hash is kept, so the secret is shown once."""
        if not name or len(name) > 64 or not name.replace("-", "").replace("_", "").isalnum():
            raise OpenreelsError("a token name is 1-64 letters, digits, '-' or '_'")
        secret = "or_" + secrets.token_urlsafe(32)
        with self.write() as s:
            if s.scalar(select(Token).where(Token.name == name)):
                raise OpenreelsError(f"a token named {name!r} exists; pick another name")
            s.add(Token(id=new_id(), name=name, digest=digest(secret), created_at=time.time()))
        return secret

    def token_for(self, secret: str) -> Token | None:
        with self.session() as s:
            return s.scalar(select(Token).where(Token.digest == digest(secret)))

    def tokens(self) -> list[Token]:
        with self.session() as s:
            return list(s.scalars(select(Token).order_by(Token.created_at)))

    # --- jobs --------------------------------------------------------------------------------------------
    def submit(
        self,
        token_id: str,
        kind: str,
        request: dict,
        client_key: str | None = None,
        project_id: str | None = None,
    ) -> tuple[Job, bool]:
        """Queue a job; with a client key, the same key returns the job it made first (created False)."""
        req_digest = request_digest(kind, request)
        now = time.time()
        with self.write() as s:
            if client_key is not None:
                old = s.scalar(select(Job).where(Job.token_id == token_id, Job.client_key == client_key))
                if old is not None:
                    if old.request_digest != req_digest:
                        raise OpenreelsError(
                            "this Idempotency-Key was used for a different request; use a new key"
                        )
                    return old, False
            job = Job(
                id=new_id(),
                token_id=token_id,
                kind=kind,
                state="queued",
                attempts=0,
                request=request,
                request_digest=req_digest,
                client_key=client_key,
                project_id=project_id,
                cancel_requested=False,
                created_at=now,
                updated_at=now,
            )
            s.add(job)
        return job, True

    def job(self, job_id: str, token_id: str | None = None) -> Job | None:
        with self.session() as s:
            job = s.get(Job, job_id)
        if job is None or (token_id is not None and job.token_id != token_id):
            return None
        return job

    def jobs(self, token_id: str, state: str | None = None, limit: int = 100) -> list[Job]:
        with self.session() as s:
            q = select(Job).where(Job.token_id == token_id)
            if state:
                q = q.where(Job.state == state)
            return list(s.scalars(q.order_by(Job.created_at.desc()).limit(limit)))

    def claim(self, worker: str, kinds: tuple[str, ...] | None = None) -> Job | None:
        """Take the oldest queued job (running, one more attempt), or None. Atomic across processes."""
        now = time.time()
        oldest = select(Job.id).where(Job.state == "queued").order_by(Job.created_at).limit(1)
        if kinds:
            oldest = oldest.where(Job.kind.in_(kinds))
        with self.write() as s:
            job_id = s.scalar(
                update(Job)
                .where(Job.id == oldest.scalar_subquery(), Job.state == "queued")
                .values(
                    state="running",
                    attempts=Job.attempts + 1,
                    started_at=now,
                    updated_at=now,
                    progress=None,
                    worker=worker,
                )
                .returning(Job.id)
            )
            return s.get(Job, job_id) if job_id else None

    def _update_running(self, job: Job, **values) -> bool:
        with self.write() as s:
            done = s.execute(
                update(Job)
                .where(Job.id == job.id, Job.state == "running", Job.attempts == job.attempts)
                .values(updated_at=time.time(), **values)
            )
            return done.rowcount == 1

    def set_progress(self, job: Job, progress: dict) -> bool:
        """Record progress; False when the job was cancelled meanwhile (the worker should stop)."""
        with self.write() as s:
            cancelled = s.scalar(
                update(Job)
                .where(Job.id == job.id, Job.state == "running", Job.attempts == job.attempts)
                .values(progress=progress, updated_at=time.time())
                .returning(Job.cancel_requested)
            )
        return cancelled is False  # None: this attempt no longer owns the job

    def finish(self, job: Job, result: dict) -> bool:
        return self._update_running(job, state="done", result=result, finished_at=time.time())

    def fail(self, job: Job, error: str, state: str = "failed") -> bool:
        return self._update_running(job, state=state, error=error, finished_at=time.time())

    def cancel(self, job_id: str) -> None:
        """A queued job is cancelled at once; a running one is asked to stop (its worker ends it)."""
        now = time.time()
        with self.write() as s:
            s.execute(
                update(Job)
                .where(Job.id == job_id, Job.state == "queued")
                .values(state="cancelled", cancel_requested=True, finished_at=now, updated_at=now)
            )
            s.execute(
                update(Job)
                .where(Job.id == job_id, Job.state == "running")
                .values(cancel_requested=True, updated_at=now)
            )

    def requeue_running(self, worker: str | None = None) -> int:
        """After a crash: every job left running (by `worker`, or by anyone) goes back to the queue; its next
        attempt resumes it."""
        with self.write() as s:
            res = s.execute(
                update(Job)
                .where(Job.state == "running", *([Job.worker == worker] if worker else []))
                .values(state="queued", progress=None, updated_at=time.time())
            )
            return res.rowcount

    def counts(self) -> dict[str, int]:
        from sqlalchemy import func

        with self.session() as s:
            rows = s.execute(select(Job.state, func.count()).group_by(Job.state)).all()
        return {state: n for state, n in rows}

    # --- uploads and projects ----------------------------------------------------------------------------
    def add(self, row: Base) -> None:
        with self.write() as s:
            s.add(row)

    def owned(self, model: type[Base], row_id: str, token_id: str):
        with self.session() as s:
            row = s.get(model, row_id)
        return row if row is not None and row.token_id == token_id else None

    def projects(self, token_id: str) -> list[ProjectRow]:
        with self.session() as s:
            q = select(ProjectRow).where(ProjectRow.token_id == token_id)
            return list(s.scalars(q.order_by(ProjectRow.created_at.desc())))
