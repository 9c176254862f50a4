"""Reading a CSV export: header to field mapping, rows with their line numbers, and value parsers.

Every parser raises InvalidInput whose `field` is the file's own column header, so a rejected row
is reported in the words of the file the user holds.
"""

import csv
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from mailwright.core.errors import InvalidInput
from mailwright.core.money import to_minor

_TRUE = frozenset({"true", "yes", "y", "1", "t", "on"})
_FALSE = frozenset({"false", "no", "n", "0", "f", "off"})


def header_key(header: str) -> str:
    """A header reduced to lower-case words joined by '_' ("E-mail Address" -> "e_mail_address")."""
    return re.sub(r"[^a-z0-9]+", "_", header.strip().lower()).strip("_")


def parse_mapping(items: Iterable[str]) -> dict[str, str]:
    """`field=Header` options (as given on the command line) as a dict field -> header."""
    mapping: dict[str, str] = {}
    for item in items:
        target, sep, header = item.partition("=")
        if not sep or not target.strip() or not header.strip():
            raise InvalidInput(f"--map {item!r} must look like field=Column Header", field="--map")
        mapping[target.strip()] = header.strip()
    return mapping


@dataclass(frozen=True)
class CsvRow:
    """One data row: its first line in the file, the mapped fields, and the unmapped (custom) columns."""

    line: int
    values: dict[str, str]
    custom: dict[str, str]
    headers: Mapping[str, str]

    def get(self, name: str) -> str | None:
        """The field's value with surrounding blanks removed, or None when empty or not in the file."""
        return self.values.get(name)

    def column(self, name: str) -> str:
        """The file's header for a field (for error messages), or the field name when it has none."""
        return self.headers.get(name, name)


@dataclass
class CsvTable:
    """A CSV file read whole: which header feeds which field, and its rows."""

    path: Path
    headers: dict[str, str]
    rows: list[CsvRow] = field(default_factory=list)
    # Rows that could not be split into the header's columns: (line, reason).
    malformed: list[tuple[int, str]] = field(default_factory=list)


def _resolve_columns(
    header: Sequence[str], fields: Mapping[str, Sequence[str]], mapping: Mapping[str, str]
) -> dict[str, int]:
    unknown = sorted(set(mapping) - set(fields))
    if unknown:
        raise InvalidInput(
            f"--map names unknown field(s) {', '.join(unknown)}; known fields: {', '.join(fields)}",
            field="--map",
        )
    by_exact = {h.strip(): i for i, h in enumerate(header)}
    by_key: dict[str, int] = {}
    for i, h in enumerate(header):
        by_key.setdefault(header_key(h), i)
    chosen: dict[str, int] = {}
    for name, wanted in mapping.items():
        index = by_exact.get(wanted, by_key.get(header_key(wanted)))
        if index is None:
            raise InvalidInput(
                f"--map {name}={wanted}: the file has no column {wanted!r} "
                f"(columns: {', '.join(h for h in header if h)})",
                field="--map",
            )
        chosen[name] = index
    taken = set(chosen.values())
    for name, aliases in fields.items():
        if name in chosen:
            continue
        for alias in (name, *aliases):
            index = by_key.get(alias)
            if index is not None and index not in taken:
                chosen[name] = index
                taken.add(index)
                break
    return chosen


def _sniff_delimiter(first_line: str) -> str:
    # Spreadsheets in many locales export with ';' (the decimal comma takes ','), some with tabs.
    counts = {d: first_line.count(d) for d in (",", ";", "\t")}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] else ","


