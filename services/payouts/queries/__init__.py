"""The payouts domain's SQL, one module per concern: accounts, schedules and holds, top-ups,
and the ledger reads (what is due, the trial-balance checks)."""
