"""Small named measures and keys the rule sets are written with."""

from __future__ import annotations

from collections.abc import Callable

from constraints.rotations import Rotation


def one(_: Rotation) -> int:
    return 1


def worked_weeks(r: Rotation) -> int:
    return r.worked_weeks


def service_weeks(r: Rotation) -> int:
    return r.service_weeks


def terms_occupied(r: Rotation) -> int:
    return len(r.terms)


def is_nights(r: Rotation) -> int:
    return int(r.unit.nights)


def is_kind(kind: str) -> Callable[[Rotation], int]:
    def measure(r: Rotation) -> int:
        return int(r.unit.kind == kind)

    measure.__name__ = f"is_{kind}"
    return measure


def has_experience(category: str) -> Callable[[Rotation], int]:
    def measure(r: Rotation) -> int:
        return int(category in r.unit.experiences)

    measure.__name__ = f"has_experience_{category}"
    return measure


def specialty(r: Rotation) -> str:
    return r.unit.specialty


def subspecialty(r: Rotation) -> str:
    return r.unit.subspecialty


def unit_code(r: Rotation) -> str:
    return r.unit.code
