"""cobrador: predictive dialer and agent console for debt collection."""

from cobrador.ground.zones import use_pinned_zones

__version__ = "0.1.0"

# Before any zone is built: the host's zone files may predate the law (see the module).
use_pinned_zones()
