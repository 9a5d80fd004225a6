"""The core: views, encoders, heads, losses, optimisers, runtime and distributed helpers.

Imports only torch (and the standard library): every layer above builds on it.
"""
