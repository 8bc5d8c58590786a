"""template.yaml and the ASL: as written, as deployed, and against what the code calls."""
