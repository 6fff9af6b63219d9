"""ratrack: a recurrent attention tracker."""

__version__ = "0.1.0"
