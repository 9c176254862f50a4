"""Templates as files, so they can live in git: TOML front matter between `+++` lines, then the body.

File names are `NAME.LOCALE.mjml` (or `.html`); every locale file of one name is one template.
"""

import tomllib
from collections import defaultdict
from pathlib import Path
from typing import Any

from mailwright.core.errors import InvalidInput
from mailwright.templates.schemas import TemplateIn, VariantIn

BUILTIN_DIR = Path(__file__).resolve().parent / "library"
_FENCE = "+++"


def parse_template_file(text: str, *, filename: str) -> tuple[dict[str, Any], VariantIn]:
    """Split a template file into its metadata (name, locale, kind, ...) and its variant."""
    stripped = text.lstrip("\ufeff")
    if not stripped.startswith(_FENCE):
        raise InvalidInput(
            f"{filename}: a template file starts with a '+++' front matter block", field="file"
        )
    header, sep, body = stripped[len(_FENCE) :].partition("\n" + _FENCE)
    if not sep:
        raise InvalidInput(f"{filename}: the front matter block is not closed with '+++'", field="file")
    try:
        meta = tomllib.loads(header)
    except tomllib.TOMLDecodeError as exc:
        raise InvalidInput(f"{filename}: front matter: {exc}", field="file") from exc
    parts = Path(filename).name.split(".")
    meta.setdefault("name", parts[0])
    if len(parts) >= 3:
        meta.setdefault("locale", parts[1])
    meta.setdefault("locale", "en")
    body_format = "html" if filename.endswith((".html", ".htm")) else "mjml"
    try:
        variant = VariantIn(
            subject=meta.get("subject", ""),
            subject_variants=list(meta.get("subject_variants", [])),
            preheader=meta.get("preheader", ""),
            body=body.lstrip("\n"),
            body_format=body_format,
            text=meta.get("text"),
        )
    except ValueError as exc:
        raise InvalidInput(f"{filename}: {exc}", field="file") from exc
    return meta, variant


def load_directory(directory: Path) -> list[TemplateIn]:
    """Every template found in a directory of template files, variants grouped by name."""
    grouped: dict[str, dict[str, Any]] = defaultdict(lambda: {"variants": {}})
    for path in sorted(directory.glob("*")):
        if path.suffix not in (".mjml", ".html", ".htm") or not path.is_file():
            continue
        meta, variant = parse_template_file(path.read_text(encoding="utf-8"), filename=path.name)
        entry = grouped[meta["name"]]
        entry["variants"][meta["locale"]] = variant
        for key in ("kind", "description", "default_locale"):
            if key in meta:
                entry.setdefault(key, meta[key])
    templates = []
    for name, entry in grouped.items():
        entry.setdefault(
            "default_locale", "en" if "en" in entry["variants"] else next(iter(entry["variants"]))
        )
        templates.append(TemplateIn(name=name, **entry))
    return templates


def builtin_templates() -> list[TemplateIn]:
    """The built-in library shipped with Mailwright."""
    return load_directory(BUILTIN_DIR)
