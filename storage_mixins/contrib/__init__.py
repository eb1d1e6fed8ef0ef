"""Integrations with apps that need more than a storage: import only what you use."""
