"""Engagements: the consultations residents respond to, and their public pages."""
