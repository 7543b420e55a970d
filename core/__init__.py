"""Pieces every area shares: database, configuration, accounts, settings, time."""
