"""The one validated settings object. Read once per process; logic never reads os.environ.

A frozen dataclass checked in `__post_init__`, not a pydantic model: every function builds one at
cold start, and pydantic's import and model construction were a large part of the publish
function's cold start (issue 12).
"""

from __future__ import annotations

import dataclasses
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any

MAX_SETTING_LENGTH = 2048
SECRET_PREFIX_PATTERN = re.compile(r"^[A-Za-z0-9/_+=.@-]{1,256}$")
MAX_CACHE_SECONDS = 3600
# The settings that must be set (non-empty), each at most MAX_SETTING_LENGTH characters.
_REQUIRED = ("region", "config_table", "limits_table", "events_queue_url", "jobs_queue_url")
_CACHE_PERIODS = ("secret_cache_seconds", "config_cache_seconds")


class SettingsError(RuntimeError):
    """The process environment is missing or has invalid eventrelay settings."""


def _invalid(names: list[str]) -> SettingsError:
    return SettingsError(f"invalid or missing eventrelay settings: {', '.join(names)}")


@dataclass(frozen=True)
class Settings:
    region: str
    config_table: str
    limits_table: str
    events_queue_url: str
    jobs_queue_url: str
    secret_prefix: str
    deliveries_table: str = ""
    # Hosts or networks the outbound SSRF guard allows although they are private (comma separated).
    outbound_allow: str = ""
    # Seconds a tenant's shared secret stays cached in a warm instance.
    secret_cache_seconds: int = 300
    # Seconds registrations and limit overrides stay cached in a warm instance.
    config_cache_seconds: int = 30
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
    console_scopes: str = "openid email profile"
    # Dataset runs: the stack's datasets bucket, the expander's queue, the dataset deliveries queue,
    # and other buckets System Asset Events may name (comma separated; AllowedDatasetBuckets).
    datasets_bucket: str = ""
    dataset_runs_queue_url: str = ""
    dataset_deliveries_queue_url: str = ""
    allowed_dataset_buckets: str = ""

    @property
    def allowed_buckets(self) -> frozenset[str]:
        return frozenset(name.strip() for name in self.allowed_dataset_buckets.split(",") if name.strip())

    def __post_init__(self) -> None:
        problems = _problems({field.name: getattr(self, field.name) for field in dataclasses.fields(self)})
        if problems:
            raise _invalid(problems)

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """The settings of `environ` (os.environ by default); SettingsError names every missing or
        invalid one (never its value)."""
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {
            "region": env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or "",
            "config_table": env.get("EVENTRELAY_CONFIG_TABLE", ""),
            "limits_table": env.get("EVENTRELAY_LIMITS_TABLE", ""),
            "events_queue_url": env.get("EVENTRELAY_EVENTS_QUEUE_URL", ""),
            "jobs_queue_url": env.get("EVENTRELAY_JOBS_QUEUE_URL", ""),
            "secret_prefix": env.get("EVENTRELAY_SECRET_PREFIX", ""),
            "deliveries_table": env.get("EVENTRELAY_DELIVERIES_TABLE", ""),
            "outbound_allow": env.get("EVENTRELAY_OUTBOUND_ALLOW", ""),
            "secret_cache_seconds": _integer(env.get("EVENTRELAY_SECRET_CACHE_SECONDS", "300")),
            "config_cache_seconds": _integer(env.get("EVENTRELAY_CONFIG_CACHE_SECONDS", "30")),
            "admin_token_issuer": env.get("EVENTRELAY_ADMIN_TOKEN_ISSUER", ""),
            "admin_jwks_url": env.get("EVENTRELAY_ADMIN_JWKS_URL", ""),
            "admin_token_audiences": env.get("EVENTRELAY_ADMIN_TOKEN_AUDIENCES", ""),
            "console_authorize_url": env.get("EVENTRELAY_CONSOLE_AUTHORIZE_URL", ""),
            "console_token_url": env.get("EVENTRELAY_CONSOLE_TOKEN_URL", ""),
            "console_client_id": env.get("EVENTRELAY_CONSOLE_CLIENT_ID", ""),
            "console_scopes": env.get("EVENTRELAY_CONSOLE_SCOPES", "openid email profile"),
            "datasets_bucket": env.get("EVENTRELAY_DATASETS_BUCKET", ""),
            "dataset_runs_queue_url": env.get("EVENTRELAY_DATASET_RUNS_QUEUE_URL", ""),
            "dataset_deliveries_queue_url": env.get("EVENTRELAY_DATASET_DELIVERIES_QUEUE_URL", ""),
            "allowed_dataset_buckets": env.get("EVENTRELAY_ALLOWED_DATASET_BUCKETS", ""),
        }
        problems = _problems(values)
        if problems:
            raise _invalid(problems)
        return cls(**values)

    def model_copy(self, *, update: Mapping[str, Any] | None = None) -> Settings:
        """These settings with `update`'s fields changed, validated again (the name pydantic gave it,
        kept for the callers written when Settings was a model)."""
        return dataclasses.replace(self, **(update or {}))

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


def _problems(values: Mapping[str, Any]) -> list[str]:
    """The names of the settings in `values` that break their rule, in field order."""
    problems = []
    for name, value in values.items():
        if name in _REQUIRED:
            valid = isinstance(value, str) and 0 < len(value) <= MAX_SETTING_LENGTH
        elif name == "secret_prefix":
            valid = isinstance(value, str) and SECRET_PREFIX_PATTERN.match(value) is not None
        elif name in _CACHE_PERIODS:
            valid = type(value) is int and 0 <= value <= MAX_CACHE_SECONDS
        else:
            valid = isinstance(value, str)
        if not valid:
            problems.append(name)
    return problems


def _integer(text: str) -> int | None:
    """A whole number written in an environment variable, None when it is not one (as pydantic
    read it: surrounding spaces and a zero fraction, `60.0`, allowed)."""
    try:
        return int(text.strip())
    except ValueError:
        pass
    try:
        number = float(text.strip())
    except ValueError:
        return None
    return int(number) if number.is_integer() else None


@cache
def get_settings() -> Settings:
    return Settings.from_environ()
