"""The benchmarks `make bench` runs (infra/bench.py), one module each: estimate, eligibility,
claims_837, eligibility_api, session_completion; each prints its `bench NAME key=value ...`
lines. The API benchmarks share their servers' set-up (served.py)."""
