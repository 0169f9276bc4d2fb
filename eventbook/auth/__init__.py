"""Accounts and tokens: registration, login, refresh-token rotation, logout."""
