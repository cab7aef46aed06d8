"""correlator: turns alert storms into the few business-impact events that matter."""

__version__ = "0.1.0"
