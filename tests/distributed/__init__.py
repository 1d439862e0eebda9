"""Traces across services: real processes on loopback writing one file."""
