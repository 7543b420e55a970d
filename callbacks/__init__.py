"""Callback tasks with deadlines from the guide, and the staff work list."""
