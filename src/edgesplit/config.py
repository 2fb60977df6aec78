"""Node settings: a TOML file plus ``EDGESPLIT_*`` environment overrides.

Precedence, highest first: explicit keyword arguments (the CLI's flags), environment
variables (``EDGESPLIT_UPSTREAM_TIMEOUT_S=5``), the TOML file, then the defaults below.
Validation runs at start-up; any error is raised as :class:`ConfigError` naming the key.
"""

from __future__ import annotations

import os
import re
import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from edgesplit.config_checks import ENV_PREFIX, check_model_reference, describe_error, is_loopback
from edgesplit.config_tables import PrivacyRuleConfig, UpstreamConfig
from edgesplit.errors import ConfigError
from edgesplit.privacy.dates import DatePolicy
from edgesplit.privacy.identifiers import DEFAULT_IDENTIFIERS
from edgesplit.privacy.vocabulary import DEFAULT_SAFE_TOKENS, PrivacyMode
from edgesplit.schemas import PrivacyAction, UpstreamScope

__all__ = ["ENV_PREFIX", "PrivacyRuleConfig", "Role", "Settings", "UpstreamConfig", "load_settings"]

# edge: the device next to the user ("device" is accepted too); local: an on-premises server,
# upstream for devices and edge toward the cloud; cloud: the top tier.
Role = Literal["edge", "local", "cloud"]
TIER_NAMES: dict[str, str] = {"edge": "device", "local": "local", "cloud": "cloud"}  # in response metadata

DEFAULT_MODELS: dict[str, str] = {
    "edge": "smollm2-135m-instruct",
    "local": "qwen2.5-coder-0.5b-instruct",
    "cloud": "qwen2.5-coder-1.5b-instruct",
}


