"""What differs between SQL engines for the segment compiler: JSON access, dates, hashing.

The compiler builds portable SQLAlchemy Core and asks one of these objects for the few expressions
each engine spells its own way; another engine (an analytics store) would add a class here.
"""

from typing import Any

from sqlalchemy import (
    ColumnElement,
    Float,
    Numeric,
    String,
    Text,
    and_,
    case,
    cast,
    column,
    exists,
    func,
    literal,
    or_,
    select,
    type_coerce,
)
from sqlalchemy.dialects.postgresql import JSONB


class SqlDialect:
    """The engine-specific expressions, for one JSON document column or element at a time."""

    name = "generic"

    def json_type_is(self, doc: Any, key: str, kinds: tuple[str, ...]) -> ColumnElement[bool]:
        """The key's JSON type is one of `kinds` (string, number, true, false, array, null)."""
        raise NotImplementedError

    def json_is_set(self, doc: Any, key: str) -> ColumnElement[bool]:
        """The key is present and not null."""
        raise NotImplementedError

    def json_text(self, doc: Any, key: str) -> ColumnElement[str]:
        """The key's value as text (meaningful when it is a string)."""
        raise NotImplementedError

    def json_number(self, doc: Any, key: str) -> ColumnElement[float]:
        """The key's value as a number, NULL when it is not a number."""
        raise NotImplementedError

    def json_array_has(self, doc: Any, key: str, value: str | int | float) -> ColumnElement[bool]:
        """The key holds an array with this item."""
        raise NotImplementedError

    def json_array_any(self, doc: Any, key: str) -> tuple[Any, Any]:
        """A FROM clause over the elements of an array-valued key, and the element's document."""
        raise NotImplementedError

    def array_column_has(self, doc: Any, value: str) -> ColumnElement[bool]:
        """A JSON array column contains this string."""
        raise NotImplementedError

    def month_day(self, value: Any, *, is_text: bool = False, is_date: bool = False) -> ColumnElement[str]:
        """'MM-DD' of a date or a UTC timestamp column (or of ISO text)."""
        if is_text:
            return func.substr(value, 6, 5)
        raise NotImplementedError

    def sha256_hex(self, value: Any) -> ColumnElement[str]:
        """Hex SHA-256 of a text column."""
        raise NotImplementedError


class SQLiteDialect(SqlDialect):
    """SQLite's JSON1 functions; SHA-256 comes from a function registered on the connection."""

    name = "sqlite"
    SHA256_FUNCTION = "mw_sha256"

    @staticmethod
    def _path(key: str) -> str:
        return f'$."{key}"'

    def _type(self, doc: Any, key: str) -> ColumnElement[str]:
        return func.json_type(doc, self._path(key), type_=String)

    def json_type_is(self, doc: Any, key: str, kinds: tuple[str, ...]) -> ColumnElement[bool]:
        """See SqlDialect."""
        names = {"string": ("text",), "number": ("integer", "real"), "true": ("true",), "false": ("false",)}
        wanted = [n for k in kinds for n in names.get(k, (k,))]
        return self._type(doc, key).in_(wanted)

    def json_is_set(self, doc: Any, key: str) -> ColumnElement[bool]:
        """See SqlDialect."""
        return self._type(doc, key) != "null"

    def json_text(self, doc: Any, key: str) -> ColumnElement[str]:
        """See SqlDialect."""
        return func.json_extract(doc, self._path(key), type_=String)

    def json_number(self, doc: Any, key: str) -> ColumnElement[float]:
        """See SqlDialect."""
        return case(
            (self.json_type_is(doc, key, ("number",)), func.json_extract(doc, self._path(key), type_=Float)),
            else_=None,
        )

    def json_array_has(self, doc: Any, key: str, value: str | int | float) -> ColumnElement[bool]:
        """See SqlDialect."""
        items = func.json_each(doc, self._path(key)).table_valued("value", "type").alias("item")
        return and_(
            self._type(doc, key) == "array",
            exists(select(literal(1)).select_from(items).where(items.c.value == value)),
        )

    def json_array_any(self, doc: Any, key: str) -> tuple[Any, Any]:
        """See SqlDialect."""
        items = func.json_each(doc, self._path(key)).table_valued("value", "type").alias("element")
        return items, items.c.value

    def array_column_has(self, doc: Any, value: str) -> ColumnElement[bool]:
        """See SqlDialect."""
        items = func.json_each(doc).table_valued("value").alias("category")
        return exists(select(literal(1)).select_from(items).where(items.c.value == value))

    def month_day(self, value: Any, *, is_text: bool = False, is_date: bool = False) -> ColumnElement[str]:
        """See SqlDialect (dates and timestamps are ISO text on SQLite)."""
        if is_text:
            return super().month_day(value, is_text=True)
        return func.strftime("%m-%d", value, type_=String)

    def sha256_hex(self, value: Any) -> ColumnElement[str]:
        """See SqlDialect."""
        return getattr(func, self.SHA256_FUNCTION)(value, type_=String)  # type: ignore[no-any-return]


