"""The one place that reads the environment.

Every setting has a working local default, so `sada run` needs no configuration at all;
production sets the SADA_* variables (see README, "Configuration").
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from pathlib import Path


def _int(env: dict[str, str], name: str, default: int) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise ValueError(f"{name} must be an integer, got {raw!r}") from exc


def _positive(env: dict[str, str], name: str, default: int) -> int:
    value = _int(env, name, default)
    if value < 1:
        raise ValueError(f"{name} must be at least 1, got {value}")
    return value


def _seconds(env: dict[str, str], name: str, default: float) -> float:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
    except ValueError as exc:
        raise ValueError(f"{name} must be a number of seconds, got {raw!r}") from exc
    if not 0 <= value <= 60:
        raise ValueError(f"{name} must be between 0 and 60 seconds, got {raw!r}")
    return value


@dataclass(frozen=True)
class Settings:
    # Where the embedded default keeps its files (the SQLite log, SecantusDB's data).
    data_dir: Path = Path(".sada")
    # "sqlite" (embedded default) or "kafka" (production).
    event_log: str = "sqlite"
    sqlite_path: Path | None = None
    kafka_bootstrap: str = "127.0.0.1:9092"
    kafka_topic: str = "sada.events"
    kafka_partitions: int = 6
    mongo_url: str = "mongodb://127.0.0.1:37017"
    mongo_db: str = "sada"
    # The embedded default starts its own SecantusDB on this port unless mongo_url is set.
    embedded_mongo_port: int = 37017
    host: str = "127.0.0.1"
    intake_port: int = 8001
    routing_port: int = 8002
    reporting_port: int = 8003
    log_level: str = "INFO"
    # Each stream worker serves /metrics on this port (0: none); `sada run` gives each its own.
    metrics_port: int = 9400
    metrics_host: str = "0.0.0.0"
    # Reporting's /readyz fails while the read models are more than this many events behind.
    ready_max_lag: int = 10000
    # The HMAC key that signs and verifies bearer tokens (services/auth.py). Empty: the
    # services refuse to start; `sada run` keeps one in the data dir (embedded_auth.py).
    auth_secret: str = field(default="", repr=False)
    # Opens the key store of requesters' personal data (services/privacy/): 32 random bytes
    # in base64. Empty: intake and reporting refuse to start; `sada run` keeps one in the
    # data dir (services/privacy/master.py). The key store's database: "" is mongo_db + "_keys".
    master_key: str = field(default="", repr=False)
    keystore_db: str = ""
    # Where the key-encryption keys live (services/privacy/keks.py): a directory outside
    # MongoDB that every process opening the key store reads. None: the data dir's `keks/`.
    kek_dir: Path | None = None
    # The KEK is replaced, and the old one destroyed, this often (hours); an erasure is final
    # at the next rotation after it. `sada run` rotates on this schedule; elsewhere a job runs
    # `sada privacy rotate` (deploy/). 0: only on demand.
    kek_rotation_hours: int = 24
    # Writes per token and process: a bucket of `rate_limit_burst` refilled at this rate.
    # 0 turns the limit off.
    rate_limit_per_minute: int = 120
    rate_limit_burst: int = 30
    # The routing worker tells the stream the time (a ClockTicked) this often, in seconds of
    # wall time; routing warns and escalates on ticks (routing/clock.py). 0: no clock, ticks
    # come only from `sada tick` or POST /clock/ticks (a simulated clock).
    clock_seconds: int = 60
    # The routing worker snapshots its partitions after this many events (and when stopped
    # cleanly), so a restart folds only what came after (routing/snapshots.py). 0: never.
    routing_snapshot_events: int = 5_000
    # After the first events of a batch arrive, the reporting projector waits this long (ms)
    # for more before it writes: a demand's submission and routing's decision, a few ms
    # apart, then cost one write of its document instead of two (reporting/projector.py).
    projector_linger_ms: int = 50
    # The longest lifetime (exp - iat) of a token the services accept, in hours; a longer one
    # is refused at verification however it was signed (`sada run`'s demo tokens live 7 days).
    token_max_hours: int = 192
    # The same for the roles that see or change the whole city (administrator, headquarters,
    # central management, auditor): a stolen token of theirs is worth most.
    token_max_hours_privileged: int = 12
    # How many reverse proxies in front of a service to believe about the client: their
    # X-Forwarded-For/-Proto/-Host/-Port (werkzeug's ProxyFix). 0: none, the headers are
    # ignored. Behind one TLS-terminating proxy set 1, so the session cookie is Secure.
    trusted_proxies: int = 0
    # The one jurisdiction Open311 serves: a `jurisdiction_id` naming another is refused.
    open311_jurisdiction: str = "tehran.ir"
    # An Open311 POST answers once its request can be read back (the projector has it),
    # waiting at most this long (s): GeoReport clients read a request straight after posting
    # it. Past the wait the answer still names the request. 0: answer at once.
    open311_visible_seconds: float = 5.0
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def event_log_path(self) -> Path:
        return self.sqlite_path or (self.data_dir / "events.sqlite3")

    @property
    def stack_file(self) -> Path:
        """Where `sada run` records what it started (sada/stack.py)."""
        return self.data_dir / "stack.json"

    @property
    def kek_path(self) -> Path:
        return self.kek_dir or (self.data_dir / "keks")

    @property
    def mongo_data_dir(self) -> Path:
        return self.data_dir / "mongo"

    def with_(self, **changes) -> Settings:
        return replace(self, **changes)

    def service_url(self, service: str) -> str:
        port = {"intake": self.intake_port, "routing": self.routing_port,
                "reporting": self.reporting_port}[service]
        return f"http://{self.host}:{port}"


def load(env: dict[str, str] | None = None) -> Settings:
    """Build Settings from SADA_* environment variables."""
    env = dict(os.environ if env is None else env)
    data_dir = Path(env.get("SADA_DATA_DIR", ".sada"))
    mongo_port = _int(env, "SADA_EMBEDDED_MONGO_PORT", 37017)
    event_log = env.get("SADA_EVENT_LOG", "sqlite").lower()
    if event_log not in ("sqlite", "kafka"):
        raise ValueError(f"SADA_EVENT_LOG must be 'sqlite' or 'kafka', got {event_log!r}")
    sqlite_path = env.get("SADA_SQLITE_PATH")
    return Settings(
        data_dir=data_dir,
        event_log=event_log,
        sqlite_path=Path(sqlite_path) if sqlite_path else None,
        kafka_bootstrap=env.get("SADA_KAFKA_BOOTSTRAP", "127.0.0.1:9092"),
        kafka_topic=env.get("SADA_KAFKA_TOPIC", "sada.events"),
        kafka_partitions=_int(env, "SADA_KAFKA_PARTITIONS", 6),
        mongo_url=env.get("SADA_MONGO_URL", f"mongodb://127.0.0.1:{mongo_port}"),
        mongo_db=env.get("SADA_MONGO_DB", "sada"),
        embedded_mongo_port=mongo_port,
        host=env.get("SADA_HOST", "127.0.0.1"),
        intake_port=_int(env, "SADA_INTAKE_PORT", 8001),
        routing_port=_int(env, "SADA_ROUTING_PORT", 8002),
        reporting_port=_int(env, "SADA_REPORTING_PORT", 8003),
        log_level=env.get("SADA_LOG_LEVEL", "INFO").upper(),
        metrics_port=_int(env, "SADA_METRICS_PORT", 9400),
        metrics_host=env.get("SADA_METRICS_HOST", "0.0.0.0"),
        ready_max_lag=_int(env, "SADA_READY_MAX_LAG", 10000),
        auth_secret=env.get("SADA_AUTH_SECRET", ""),
        master_key=env.get("SADA_MASTER_KEY", ""),
        keystore_db=env.get("SADA_KEYSTORE_DB", ""),
        kek_dir=Path(env["SADA_KEK_DIR"]) if env.get("SADA_KEK_DIR") else None,
        kek_rotation_hours=_int(env, "SADA_KEK_ROTATION_HOURS", 24),
        rate_limit_per_minute=_int(env, "SADA_RATE_LIMIT_PER_MINUTE", 120),
        rate_limit_burst=_int(env, "SADA_RATE_LIMIT_BURST", 30),
        clock_seconds=_int(env, "SADA_CLOCK_SECONDS", 60),
        routing_snapshot_events=_int(env, "SADA_ROUTING_SNAPSHOT_EVENTS", 5_000),
        projector_linger_ms=_int(env, "SADA_PROJECTOR_LINGER_MS", 50),
        token_max_hours=_positive(env, "SADA_TOKEN_MAX_HOURS", 192),
        token_max_hours_privileged=_positive(env, "SADA_TOKEN_MAX_HOURS_PRIVILEGED", 12),
        trusted_proxies=_int(env, "SADA_TRUSTED_PROXIES", 0),
        open311_jurisdiction=env.get("SADA_OPEN311_JURISDICTION", "tehran.ir").strip()
        or "tehran.ir",
        open311_visible_seconds=_seconds(env, "SADA_OPEN311_VISIBLE_SECONDS", 5.0),
    )
