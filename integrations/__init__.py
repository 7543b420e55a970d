"""Integrations: outbound webhooks (Standard Webhooks) and the read-only results API."""
