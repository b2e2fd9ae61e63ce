"""The one numerical tolerance of the LP-based solver (GLOP's default precision is ~1e-9)."""

TOL = 1e-6  # an LP value, dual or reduced value within TOL of a threshold counts as on it
