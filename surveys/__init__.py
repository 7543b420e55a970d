"""Questionnaires (as versioned data), invitations and responses."""
