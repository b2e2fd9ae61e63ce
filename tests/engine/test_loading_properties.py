"""Property: any bad plan yields PlanError messages, never another exception."""

from __future__ import annotations

import copy

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from constraints.generator import generate_plan
from constraints.loading import PlanError, load_plan
from constraints.plan import Plan

VALID = generate_plan("PGY2", 24, seed=1)

json_scalars = st.none() | st.booleans() | st.integers(-(10**6), 10**6) | st.text(max_size=6)
json_scalars |= st.floats(allow_nan=True, allow_infinity=True)
json_values = st.recursive(
    json_scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4)
    ),
    max_leaves=12,
)


def paths(value, prefix=()):
    """Every location in a JSON document, as a key path."""
    yield prefix
    if isinstance(value, dict):
        for key, child in value.items():
            yield from paths(child, (*prefix, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            yield from paths(child, (*prefix, index))


ALL_PATHS = [p for p in paths(VALID) if p]


def loads_or_explains(doc) -> None:
    try:
        result = load_plan(doc)
    except PlanError as exc:
        text = str(exc)
        assert exc.problems and text
        assert len(text.splitlines()) == len(exc.problems)
        for problem in exc.problems:
            assert problem.field and problem.message
    else:
        assert isinstance(result, Plan)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(
        st.tuples(st.sampled_from(ALL_PATHS), json_values, st.booleans()), min_size=1, max_size=4
    )
)
def test_mutated_generated_plan_never_raises_anything_else(mutations):
    doc = copy.deepcopy(VALID)
    for path, value, delete in mutations:
        parent = doc
        try:
            for key in path[:-1]:
                parent = parent[key]
            if delete and isinstance(parent, dict):
                parent.pop(path[-1], None)
            else:
                parent[path[-1]] = value
        except (KeyError, IndexError, TypeError):
            continue  # an earlier mutation removed this location
    loads_or_explains(doc)


@settings(max_examples=200, deadline=None)
@given(json_values)
def test_random_junk_is_explained(junk):
    loads_or_explains(junk)


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(st.sampled_from(sorted(VALID)), json_values, max_size=8))
def test_plan_shaped_junk_is_explained(doc):
    loads_or_explains(doc)


def test_mutation_of_a_number_to_a_string_is_reported():
    doc = copy.deepcopy(VALID)
    doc["demand"][0]["min"] = "3"
    try:
        load_plan(doc)
    except PlanError as exc:
        assert str(exc) == "demand[0].min: '3': must be a whole number, not a string"
    else:
        raise AssertionError("a string minimum must be refused")
