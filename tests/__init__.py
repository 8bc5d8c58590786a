"""The tests, in tiers: unit, offline, template and tooling (tests/conftest.py says what each holds)."""
