"""Development-only code: the demo world `make run` loads (demo_data)."""
