"""What every CLI command shares: building the runtime, JSON output, errors."""

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import typer
from pydantic import BaseModel
from rich.console import Console

from mailwright.core.errors import DomainError
from mailwright.core.runtime import Runtime
from mailwright.core.settings import Settings
from mailwright.migrations.runner import upgrade
from mailwright.worker.registry import build_registry

console = Console()
err_console = Console(stderr=True)


# Runtimes built by the running command; their pools are closed when it ends (see cli.app's callback),
# which matters when many commands run in one process, as in the tests.
_built: list[Runtime] = []


def close_runtimes() -> None:
    """Close the connection pools of every runtime this command built."""
    while _built:
        _built.pop().database.engine.dispose()


def build_runtime(*, migrate: bool = True, settings: Settings | None = None) -> Runtime:
    """The runtime for a CLI command, with the schema brought up to date on the embedded default."""
    runtime = Runtime(settings or Settings(), registry=build_registry())
    _built.append(runtime)
    if migrate:
        upgrade(runtime.database.engine)
    return runtime


def print_json(value: Any) -> None:
    """Print a model, a list of models or plain data as JSON on stdout."""

    def plain(item: Any) -> Any:
        if isinstance(item, BaseModel):
            return item.model_dump(mode="json")
        if isinstance(item, list):
            return [plain(i) for i in item]
        if isinstance(item, dict):
            return {k: plain(v) for k, v in item.items()}
        return item

    sys.stdout.write(json.dumps(plain(value), indent=2, default=str) + "\n")


@contextmanager
def domain_errors() -> Iterator[None]:
    """Turn a domain error into a clear message and exit status 1 instead of a traceback."""
    try:
        yield
    except DomainError as exc:
        where = f" ({exc.field})" if exc.field else ""
        err_console.print(f"[red]error{where}:[/red] {exc.message}")
        raise typer.Exit(1) from exc
