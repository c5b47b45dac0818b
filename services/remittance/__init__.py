"""Remittance: the insurer's 835 answers, read as a stream (x835/) for the posting."""
