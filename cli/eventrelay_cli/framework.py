"""The CLI's click conventions: every command and group takes `--json`, groups load lazily,
commands receive their CliContext through `pass_cli_context`.

A command is one typed function:

    @tenant.command("show")
    @click.argument("tenant_id")
    @pass_cli_context
    def tenant_show(context: CliContext, tenant_id: str) -> int:
        context.emit(...)
        return EXIT_OK

It raises CliError (or lets a domain error through); `main` maps every error to one line and an
exit code with the table in `exit_codes`. Modules defining commands import only click and the
standard library at module level: what a command needs (boto3, pydantic, settings) is imported
inside it, so `--help` stays fast.
"""

from __future__ import annotations

import functools
import importlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Concatenate, ParamSpec, TypeVar

import click

if TYPE_CHECKING:
    from eventrelay_cli.context import CliContext

    _StrChoice = click.Choice[str]
else:
    _StrChoice = click.Choice

P = ParamSpec("P")
R = TypeVar("R")

# Keys in click's `ctx.meta`, which every nested context shares.
_JSON_OUTPUT = "eventrelay.json_output"
_CLI_CONTEXT = "eventrelay.cli_context"

CONTEXT_SETTINGS: dict[str, Any] = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


def _remember_json(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    if value:
        ctx.meta[_JSON_OUTPUT] = True


def _json_option() -> click.Option:
    return click.Option(
        ["--json"],
        is_flag=True,
        expose_value=False,
        callback=_remember_json,
        help="print machine-readable JSON (accepted anywhere on the line)",
    )


def json_output(ctx: click.Context) -> bool:
    """Whether `--json` appeared anywhere on the line (before or after the subcommand)."""
    return bool(ctx.meta.get(_JSON_OUTPUT, False))


class Command(click.Command):
    """A command that accepts `--json` among its own options."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.params.append(_json_option())


class Group(click.Group):
    """A group that accepts `--json` and makes its subcommands and subgroups accept it too."""

    command_class = Command
    group_class = type  # subgroups are of this same class

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.params.append(_json_option())

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(self.commands)  # in the order they are defined (create, update, list, ...)


@dataclass(frozen=True)
class LazyCommand:
    """A top-level command known by name and summary until it runs: `module:attribute`."""

    import_path: str
    summary: str


class LazyGroup(Group):
    """click's documented lazy-loading group: a subcommand's module is imported when it is used,
    and the group's own `--help` lists the summaries without importing any of them."""

    def __init__(self, *args: Any, lazy_commands: Mapping[str, LazyCommand], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lazy_commands = dict(lazy_commands)

    def list_commands(self, ctx: click.Context) -> list[str]:
        return [*super().list_commands(ctx), *self.lazy_commands]

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        entry = self.lazy_commands.get(cmd_name)
        if entry is None:
            return super().get_command(ctx, cmd_name)
        module_name, attribute = entry.import_path.split(":")
        command = getattr(importlib.import_module(module_name), attribute)
        if not isinstance(command, click.Command):
            raise TypeError(f"{entry.import_path} is not a click command")
        command.short_help = entry.summary
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, entry.summary) for name, entry in self.lazy_commands.items()]
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)


@dataclass(frozen=True)
class Target:
    """The root options that say which stack the commands administer."""

    stack: str | None
    local: bool
    region: str | None
    api_url: str | None
    admin_api: str | None = None


def current_cli_context() -> CliContext:
    """The CliContext of the running command, resolved (settings, endpoints) on first use."""
    from eventrelay_cli.context import resolve_context

    ctx = click.get_current_context()
    cached = ctx.meta.get(_CLI_CONTEXT)
    if cached is None:
        target = ctx.find_object(Target) or Target(stack=None, local=False, region=None, api_url=None)
        cached = resolve_context(
            json_output=json_output(ctx),
            stack=target.stack,
            local=target.local,
            region=target.region,
            api_url=target.api_url,
            admin_api=target.admin_api,
        )
        ctx.meta[_CLI_CONTEXT] = cached
    return cached


def pass_cli_context(command: Callable[Concatenate[CliContext, P], R]) -> Callable[P, R]:
    """Give the command its CliContext as first argument (the other arguments are its options)."""

    @functools.wraps(command)
    def with_context(*args: P.args, **kwargs: P.kwargs) -> R:
        return command(current_cli_context(), *args, **kwargs)

    return with_context


OptionsT = TypeVar("OptionsT")


def with_options(
    build: Callable[..., OptionsT], options: Sequence[Callable[[Any], Any]]
) -> Callable[[Callable[[CliContext, OptionsT], int]], Any]:
    """Give a command `options`, and hand it their values as ONE object `build(**values)` after
    its CliContext. `build` runs first, so its usage errors come before the target is resolved,
    as a parser reports them."""

    def decorate(command: Callable[[CliContext, OptionsT], int]) -> Any:
        @functools.wraps(command)
        def with_values(**values: Any) -> int:
            given = build(**values)
            return command(current_cli_context(), given)

        decorated: Any = with_values
        for option in reversed(options):
            decorated = option(decorated)
        return decorated

    return decorate


class LazyChoice(_StrChoice):
    """A choice among values read when first needed (help or parsing), so that the enums they
    come from (and pydantic behind them) are not imported by `--help` of the group."""

    def __init__(self, load: Callable[[], Iterable[str]], case_sensitive: bool = True) -> None:
        self._load = load
        self._loaded: tuple[str, ...] | None = None
        self.case_sensitive = case_sensitive

    @property
    def choices(self) -> tuple[str, ...]:
        if self._loaded is None:
            self._loaded = tuple(self._load())
        return self._loaded

    @choices.setter
    def choices(self, values: Sequence[str]) -> None:
        self._loaded = tuple(values)


def enum_values(import_path: str) -> Callable[[], list[str]]:
    """The values of the enum at `module:Name`, read when a LazyChoice first needs them."""

    def load() -> list[str]:
        module_name, attribute = import_path.split(":")
        return [str(member.value) for member in getattr(importlib.import_module(module_name), attribute)]

    return load


def exclusive(given: Mapping[str, object]) -> None:
    """Refuse two options that exclude each other: `{"--base-url": value, "--base-url-env": ...}`."""
    present = [option for option, value in given.items() if value not in (None, False, ())]
    if len(present) > 1:
        raise click.UsageError(f"{present[1]} is not allowed with {present[0]}")
