"""Credentialing per provider and payer, and its expiry."""
