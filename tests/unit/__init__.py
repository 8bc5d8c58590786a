"""The fast tier: plain functions with fakes, no emulated AWS. `make unit` runs it alone."""
