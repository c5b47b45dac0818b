"""A local SMTP sink for development and tests: it keeps what it receives and shows it over HTTP."""