class PostgresDialect(SqlDialect):
    """PostgreSQL's JSONB operators and functions."""

    name = "postgresql"

    @staticmethod
    def _doc(doc: Any) -> Any:
        return type_coerce(doc, JSONB)

    def _get(self, doc: Any, key: str) -> Any:
        # `->` rather than subscripting, which PostgreSQL only has since version 14.
        return self._doc(doc).op("->", return_type=JSONB)(literal(key, Text))

    def _get_text(self, doc: Any, key: str) -> ColumnElement[str]:
        return self._doc(doc).op("->>", return_type=Text)(literal(key, Text))  # type: ignore[no-any-return]

    def _typeof(self, doc: Any, key: str) -> ColumnElement[str]:
        return func.jsonb_typeof(self._get(doc, key), type_=String)

    def json_type_is(self, doc: Any, key: str, kinds: tuple[str, ...]) -> ColumnElement[bool]:
        """See SqlDialect."""
        typeof = self._typeof(doc, key)
        parts: list[ColumnElement[bool]] = []
        plain = [k for k in kinds if k in ("string", "number", "array", "object", "null")]
        if plain:
            parts.append(typeof.in_(plain))
        for flag in ("true", "false"):
            if flag in kinds:
                parts.append(and_(typeof == "boolean", self._get_text(doc, key) == flag))
        return or_(*parts) if len(parts) > 1 else parts[0]

    def json_is_set(self, doc: Any, key: str) -> ColumnElement[bool]:
        """See SqlDialect."""
        return self._typeof(doc, key) != "null"

    def json_text(self, doc: Any, key: str) -> ColumnElement[str]:
        """See SqlDialect."""
        return self._get_text(doc, key)

    def json_number(self, doc: Any, key: str) -> ColumnElement[float]:
        """See SqlDialect."""
        return case(
            (self._typeof(doc, key) == "number", cast(self._get_text(doc, key), Numeric)),
            else_=None,
        )

    def json_array_has(self, doc: Any, key: str, value: str | int | float) -> ColumnElement[bool]:
        """See SqlDialect."""
        item = literal(value, String) if isinstance(value, str) else literal(value, Numeric)
        return and_(
            self._typeof(doc, key) == "array",
            self._get(doc, key).contains(func.jsonb_build_array(item)),
        )

    def json_array_any(self, doc: Any, key: str) -> tuple[Any, Any]:
        """See SqlDialect."""
        member = self._get(doc, key)
        array = case((self._typeof(doc, key) == "array", member), else_=literal([], JSONB))
        items = func.jsonb_array_elements(array).table_valued(column("value", JSONB)).alias("element")
        return items, items.c.value

    def array_column_has(self, doc: Any, value: str) -> ColumnElement[bool]:
        """See SqlDialect."""
        return self._doc(doc).contains(func.jsonb_build_array(literal(value, String)))  # type: ignore[no-any-return]

    def month_day(self, value: Any, *, is_text: bool = False, is_date: bool = False) -> ColumnElement[str]:
        """See SqlDialect (timestamps are read in UTC, whatever the session's time zone)."""
        if is_text:
            return super().month_day(value, is_text=True)
        if is_date:
            return func.to_char(value, "MM-DD", type_=String)
        return func.to_char(func.timezone("UTC", value), "MM-DD", type_=String)

    def sha256_hex(self, value: Any) -> ColumnElement[str]:
        """See SqlDialect."""
        return func.encode(func.sha256(func.convert_to(value, "UTF8")), "hex", type_=String)


DIALECTS: dict[str, SqlDialect] = {"sqlite": SQLiteDialect(), "postgresql": PostgresDialect()}