class Settings(BaseSettings):
    """Everything a node needs to start. Units are in the names."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="forbid", validate_default=True)

    role: Role = "edge"
    host: str = "127.0.0.1"  # bind address; anything but loopback must be asked for
    port: int = Field(default=8000, ge=0, le=65535)  # 0 = pick a free port
    model: str = ""  # a registry name (edgesplit models) or a path to any GGUF file; empty = the role's default
    model_sha256: str | None = Field(default=None, pattern=r"^[0-9a-fA-F]{64}$")  # checked before the model loads
    n_ctx: int = Field(default=2048, ge=256, le=32768)  # context window, tokens
    n_threads: int = Field(default=2, ge=1, le=256)  # llama.cpp threads, for decoding and for prompts alike
    # the cloud's engine: uvicorn (one process) or ray (a Ray Serve deployment, cloud/ray_serve.py)
    engine: Literal["uvicorn", "ray"] = "uvicorn"
    ray_address: str | None = None  # an existing Ray cluster ("auto", "ray://host:10001"); None starts one here
    ray_replicas: int = Field(default=1, ge=1, le=1000)  # fixed replica count, without autoscaling
    ray_min_replicas: int | None = Field(default=None, ge=0, le=1000)  # set both min and max to autoscale
    ray_max_replicas: int | None = Field(default=None, ge=1, le=1000)
    ray_target_ongoing_requests: float = Field(default=2.0, gt=0, le=1000)  # per replica, for autoscaling
    ray_replica_threads: int = Field(default=1, ge=1, le=256)  # llama.cpp threads (and Ray CPUs) per replica
    api_token: SecretStr | None = None  # bearer token this node requires from its callers
    # more accepted tokens, for rotation: old and new overlap; the file (one per line) is re-read when it changes
    api_tokens: list[SecretStr] = []
    api_tokens_file: Path | None = None
    rate_limit_rps: float = Field(default=0.0, ge=0)  # requests per second per client (token or address); 0 = off
    rate_limit_burst: int = Field(default=20, ge=1)  # requests a client may send at once before the rate applies
    # TLS on this node's listener (both or neither), and the CA bundle that the upstream's certificate must chain to
    tls_cert: Path | None = None
    tls_key: Path | None = None
    upstream_ca: Path | None = None
    upstream: str | None = None  # base URL of the next tier, e.g. http://127.0.0.1:8001
    upstream_token: SecretStr | None = None  # bearer token sent to the upstream
    upstream_model: str = "default"  # model name sent to the upstream
    upstream_timeout_s: float = Field(default=30.0, gt=0, le=3600)
    # a failed upstream is asked again this many times before the next one (or the edge's own
    # answer): for a load balancer such as Ray Serve's proxy, where another try reaches another server
    upstream_retries: int = Field(default=0, ge=0, le=5)
    # site: the upstream is on premises (a local tier), so site-only data may go there; cloud: it is not
    upstream_scope: UpstreamScope = "cloud"
    # several upstreams (instead of upstream/upstream_token/upstream_model): failover and load balancing
    upstreams: list[UpstreamConfig] = []
    # within one priority: weighted (shuffle by weight), least-busy (fewest in flight per weight) or
    # latency (lowest measured round trip times in flight, per weight)
    upstream_strategy: Literal["weighted", "least-busy", "latency"] = "weighted"
    link_failure_threshold: int = Field(default=3, ge=1, le=1000)  # consecutive failures that open the breaker
    link_backoff_s: float = Field(default=1.0, gt=0, le=3600)  # first wait before a half-open probe
    link_max_backoff_s: float = Field(default=60.0, gt=0, le=86400)
    link_probe_interval_s: float = Field(default=15.0, ge=0, le=86400)  # active RTT/bandwidth probes; 0 = off
    link_probe_bytes: int = Field(default=64 * 1024, ge=1024, le=8 * 1024 * 1024)  # download size per probe
    data_dir: Path | None = None  # outbox / result store; default: the cache dir + "/<role>"
    outbox_max_rows: int = Field(default=100_000, ge=1)  # pending jobs before 507
    outbox_max_bytes: int = Field(default=512 * 1024 * 1024, ge=1024)  # pending request bytes before 507
    outbox_backoff_s: float = Field(default=1.0, gt=0, le=3600)  # first retry delay; doubles per attempt
    outbox_max_backoff_s: float = Field(default=300.0, gt=0, le=86400)
    outbox_concurrency: int = Field(default=2, ge=1, le=64)  # deliveries in flight at once
    # pre-processors by entry-point name, in order (edgesplit.preprocess): clean, extract, compress, ...
    preprocessors: list[str] = []
    compress_min_lines: int = Field(default=40, ge=2)  # compress: only user messages at least this long
    compress_keep_lines: int = Field(default=24, ge=1)  # compress: log lines sent up
    # traces (OpenTelemetry, edgesplit/tracing.py): none, console, or otlp (the otlp extra) to the endpoint
    trace_exporter: Literal["none", "console", "otlp"] = "none"
    trace_otlp_endpoint: str = "http://127.0.0.1:4318/v1/traces"
    privacy_default: PrivacyAction = "redact"  # for requests that ask for nothing and match no rule
    privacy_ner: bool = True  # spaCy names/places/orgs (about 10 ms per 500 characters); patterns always run
    privacy_rules: list[PrivacyRuleConfig] = []
    privacy_deny_list: list[str] = []  # terms always redacted (type CUSTOM)
    privacy_custom_patterns: dict[str, str] = {}  # entity type -> regex
    # a regex (group 1 = the value) that replaces the labelled MEDICAL_RECORD pattern; None = use the labels
    privacy_medical_record_pattern: str | None = None
    # entity type -> labels written before the value ("MRN", "serial no."); see privacy/identifiers.py
    privacy_identifiers: dict[str, list[str]] = Field(default_factory=lambda: dict(DEFAULT_IDENTIFIERS))
    privacy_dates: DatePolicy = "personal"  # birth | personal | all (see privacy/dates.py)
    privacy_context_types: list[str] = ["LOCATION", "ORGANIZATION"]  # NER types redacted only in personal text
    # "clinical" = HIPAA Safe Harbor reading: every date (privacy_dates=all), every place (no context rule),
    # and strict mode unless privacy_mode says otherwise
    privacy_preset: Literal["standard", "clinical"] = "standard"
    # standard: detectors and NER find PII by format; strict: only what the word lists vouch for leaves
    # (privacy/strict.py). None: strict for the clinical preset, standard otherwise
    privacy_mode: PrivacyMode | None = None
    # tier: every tier redacts what leaves it; site: a device whose every upstream is scope = "site" sends
    # them the text as is, and the tier where text leaves the site (the local tier) redacts it
    privacy_boundary: Literal["tier", "site"] = "tier"
    privacy_public_entities: list[str] = []  # public names kept as well as the packaged list (as written)
    privacy_safe_tokens: list[str] = list(DEFAULT_SAFE_TOKENS)  # digit-bearing words strict mode lets leave
    privacy_phone_regions: list[str] = ["US", "BR", "GB", "PT"]
    vault_ttl_s: float = Field(default=3600.0, gt=0)  # placeholder mappings expire this long after last use
    # Fernet key sealing deferred jobs' mappings on disk; None = a 0600 key file in data_dir (vault.key)
    vault_key: SecretStr | None = None
    split_model: str | None = None  # model for split inference (engine); the cloud serves its suffix
    split_k: int | None = Field(default=None, ge=0)  # layers the edge runs; None = half
    split_codec: Literal["fp32", "fp16", "int8", "int8o"] = "int8o"  # int8o: int8 + 4 exact outlier channels
    split_objective: Literal["fastest", "least-cloud"] = "fastest"  # how the edge's replanner picks k
    split_latency_budget_ms: float | None = Field(default=None, gt=0)  # for least-cloud
    split_session_ttl_s: float = Field(default=300.0, gt=0)
    split_max_cache_bytes: int = Field(default=2 * 1024**3, ge=1024 * 1024)  # KV cache across split sessions
    split_max_frame_bytes: int = Field(default=64 * 1024 * 1024, ge=1024)
    speculative_model: str | None = None  # cloud: the model that verifies drafts; edge: enables the route
    # auto: batched for a same-vocabulary drafter (token ids), exact otherwise; exact: bit-identical to
    # plain greedy decoding; batched: equal except at near-ties (cloud/verifier.py TIE_TOLERANCE)
    speculative_verify: Literal["auto", "exact", "batched"] = "auto"
    speculative_max_draft: int = Field(default=8, ge=1, le=32)  # edge: largest draft per round
    speculative_pipeline: bool = True  # edge: draft the next block while a verify call is in flight
    speculative_skip_threshold: float = Field(default=0.9, gt=0, lt=1)  # skip mode's default probability
    speculative_session_ttl_s: float = Field(default=300.0, gt=0)
    speculative_max_sessions: int = Field(default=64, ge=1)
    cascade_threshold: float = Field(default=-1.0, le=0)  # mean token log-prob under which auto escalates
    cascade_probe_tokens: int = Field(default=8, ge=1, le=256)  # tokens checked before a stream commits
    # edge, local: the answer check of auto (`edgesplit calibrate-cascade`), a JSON file; with none
    # configured, the check packaged for this node's model, when edgesplit ships one (it then
    # routes auto instead of the learned prompt router below); neither = the mean log-prob rule
    answer_check: Path | None = None
    answer_check_packaged: bool = True
    # streamed auto: hold up to cascade_hold_tokens tokens and check them (a short answer whole),
    # or check only the first cascade_probe_tokens (prefix: faster first token, weaker check)
    cascade_stream: Literal["hold", "prefix"] = "hold"
    cascade_hold_tokens: int = Field(default=256, ge=1, le=8192)
    # the answer check runs a code answer's own >>> examples in a child Python under CPU, memory,
    # file and process limits (evaluation/execution.py), not network-isolated; false: only parse it
    cascade_run_code: bool = True
    # edge: the learned router (`edgesplit calibrate`); none, missing or invalid = the cascade above
    router_artifact: Path | None = None
    # with no router_artifact: the router packaged for this node's model, when edgesplit ships one
    router_packaged: bool = True
    router_reload_s: float = Field(default=5.0, ge=0)  # how often the artifact file is checked; 0 = never
    # sync (edge, local): the TUF root metadata this node trusts (from `edgesplit keys init`); enables
    # pulling signed bundles of model, router and policy from the upstream
    sync_root: Path | None = None
    sync_interval_s: float = Field(default=300.0, ge=0, le=86400 * 7)  # poll period; 0 = only `sync pull`
    sync_stale_alarm_s: float = Field(default=86400.0, gt=0)  # alarm when no fresh timestamp verified this long
    sync_min_rate_bps: float = Field(default=20_000.0, gt=0)  # a target download slower than this on average fails
    # sync (cloud): the signing keys; serving needs only the snapshot and timestamp (online) keys
    sync_keys_dir: Path | None = None
    sync_timestamp_expiry_s: float = Field(default=86400.0, ge=60, le=86400 * 365)
    sync_snapshot_expiry_s: float = Field(default=30 * 86400.0, ge=3600, le=86400 * 365)
    sync_refresh_check_s: float = Field(default=60.0, gt=0, le=86400)  # how often due metadata is re-signed
    sync_expiry_warn_days: float = Field(default=21.0, ge=0)  # warn of root and targets expiry this early
    # every node: the bearer token for its admin routes (sync pull and rollback); unset = those are off
    admin_token: SecretStr | None = None
    # feedback (edge, local): hard cases recorded (redacted) and sent up through the outbox
    feedback: bool = True
    feedback_shadow_rate: float = Field(default=0.02, ge=0, le=1)  # share of kept requests sent up as shadows
    feedback_batch: int = Field(default=16, ge=1, le=10_000)  # candidates per outbox job
    feedback_flush_s: float = Field(default=60.0, ge=0)  # a partial batch is stored this often; 0 = only when full
    queue_max_waiting: int = Field(default=16, ge=0, le=100_000)  # waiting requests per model before 429
    queue_retry_after_s: int = Field(default=2, ge=1, le=3600)
    max_body_bytes: int = Field(default=1_000_000, ge=1024)
    max_tokens_limit: int = Field(default=1024, ge=1)  # largest max_tokens a client may ask for (else 400)
    default_max_tokens: int = Field(default=256, ge=1)  # a request without max_tokens (shrunk to fit the context)
    # on SIGTERM: in-flight requests get this long (s) to finish; then they are cancelled and the node exits
    shutdown_timeout_s: int = Field(default=10, ge=1, le=3600)

    @field_validator("privacy_medical_record_pattern")
    @classmethod
    def _pattern_compiles(cls, value: str | None) -> str | None:
        if value:
            re.compile(value)
        return value

    @field_validator("privacy_identifiers")
    @classmethod
    def _labels_compile(cls, value: dict[str, list[str]]) -> dict[str, list[str]]:
        for labels in value.values():
            for label in labels:
                re.compile(label)
        return value

    @model_validator(mode="after")
    def _apply_preset(self) -> Settings:
        if self.privacy_preset == "clinical":
            self.privacy_dates = "all"
            self.privacy_context_types = []
            self.privacy_mode = self.privacy_mode or "strict"
        self.privacy_mode = self.privacy_mode or "standard"
        return self

    @field_validator("privacy_custom_patterns")
    @classmethod
    def _patterns_compile(cls, value: dict[str, str]) -> dict[str, str]:
        for pattern in value.values():
            re.compile(pattern)
        return value

    @model_validator(mode="after")
    def _check_consistency(self) -> Settings:
        if not self.model:
            self.model = DEFAULT_MODELS[self.role]
        check_model_reference(self.model)
        if self.role == "cloud" and self.upstream:
            raise ValueError("upstream: the cloud tier has no upstream")
        if self.role == "local" and not self.requires_token:
            raise ValueError("api_token: a local tier serves other tiers and requires a bearer token")
        if self.upstream and not self.upstream.startswith(("http://", "https://")):
            raise ValueError(f"upstream: must be an http(s) URL, got {self.upstream!r}")
        self._check_upstreams()
        self._check_engine()
        self._check_boundary()
        if self.sync_root is not None and not self.upstream:
            raise ValueError("sync_root: syncing needs an upstream to pull from")
        if not is_loopback(self.host) and not self.requires_token:
            raise ValueError(f"api_token: required when binding beyond loopback (host={self.host!r})")
        if self.admin_token is not None and self.admin_token == self.api_token:
            raise ValueError("admin_token: must differ from api_token (clients hold that one)")
        if (self.tls_cert is None) != (self.tls_key is None):
            raise ValueError("tls_cert, tls_key: TLS needs both the certificate and its key")
        for key in ("tls_cert", "tls_key", "upstream_ca", "api_tokens_file"):
            path = getattr(self, key)
            if path is not None and not Path(path).is_file():
                raise ValueError(f"{key}: no such file: {path}")
        return self

    def _check_boundary(self) -> None:
        if self.privacy_boundary != "site":
            return
        entries = self.upstream_entries()
        if not entries:
            raise ValueError("privacy_boundary: site needs an upstream on the site (the local tier)")
        outside = [e.label() for e in entries if self.upstream_entry_scope(e) != "site"]
        if outside:
            raise ValueError(
                f'privacy_boundary: site sends raw text upstream, but {", ".join(outside)} is not scope = "site"'
                ' (set upstream_scope or each upstream\'s scope, or keep privacy_boundary = "tier")'
            )

    def _check_engine(self) -> None:
        if self.engine == "ray" and self.role != "cloud":
            raise ValueError("engine: ray runs the cloud tier only")
        if (self.ray_min_replicas is None) != (self.ray_max_replicas is None):
            raise ValueError("ray_min_replicas: autoscaling needs ray_max_replicas too (set both, or neither)")
        if (self.ray_min_replicas or 0) > (self.ray_max_replicas or 1000):
            raise ValueError("ray_min_replicas: more than ray_max_replicas")

    def _check_upstreams(self) -> None:
        if not self.upstreams:
            return
        if self.role == "cloud":
            raise ValueError("upstreams: the cloud tier has no upstream")
        if self.upstream is not None or self.upstream_token is not None:
            raise ValueError("upstreams: set either upstream (with upstream_token) or upstreams, not both")
        labels = [entry.label() for entry in self.upstreams]
        if len(set(labels)) != len(labels):
            raise ValueError(f"upstreams: names must differ (name = ...), got {labels}")
        for entry in self.upstreams:
            if entry.key_env is not None and entry.key_env not in os.environ:
                raise ValueError(f"upstreams: {entry.label()}: key_env {entry.key_env} is not set")
            if entry.ca is not None and not Path(entry.ca).is_file():
                raise ValueError(f"upstreams: {entry.label()}: no such file: {entry.ca}")
        primary = self.upstream_entries()[0]
        if self.site_reachable and self.upstream_entry_scope(primary) != "site":
            raise ValueError(
                f'upstreams: {primary.label()} carries the outbox and sessions but is not scope = "site",'
                " while another upstream is; site-only data could reach it. Make the on-premises upstream"
                " the first edgesplit one (lowest priority)"
            )
        self.upstream = primary.url  # the primary: sync, the outbox, split, speculative

    def upstream_entries(self) -> list[UpstreamConfig]:
        """Every upstream, the primary first: the first ``edgesplit`` one by priority (else the first).

        With the single ``upstream`` key, one entry built from it and its ``upstream_*`` keys."""
        if not self.upstreams:
            if self.upstream is None:
                return []
            return [UpstreamConfig(url=self.upstream, model=self.upstream_model, ca=self.upstream_ca)]
        ordered = sorted(self.upstreams, key=lambda entry: (entry.kind != "edgesplit", entry.priority))
        primary = ordered[0]
        return [primary, *(entry for entry in self.upstreams if entry is not primary)]

    def upstream_entry_scope(self, entry: UpstreamConfig) -> UpstreamScope:
        return entry.scope or self.upstream_scope

    @property
    def site_reachable(self) -> bool:
        """Is some upstream on premises (so site-only data may leave this tier, to it alone)?"""
        return any(self.upstream_entry_scope(entry) == "site" for entry in self.upstream_entries())

    def upstream_entry_secret(self, entry: UpstreamConfig) -> str | None:
        """The bearer token for ``entry``: its ``key_env``, or ``upstream_token`` for the single upstream."""
        return entry.secret() if self.upstreams else self.upstream_secret()

    @field_validator("role", mode="before")
    @classmethod
    def _device_is_edge(cls, value: object) -> object:
        return "edge" if value == "device" else value

    @property
    def tier(self) -> str:
        """This node's tier in response metadata: device, local or cloud."""
        return TIER_NAMES[self.role]

    @property
    def served_model(self) -> str:
        """The name this node's own model is served under (a GGUF path's stem, else the registry name)."""
        from edgesplit.models import model_id

        return model_id(self.model)

    @property
    def requires_token(self) -> bool:
        """Does this node require a bearer token (``api_token``, ``api_tokens`` or ``api_tokens_file``)?"""
        return self.api_token is not None or bool(self.api_tokens) or self.api_tokens_file is not None

    def upstream_secret(self) -> str | None:
        """The bearer token for the upstream, unwrapped (None when unset)."""
        return self.upstream_token.get_secret_value() if self.upstream_token else None

    def resolved_data_dir(self) -> Path:
        """Where this node keeps its SQLite files."""
        from edgesplit.models import cache_dir

        return self.data_dir if self.data_dir is not None else cache_dir() / self.role

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings, TomlConfigSettingsSource(settings_cls))


def load_settings(config_file: Path | None = None, **overrides: Any) -> Settings:
    """Build validated settings from a TOML file, the environment and explicit overrides."""
    if config_file is not None and not config_file.is_file():
        raise ConfigError(f"config file not found: {config_file}")
    cls: type[Settings] = Settings
    if config_file is not None:
        config = SettingsConfigDict(**{**Settings.model_config, "toml_file": config_file})
        cls = type("FileSettings", (Settings,), {"model_config": config})
    clean = {key: value for key, value in overrides.items() if value is not None}
    try:
        return cls(**clean)
    except ValidationError as exc:
        raise ConfigError(describe_error(exc)) from None
    except tomllib.TOMLDecodeError as exc:  # the file is not TOML: say where, not a traceback
        raise ConfigError(f"config file {config_file} is not valid TOML: {exc}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"config file {config_file} is not UTF-8 text") from None
