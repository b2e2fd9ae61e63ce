"""The problem collector: typed readers that record what is wrong instead of raising."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from constraints.limits import LIMITS

T = TypeVar("T")


class _Missing:
    def __repr__(self) -> str:
        return "(missing)"


MISSING: Any = _Missing()


@dataclass(frozen=True)
class Problem:
    field: str  # e.g. "demand[3].min"
    value: object  # the offending value (MISSING when the key is absent)
    message: str  # e.g. "must be >= 0"

    def __str__(self) -> str:
        shown = repr(self.value)
        if len(shown) > 80:
            shown = shown[:77] + "..."
        return _printable(f"{self.field}: {shown}: {self.message}")


def _printable(text: str) -> str:
    """One problem, one line: control characters from user data are shown escaped."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


class PlanError(Exception):
    """The plan cannot be solved as written; `.problems` lists every reason."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(str(p) for p in self.problems))

    def __str__(self) -> str:
        return "\n".join(str(p) for p in self.problems)


class Problems:
    """Collects problems; the typed readers return None when the value is unusable."""

    def __init__(self) -> None:
        self.items: list[Problem] = []

    def add(self, field: str, value: object, message: str) -> None:
        self.items.append(Problem(field, value, message))

    def mapping(self, value: object, field: str) -> dict | None:
        if isinstance(value, dict):
            return value
        self.add(field, value, "must be an object" if value is not MISSING else "is required")
        return None

    def sequence(self, value: object, field: str, limit_name: str) -> list | None:
        if not isinstance(value, list):
            self.add(field, value, "must be a list" if value is not MISSING else "is required")
            return None
        limit = LIMITS[limit_name]
        if len(value) > limit:
            self.add(
                field,
                f"{len(value)} items",
                f"too many: the limit is {limit} {limit_name.replace('_', ' ')}",
            )
            return value[:limit]  # still validate the first `limit` items
        return value

    def each(
        self, items: list, key: str, load_one: Callable[[dict, str, Problems], T | None]
    ) -> list[T] | None:
        """`load_one(obj, "key[i]", self)` for every item that is an object.

        None when any item is not an object, yields None or adds a problem, so a section with
        one bad item is never half used; every item is still read, to report all problems.
        """
        loaded: list[T] = []
        ok = True
        for i, item in enumerate(items):
            field = f"{key}[{i}]"
            obj = self.mapping(item, field)
            if obj is None:
                ok = False
                continue
            before = len(self.items)
            value = load_one(obj, field, self)
            if value is None or len(self.items) > before:
                ok = False
                continue
            loaded.append(value)
        return loaded if ok else None

    def integer(
        self, value: object, field: str, *, minimum: int | None = None, maximum: int | None = None
    ) -> int | None:
        if value is MISSING:
            self.add(field, value, "is required")
            return None
        # bool is an int subclass in Python but never a sensible count in a plan
        if isinstance(value, bool) or not isinstance(value, int):
            self.add(field, value, f"must be a whole number, not {json_type(value)}")
            return None
        if minimum is not None and value < minimum:
            self.add(field, value, f"must be >= {minimum}")
            return None
        if maximum is not None and value > maximum:
            self.add(field, value, f"must be <= {maximum}")
            return None
        return value

    def text(self, value: object, field: str, *, default: str | None = None) -> str | None:
        if value is MISSING and default is not None:
            return default
        if value is MISSING:
            self.add(field, value, "is required")
            return None
        if not isinstance(value, str):
            self.add(field, value, f"must be a string, not {json_type(value)}")
            return None
        if not value.strip():
            self.add(field, value, "must not be empty")
            return None
        if len(value) > LIMITS["text_length"]:
            self.add(field, value, f"too long: the limit is {LIMITS['text_length']} characters")
            return None
        return value

    def boolean(self, value: object, field: str, *, default: bool) -> bool | None:
        if value is MISSING:
            return default
        if not isinstance(value, bool):
            self.add(field, value, f"must be true or false, not {json_type(value)}")
            return None
        return value


def json_type(value: object) -> str:
    names = {bool: "a boolean", int: "a number", float: "a decimal number", str: "a string"}
    names |= {list: "a list", dict: "an object", type(None): "null"}
    return names.get(type(value), type(value).__name__)


def field_key(key: object) -> str:
    """A user-supplied key as part of a field path: plain when it reads plainly, else quoted."""
    return key if isinstance(key, str) and (key.isidentifier() or key.isdigit()) else repr(key)


def given(obj: dict, key: str) -> object:
    """The document's value for `key`, or MISSING."""
    return obj.get(key, MISSING)
