"""Publishing responses to feedback: drafts, revisions, status, votes and alerts."""
