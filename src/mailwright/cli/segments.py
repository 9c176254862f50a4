"""Commands: segments list, show, create, preview, refresh."""

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from mailwright.cli.common import build_runtime, console, domain_errors, print_json
from mailwright.core.errors import InvalidInput
from mailwright.segments import service
from mailwright.segments.schemas import PreviewOut, SegmentIn, SegmentWarning

segments_app = typer.Typer(help="Segments: who they are and what they do.", no_args_is_help=True)

JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON.")]


def _read(file: Path) -> dict[str, Any]:
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise InvalidInput(f"cannot read {file}: {exc}", field="file") from exc
    if not isinstance(data, dict):
        raise InvalidInput(f"{file} holds no JSON object", field="file")
    return data


def _definition(data: dict[str, Any]) -> dict[str, Any]:
    # A file holds either a bare definition ({"version", "root"}) or a whole segment ({"name", "definition"}).
    inner = data.get("definition")
    return inner if isinstance(inner, dict) else data


def _print_warnings(warnings: list[SegmentWarning]) -> None:
    for warning in warnings:
        console.print(f"[yellow]warning ({warning.code}):[/yellow] {warning.message}", highlight=False)


@segments_app.command("list")
def list_cmd(as_json: JsonOption = False) -> None:
    """List segments with their member counts (the built-ins are installed on first use)."""
    runtime = build_runtime()
    with domain_errors(), runtime.uow() as uow:
        service.install_builtins(uow)
        found = service.list_segments(uow.session)
    if as_json:
        print_json(found)
        return
    for s in found:
        state = "on " if s.enabled else "off"
        kind = "built-in" if s.builtin else "custom"
        console.print(f"{s.id:>4} {state} {s.member_count:>8}  {s.name:34} {kind}", highlight=False)


@segments_app.command("show")
def show_cmd(
    segment: Annotated[str, typer.Argument(help="The segment's id or name.")],
    members: Annotated[int, typer.Option("--members", help="How many members to list.")] = 10,
    as_json: JsonOption = False,
) -> None:
    """Show one segment: definition, member count and some members."""
    runtime = build_runtime()
    with domain_errors(), runtime.uow() as uow:
        service.install_builtins(uow)
        found = service.get_segment(uow.session, segment)
        page = service.members(uow.session, found.id, limit=max(members, 1))
    if as_json:
        print_json({"segment": found, "members": page})
        return
    console.print(f"{found.name} (id {found.id}), {found.member_count} member(s)", highlight=False)
    if found.description:
        console.print(found.description, highlight=False)
    console.print(json.dumps(found.definition, indent=2), highlight=False, markup=False)
    for m in page.members[:members]:
        console.print(f"  {m.contact_id:>8} {m.email or '-'}", highlight=False)


@segments_app.command("create")
def create_cmd(
    file: Annotated[
        Path, typer.Option("--file", help="JSON: a definition, or {name, description, definition}.")
    ],
    name: Annotated[str | None, typer.Option("--name", help="The name (overrides the file's).")] = None,
    as_json: JsonOption = False,
) -> None:
    """Create a segment from a JSON file and compute its members."""
    runtime = build_runtime()
    with domain_errors():
        data = _read(file)
        segment_name = name or data.get("name")
        if not segment_name:
            raise InvalidInput("give --name or a `name` in the file", field="name")
        payload = SegmentIn(
            name=segment_name,
            description=str(data.get("description", "")),
            definition=_definition(data),
        )
        with runtime.uow() as uow:
            saved = service.create_segment(uow, payload, runtime.settings)
    if as_json:
        print_json(saved)
        return
    console.print(
        f"created segment {saved.segment.name!r} (id {saved.segment.id}): {saved.segment.member_count} member(s)",
        highlight=False,
    )
    _print_warnings(saved.warnings)


@segments_app.command("preview")
def preview_cmd(
    file: Annotated[Path, typer.Option("--file", help="JSON of the definition to try.")],
    sample: Annotated[int, typer.Option("--sample", help="How many matching contacts to show.")] = 10,
    as_json: JsonOption = False,
) -> None:
    """Count the contacts a definition selects now and show some, without saving anything."""
    runtime = build_runtime()
    with domain_errors():
        definition = _definition(_read(file))
        with runtime.uow() as uow:
            found: PreviewOut = service.preview(uow, definition, runtime.settings, sample=sample)
            uow.rollback()
    if as_json:
        print_json(found)
        return
    console.print(f"{found.count} contact(s) match", highlight=False)
    for m in found.sample:
        console.print(f"  {m.contact_id:>8} {m.email or '-'}", highlight=False)
    _print_warnings(found.warnings)


@segments_app.command("refresh")
def refresh_cmd(
    segment: Annotated[
        str | None, typer.Argument(help="A segment's id or name; all enabled ones if omitted.")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Recompute segment membership now (entries and exits are recorded as events)."""
    runtime = build_runtime()
    with domain_errors(), runtime.uow() as uow:
        service.install_builtins(uow)
        result = service.refresh_segments(uow) if segment is None else service.refresh_one(uow, segment)
    if as_json:
        print_json(result)
        return
    for change in result.segments:
        console.print(
            f"{change.name:34} {change.members:>8} member(s)  +{change.entered} -{change.exited}",
            highlight=False,
        )
