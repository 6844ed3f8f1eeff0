"""The one validated settings model. Read once per process; logic never reads os.environ."""

from __future__ import annotations

import os
from functools import cache
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, ValidationError

NonEmpty = Annotated[str, Field(min_length=1, max_length=2048)]


class SettingsError(RuntimeError):
    """The process environment is missing or has invalid eventrelay settings."""


class Settings(BaseModel):
    model_config = ConfigDict(frozen=True)

    region: NonEmpty
    config_table: NonEmpty
    limits_table: NonEmpty
    events_queue_url: NonEmpty
    jobs_queue_url: NonEmpty
    secret_prefix: Annotated[str, Field(min_length=1, max_length=256, pattern=r"^[A-Za-z0-9/_+=.@-]+$")]
    deliveries_table: str = ""
    # Hosts or networks the outbound SSRF guard allows although they are private (comma separated).
    outbound_allow: str = ""
    # Seconds a tenant's shared secret stays cached in a warm instance.
    secret_cache_seconds: Annotated[int, Field(ge=0, le=3600)] = 60
    # Seconds registrations and limit overrides stay cached in a warm instance.
    config_cache_seconds: Annotated[int, Field(ge=0, le=3600)] = 30
    # The admin API's token issuer (`iss`), its JWKS URL and the audiences (comma separated) a
    # token must name; all empty outside the admin API's function.
    admin_token_issuer: str = ""
    admin_jwks_url: str = ""
    admin_token_audiences: str = ""
    # Where the admin console signs in (OAuth 2.0 authorization code + PKCE): the authorize and
    # token URLs (relative: on the console's own origin, the local stack), the app client id and
    # the scopes (space separated). Empty outside the admin API's function.
    console_authorize_url: str = ""
    console_token_url: str = ""
    console_client_id: str = ""
    console_scopes: str = ""
    # Dataset runs: the stack's datasets bucket, the expander's queue, the dataset deliveries queue,
    # and other buckets System Asset Events may name (comma separated; AllowedDatasetBuckets).
    datasets_bucket: str = ""
    dataset_runs_queue_url: str = ""
    dataset_deliveries_queue_url: str = ""
    allowed_dataset_buckets: str = ""

    @property
    def allowed_buckets(self) -> frozenset[str]:
        return frozenset(name.strip() for name in self.allowed_dataset_buckets.split(",") if name.strip())

    @classmethod
    def from_environ(cls, environ: dict[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        raw = {
            "region": env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION"),
            "config_table": env.get("EVENTRELAY_CONFIG_TABLE"),
            "limits_table": env.get("EVENTRELAY_LIMITS_TABLE"),
            "events_queue_url": env.get("EVENTRELAY_EVENTS_QUEUE_URL"),
            "jobs_queue_url": env.get("EVENTRELAY_JOBS_QUEUE_URL"),
            "secret_prefix": env.get("EVENTRELAY_SECRET_PREFIX"),
            "deliveries_table": env.get("EVENTRELAY_DELIVERIES_TABLE", ""),
            "outbound_allow": env.get("EVENTRELAY_OUTBOUND_ALLOW", ""),
            "secret_cache_seconds": env.get("EVENTRELAY_SECRET_CACHE_SECONDS", "60"),
            "config_cache_seconds": env.get("EVENTRELAY_CONFIG_CACHE_SECONDS", "30"),
            "admin_token_issuer": env.get("EVENTRELAY_ADMIN_TOKEN_ISSUER", ""),
            "admin_jwks_url": env.get("EVENTRELAY_ADMIN_JWKS_URL", ""),
            "admin_token_audiences": env.get("EVENTRELAY_ADMIN_TOKEN_AUDIENCES", ""),
            "console_authorize_url": env.get("EVENTRELAY_CONSOLE_AUTHORIZE_URL", ""),
            "console_token_url": env.get("EVENTRELAY_CONSOLE_TOKEN_URL", ""),
            "console_client_id": env.get("EVENTRELAY_CONSOLE_CLIENT_ID", ""),
            "console_scopes": env.get("EVENTRELAY_CONSOLE_SCOPES", ""),
            "datasets_bucket": env.get("EVENTRELAY_DATASETS_BUCKET", ""),
            "dataset_runs_queue_url": env.get("EVENTRELAY_DATASET_RUNS_QUEUE_URL", ""),
            "dataset_deliveries_queue_url": env.get("EVENTRELAY_DATASET_DELIVERIES_QUEUE_URL", ""),
            "allowed_dataset_buckets": env.get("EVENTRELAY_ALLOWED_DATASET_BUCKETS", ""),
        }
        try:
            return cls.model_validate(raw)
        except ValidationError as exc:
            names = ", ".join(".".join(str(p) for p in err["loc"]) for err in exc.errors())
            raise SettingsError(f"invalid or missing eventrelay settings: {names}") from None

    def as_environ(self) -> dict[str, str]:
        """The environment variables that reproduce these settings (for the local stack and tests)."""
        return {
            "AWS_REGION": self.region,
            "AWS_DEFAULT_REGION": self.region,
            "EVENTRELAY_CONFIG_TABLE": self.config_table,
            "EVENTRELAY_LIMITS_TABLE": self.limits_table,
            "EVENTRELAY_EVENTS_QUEUE_URL": self.events_queue_url,
            "EVENTRELAY_JOBS_QUEUE_URL": self.jobs_queue_url,
            "EVENTRELAY_SECRET_PREFIX": self.secret_prefix,
            "EVENTRELAY_DELIVERIES_TABLE": self.deliveries_table,
            "EVENTRELAY_OUTBOUND_ALLOW": self.outbound_allow,
            "EVENTRELAY_SECRET_CACHE_SECONDS": str(self.secret_cache_seconds),
            "EVENTRELAY_CONFIG_CACHE_SECONDS": str(self.config_cache_seconds),
            "EVENTRELAY_ADMIN_TOKEN_ISSUER": self.admin_token_issuer,
            "EVENTRELAY_ADMIN_JWKS_URL": self.admin_jwks_url,
            "EVENTRELAY_ADMIN_TOKEN_AUDIENCES": self.admin_token_audiences,
            "EVENTRELAY_CONSOLE_AUTHORIZE_URL": self.console_authorize_url,
            "EVENTRELAY_CONSOLE_TOKEN_URL": self.console_token_url,
            "EVENTRELAY_CONSOLE_CLIENT_ID": self.console_client_id,
            "EVENTRELAY_CONSOLE_SCOPES": self.console_scopes,
            "EVENTRELAY_DATASETS_BUCKET": self.datasets_bucket,
            "EVENTRELAY_DATASET_RUNS_QUEUE_URL": self.dataset_runs_queue_url,
            "EVENTRELAY_DATASET_DELIVERIES_QUEUE_URL": self.dataset_deliveries_queue_url,
            "EVENTRELAY_ALLOWED_DATASET_BUCKETS": self.allowed_dataset_buckets,
        }


@cache
def get_settings() -> Settings:
    return Settings.from_environ()
