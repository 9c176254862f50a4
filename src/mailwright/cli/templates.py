"""Commands: templates list, validate, preview, coupons."""

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from mailwright.cli.common import build_runtime, console, domain_errors, print_json
from mailwright.templates import coupons, service
from mailwright.templates.context import sample_event
from mailwright.templates.library import load_directory

templates_app = typer.Typer(help="Email templates.", no_args_is_help=True)


@templates_app.command("list")
def list_cmd(as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False) -> None:
    """List stored templates (the built-in library is installed on first use)."""
    runtime = build_runtime()
    with domain_errors(), runtime.uow() as uow:
        service.install_builtins(uow, runtime.settings)
        found = service.list_templates(uow.session)
    if as_json:
        print_json(found)
        return
    for t in found:
        console.print(f"{t.name:28} v{t.version:<3} {t.kind:13} {','.join(t.locales)}", highlight=False)


@templates_app.command("validate")
def validate_cmd(
    directory: Annotated[Path, typer.Argument(help="A folder of NAME.LOCALE.mjml files.")],
    save: Annotated[bool, typer.Option(help="Store the templates that pass.")] = False,
) -> None:
    """Check template files (syntax, unknown variables, unsubscribe link, size, alt text)."""
    runtime = build_runtime()
    failed = False
    with domain_errors(), runtime.uow() as uow:
        for template in load_directory(directory):
            report = service.validate_template(uow, template, runtime.settings)
            mark = "[green]ok[/green]" if report.ok else "[red]refused[/red]"
            console.print(f"{template.name}: {mark}")
            for issue in report.issues:
                line = f" line {issue.line}" if issue.line else ""
                console.print(
                    f"  {issue.severity} {issue.code} [{issue.locale} {issue.part}{line}] {issue.message}"
                )
            failed = failed or not report.ok
            if save and report.ok:
                service.save_template(uow, template, runtime.settings)
    if failed:
        raise typer.Exit(1)


@templates_app.command("preview")
def preview_cmd(
    name: str,
    contact: Annotated[str, typer.Option("--contact", help="The contact's email.")],
    event_file: Annotated[
        Path | None, typer.Option("--event-file", help="JSON of the trigger event's properties.")
    ] = None,
    out: Annotated[Path, typer.Option("--out", help="Where to write the HTML.")] = Path("preview.html"),
) -> None:
    """Render a template exactly as one contact would get it: subject, HTML (to --out) and text."""
    runtime = build_runtime()
    if event_file is not None:
        event: dict[str, Any] = json.loads(event_file.read_text(encoding="utf-8"))
    else:
        # Cart, order and browse emails need their trigger event; without one, show them with a sample.
        event = sample_event()
        console.print("No --event-file: using a sample trigger event (cart, order, viewed product).")
    with domain_errors(), runtime.uow() as uow:
        service.install_builtins(uow, runtime.settings)
        rendered = service.preview(uow, name, contact, runtime.settings, event=event)
    out.write_text(rendered.html, encoding="utf-8")
    out.with_suffix(".txt").write_text(rendered.text, encoding="utf-8")
    console.print(
        f"Subject: {rendered.subject}\nPreheader: {rendered.preheader}\nLocale: {rendered.locale}",
        highlight=False,
    )
    console.print(f"HTML written to {out}, text to {out.with_suffix('.txt')}\n", highlight=False)
    console.print(rendered.text, highlight=False, markup=False)


@templates_app.command("coupons")
def coupons_cmd(
    pool: Annotated[str, typer.Argument(help="The pool's name, as the coupon block names it.")],
    file: Annotated[
        Path | None, typer.Argument(help="Codes to add, one per line (omit to only show what is left).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Upload unique coupon codes to a pool (each is handed to one recipient only) and show what is left."""
    runtime = build_runtime()
    added = 0
    with domain_errors(), runtime.uow() as uow:
        if file is not None:
            added = coupons.upload_codes(
                uow.session, pool, file.read_text(encoding="utf-8").splitlines(), uow.now()
            )
        left = coupons.remaining(uow.session, pool)
    if as_json:
        print_json({"pool": pool, "added": added, "remaining": left})
        return
    console.print(f"{added} code(s) added to {pool!r}; {left} unclaimed.", highlight=False)
