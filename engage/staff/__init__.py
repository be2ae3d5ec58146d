"""The staff area: accounts, roles, sign-in with two-factor codes, audit log, triage."""
