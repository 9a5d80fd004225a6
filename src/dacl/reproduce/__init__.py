"""Reproductions of the paper's tables, one module each."""
