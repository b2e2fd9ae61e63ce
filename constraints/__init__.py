"""Pure planning engine: plan model, named rule sets, CP-SAT model, explanations. No I/O."""
