"""The clearinghouse boundary: the CAQH CORE envelope and the transports that carry it."""
