"""What the integration Prometheus scrapes.

A source is a context manager yielding `{job: "host:port"}` for the jobs of
metrics/prometheus/prometheus.yml (`dialer`, `console`, `outreach`), serving /metrics
while it is open. The default source is the real dial loop on pbxsim
(pbxsim_source.py); this one, the synthetic floor behind our real aiohttp
/metrics handler, needs no dialer core (COBRADOR_METRICS_SOURCE=synthetic;
see `metrics_targets` in conftest.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import threading
import time
from collections.abc import Iterator

from metrics.http import MetricsServer
from metrics.roles import CONSOLE, DIALER, OUTREACH, registry_for
from metrics.synthetic import SyntheticFloor

TICK_SECONDS = 0.25


@contextlib.contextmanager
def synthetic_floor_run() -> Iterator[dict[str, str]]:
    """Three /metrics servers (as dialer, console and outreach), each its role's metrics,
    with the synthetic floor ticking in a background event loop."""
    loop = asyncio.new_event_loop()
    ready: dict[str, str] = {}
    started = threading.Event()
    failure: list[BaseException] = []

    async def main(stop: asyncio.Event) -> None:
        floor = SyntheticFloor(random.Random(11), now=time.time())
        async with (
            MetricsServer("127.0.0.1", 0, registry_for(DIALER)) as dialer,
            MetricsServer("127.0.0.1", 0, registry_for(CONSOLE)) as console,
            MetricsServer("127.0.0.1", 0, registry_for(OUTREACH)) as outreach,
        ):
            ready["dialer"] = f"127.0.0.1:{dialer.port}"
            ready["console"] = f"127.0.0.1:{console.port}"
            ready["outreach"] = f"127.0.0.1:{outreach.port}"
            started.set()
            while not stop.is_set():
                floor.tick()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), TICK_SECONDS)

    stop_holder: list[asyncio.Event] = []

    def run() -> None:
        asyncio.set_event_loop(loop)
        stop = asyncio.Event()
        stop_holder.append(stop)
        try:
            loop.run_until_complete(main(stop))
        except BaseException as exc:  # reported to the test thread below
            failure.append(exc)
            started.set()
        finally:
            loop.close()

    thread = threading.Thread(target=run, name="synthetic-floor", daemon=True)
    thread.start()
    if not started.wait(10) or failure:
        raise RuntimeError(f"synthetic /metrics servers did not start: {failure}")
    try:
        yield dict(ready)
    finally:
        loop.call_soon_threadsafe(stop_holder[0].set)
        thread.join(10)
