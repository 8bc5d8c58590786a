"""Our tools: make local and make demo, the stand-in, the benchmark and model, the docs, the pins."""
