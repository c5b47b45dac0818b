"""The benchmarks `make bench` runs (infra/bench.py), one module each: estimate, eligibility,
eligibility_api; each prints its `bench NAME key=value ...` lines."""
