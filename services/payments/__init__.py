"""Client payments through Stripe: card on file, charges, the webhook receiver (issue 17)."""
