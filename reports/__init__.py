"""Satisfaction figures, trends, key drivers, suggestions; PDF and JSON reports."""
