"""Ops-wide views across the domains: the daily digest (issue 16 item 8)."""
