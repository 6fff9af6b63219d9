"""Tracking: the online :class:`~ratrack.track.online.Tracker`, association, the multi-object
lifecycle, the ``ratrack track`` run with its sources and outputs."""
