"""Concerns within a theme: what exactly people are worried about (issue #27)."""
