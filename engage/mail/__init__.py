"""Mail: the outbox for outgoing email, and inbound email parsing and import."""
