"""Tank Top: the server behind TV and movie apps' personal features."""

__version__ = "0.1.0"
