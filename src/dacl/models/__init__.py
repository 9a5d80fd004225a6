"""Encoders and projection heads."""

from dacl.models.mlp import MLPEncoder, ProjectionHead

__all__ = ["MLPEncoder", "ProjectionHead"]
