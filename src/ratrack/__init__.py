"""ratrack: a recurrent attention tracker."""

__version__ = "0.1.0"

__all__ = ["Tracker", "__version__"]


def __getattr__(name: str):
    # Lazy: `import ratrack` stays light (no torch); `from ratrack import Tracker` loads it.
    if name == "Tracker":
        from ratrack.track.online import Tracker

        return Tracker
    raise AttributeError(f"module 'ratrack' has no attribute {name!r}")
