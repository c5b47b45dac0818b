"""Providers: profiles, licences, service locations, self-pay rates."""
