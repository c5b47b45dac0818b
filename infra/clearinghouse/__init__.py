"""Clearinghouse simulator: the payers' side of eligibility (and later claims and remittance)."""