def read_table(
    path: Path,
    *,
    fields: Mapping[str, Sequence[str]],
    mapping: Mapping[str, str],
    require_any: Sequence[Sequence[str]] = (),
) -> CsvTable:
    """Read a CSV file, match its header to `fields` (aliases, then `mapping` overrides), keep line numbers.

    `require_any` lists groups of fields of which at least one must be a column, else the whole file is
    refused before anything is imported.
    """
    if not path.is_file():
        raise InvalidInput(f"no such file: {path}", field="file")
    # utf-8-sig: spreadsheet programs often start a UTF-8 export with a byte order mark.
    try:
        with path.open(encoding="utf-8-sig", newline="") as handle:
            first = handle.readline()
            handle.seek(0)
            reader = csv.reader(handle, delimiter=_sniff_delimiter(first))
            header = next(reader, None)
            if not header or not any(h.strip() for h in header):
                raise InvalidInput(f"{path} is empty or has no header row", field="file")
            columns = _resolve_columns(header, fields, mapping)
            for group in require_any:
                if not any(name in columns for name in group):
                    raise InvalidInput(
                        f"the file needs a column for {' or '.join(group)} "
                        f"(rename a column or use --map {group[0]}=<column>)",
                        field=group[0],
                    )
            headers = {name: header[i].strip() for name, i in columns.items()}
            custom_columns = [
                (i, h.strip()) for i, h in enumerate(header) if i not in columns.values() and h.strip()
            ]
            table = CsvTable(path=path, headers=headers)
            line_end = reader.line_num
            for cells in reader:
                # A quoted cell may span lines: the row starts right after the previous one ended.
                line, line_end = line_end + 1, reader.line_num
                if not cells or not any(c.strip() for c in cells):
                    continue
                if len(cells) > len(header):
                    table.malformed.append(
                        (line, f"row has {len(cells)} cells but the header has {len(header)} columns")
                    )
                    continue
                values = {
                    name: cells[i].strip()
                    for name, i in columns.items()
                    if i < len(cells) and cells[i].strip()
                }
                custom = {
                    h: cells[i].strip() for i, h in custom_columns if i < len(cells) and cells[i].strip()
                }
                table.rows.append(CsvRow(line=line, values=values, custom=custom, headers=headers))
    except UnicodeDecodeError as exc:
        raise InvalidInput(f"{path} is not UTF-8 text: {exc}", field="file") from exc
    except csv.Error as exc:
        raise InvalidInput(f"{path} is not valid CSV: {exc}", field="file") from exc
    return table


def parse_bool(value: str, *, column: str) -> bool:
    """true/false, yes/no, 1/0 (any case)."""
    lowered = value.lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise InvalidInput(f"{column} must be true or false (yes/no, 1/0), got {value!r}", field=column)


def parse_consent(value: str, *, column: str) -> str:
    """A consent status from yes/no style values or the status names themselves."""
    lowered = value.lower().replace(" ", "_")
    if lowered in ("subscribed", "unsubscribed", "pending", "never_subscribed"):
        return lowered
    try:
        return "subscribed" if parse_bool(value, column=column) else "unsubscribed"
    except InvalidInput as exc:
        raise InvalidInput(
            f"{column} must be yes/no or subscribed/unsubscribed/pending, got {value!r}", field=column
        ) from exc


def parse_money(value: str, currency: str, *, column: str) -> int:
    """A non-negative amount in major units ("19.99", "1,299.00") as minor units of the currency."""
    text = value.strip()
    # "19,99" is a decimal comma; "1,299" and "1,299.00" use the comma to group thousands.
    if "." not in text and re.fullmatch(r"-?\d+,\d{1,2}", text):
        text = text.replace(",", ".")
    else:
        text = text.replace(",", "")
    minor = to_minor(text, currency, field=column)
    if minor < 0:
        raise InvalidInput(f"{column} must not be negative, got {value!r}", field=column)
    return minor


def parse_quantity(value: str, *, column: str) -> int:
    """A whole number of items, zero or more."""
    try:
        number = float(value)
    except ValueError as exc:
        raise InvalidInput(f"{column} must be a whole number, got {value!r}", field=column) from exc
    if number < 0 or number != int(number):
        raise InvalidInput(f"{column} must be a whole number >= 0, got {value!r}", field=column)
    return int(number)


def parse_date(value: str, *, column: str) -> date:
    """A calendar date written YYYY-MM-DD."""
    try:
        return date.fromisoformat(value[:10])
    except ValueError as exc:
        raise InvalidInput(f"{column} must be a date like 1990-04-23, got {value!r}", field=column) from exc


def parse_datetime(value: str, *, column: str, zone: ZoneInfo) -> datetime:
    """An ISO 8601 time ("2024-03-01 14:30", "2024-03-01T14:30:00Z"); without an offset it is in `zone`."""
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        moment = datetime.fromisoformat(text)
    except ValueError as exc:
        raise InvalidInput(
            f"{column} must be a date and time like 2024-03-01 14:30 (ISO 8601), got {value!r}",
            field=column,
        ) from exc
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=zone)
    return moment
