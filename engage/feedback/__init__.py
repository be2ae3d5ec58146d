"""Feedback: items and themes, the one submit() path, the resident's form and the API."""
