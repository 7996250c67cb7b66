"""cobrador: predictive dialer and agent console for debt collection."""

__version__ = "0.1.0"
