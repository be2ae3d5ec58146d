"""Mail intake: inbound email parsing, the webhook, IMAP and mailbox import (outgoing
email is engage.outbox)."""
