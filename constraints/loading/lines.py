"""Locked and current lines: a label and the unit each given term holds."""

from __future__ import annotations

from constraints.loading.problems import MISSING, Problems, field_key, given
from constraints.loading.terms_units_demand import term_ref, unit_ref
from constraints.plan import FixedLine, Unit


def load_lines(
    raw: object,
    key: str,
    p: Problems,
    unit_by_code: dict[str, Unit] | None,
    term_count: int | None,
    labels: dict[str, str],
) -> list[FixedLine] | None:
    """The lines under `key`; `labels` (label -> field) is shared so labels are unique across
    locked and current lines."""
    if raw is MISSING:
        return []
    items = p.sequence(raw, key, "lines")
    if items is None:
        return None

    def load_line(obj: dict, f: str, p: Problems) -> FixedLine | None:
        label = p.text(given(obj, "label"), f"{f}.label")
        if label is not None:
            if label in labels:
                p.add(f"{f}.label", label, f"duplicate label (also {labels[label]})")
            labels.setdefault(label, f)
        rotations = load_rotations(
            given(obj, "rotations"), f"{f}.rotations", p, unit_by_code, term_count
        )
        if label is None or rotations is None:
            return None
        return FixedLine(label, rotations)

    return p.each(items, key, load_line)


def load_rotations(
    raw: object, f: str, p: Problems, unit_by_code: dict[str, Unit] | None, term_count: int | None
) -> dict[int, str] | None:
    obj = p.mapping(raw, f)
    if obj is None:
        return None
    if not obj:
        p.add(f, obj, "must give at least one term's unit")
        return None
    rotations: dict[int, str] = {}
    for key, value in obj.items():
        where = f"{f}.{field_key(key)}"
        term = term_ref(key, where, p, term_count)
        code = unit_ref(value, where, p, unit_by_code)
        if term is not None and code is not None:
            if term in rotations:
                p.add(where, value, f"term {term} is given twice")
            rotations[term] = code
    return rotations
