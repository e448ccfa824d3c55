"""Validation-loss alerts: the hook and its pure rules."""
