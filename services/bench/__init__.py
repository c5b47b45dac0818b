"""The benchmarks `make bench` runs (infra/bench.py), one module each: estimate, eligibility,
claims_837, eligibility_api; each prints its `bench NAME key=value ...` lines."""
