"""Networks and runs in YAML."""
