"""The line model: types, loading from files and graphs, validation."""

from twin.model.types import Edge, Failure, Injection, Line, Product, Release, Station

__all__ = ["Edge", "Failure", "Injection", "Line", "Product", "Release", "Station"]
