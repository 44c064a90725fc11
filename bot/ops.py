"""The ops endpoint on HTTP_PORT: /healthz for orchestrators, /metrics for Prometheus."""

from __future__ import annotations

import logging
import time

from aiohttp import web
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

from core.storage.replicas import Leadership

from .replica import TICKS

log = logging.getLogger(__name__)


class AppCollector:
    """Reads the running app's state at scrape time (nothing in the core is instrumented for it)."""

    def __init__(self, app):
        self.app = app

    def collect(self):
        """The metric families, fresh on every scrape."""
        app = self.app
        record = app.scheduler.record
        yield CounterMetricFamily("collateral_bot_ticks", "Ticks run (prices then warnings)", value=record.number)
        yield CounterMetricFamily("collateral_bot_tick_errors", "Ticks that raised an error", value=record.errors)
        yield GaugeMetricFamily("collateral_bot_tick_seconds", "Duration of the last tick", value=record.duration)
        yield GaugeMetricFamily("collateral_bot_last_tick_timestamp_seconds", "When the last tick started (unix time)",
                                value=record.started or 0)
        yield GaugeMetricFamily("collateral_bot_positions", "Positions monitored", value=len(app.monitor.evaluator.index))
        leads = GaugeMetricFamily("collateral_bot_role_leader", "1 where this replica leads the role, 0 where it stands by",
                                  labels=["replica", "role"])
        for role in app.replica.roles():
            leads.add_metric([app.replica.name, role], 1 if app.replica.holds(role) else 0)
        yield leads

        requests = CounterMetricFamily("collateral_bot_price_requests", "HTTP requests per price source", labels=["source"])
        failing = GaugeMetricFamily("collateral_bot_price_source_failures_in_a_row", "Consecutive failures", labels=["source"])
        last_ok = GaugeMetricFamily("collateral_bot_price_source_last_ok_timestamp_seconds", "Last good answer", labels=["source"])
        for name, health in app.feed.health.items():
            requests.add_metric([name], health.requests)
            failing.add_metric([name], health.failures_in_a_row)
            last_ok.add_metric([name], health.last_ok or 0)
        yield from (requests, failing, last_ok)
        yield GaugeMetricFamily("collateral_bot_assets_degraded", "Assets without a trusted price right now",
                                value=len(app.feed.guard.degraded(app.clock.time())))

        messages = GaugeMetricFamily("collateral_bot_messages", "Warnings in the outbox by platform and status",
                                     labels=["platform", "status"])
        for platform, status, count in app.store.db.execute(
            "SELECT d.platform, o.status, count(*) FROM outbox o JOIN destinations d ON d.chat_key = o.chat_key "
            "GROUP BY d.platform, o.status"
        ):
            messages.add_metric([platform, status], count)
        yield messages
        outcomes = CounterMetricFamily("collateral_bot_deliveries", "Delivery attempts by platform and outcome",
                                       labels=["platform", "outcome"])
        for (platform, outcome), count in app.dispatcher.outcomes.items():
            outcomes.add_metric([platform, outcome], count)
        yield outcomes


def health(app) -> tuple[bool, str]:
    """Healthy while the database answers and, where this process ticks, ticks are fresh; otherwise why not.

    A standby replica (it leads no ticks) is healthy: it answers commands and waits to take over.
    """
    try:
        app.store.db.execute("SELECT 1").fetchone()
    except Exception as err:  # noqa: BLE001 - any failure to answer is the finding
        return False, f"database does not answer: {type(err).__name__}"
    replica = app.replica
    roles = f"; replica {replica.name} leads {', '.join(replica.held()) or 'nothing (standby)'}" if replica.shared else ""
    if replica.shared and not replica.holds(TICKS):
        return True, "ok: standing by for the ticks" + roles
    started = app.scheduler.record.started
    allowed = 3 * app.scheduler.interval + 30
    # a replica that just took the ticks over has a tick's grace; alone (SQLite) there is no such moment
    since = replica.leadership.changed_at.get(TICKS) if isinstance(replica.leadership, Leadership) else None
    if started is None or (since is not None and started < since):
        if since is not None and time.time() - since < allowed:
            return True, "ok: just took over the ticks" + roles
        return False, "no tick has run yet" + roles
    age = time.time() - started
    if age > allowed:
        return False, f"last tick {age:,.0f} s ago (allowed {allowed:,.0f} s)" + roles
    return True, f"ok: last tick {age:,.0f} s ago, {len(app.monitor.evaluator.index)} positions" + roles


def ops_app(app) -> web.Application:
    """The aiohttp application serving /healthz and /metrics."""
    registry = CollectorRegistry()
    registry.register(AppCollector(app))

    async def healthz(request: web.Request) -> web.Response:
        ok, why = health(app)
        return web.Response(status=200 if ok else 503, text=why + "\n")

    async def metrics(request: web.Request) -> web.Response:
        return web.Response(body=generate_latest(registry), headers={"Content-Type": "text/plain; version=0.0.4; charset=utf-8"})

    web_app = web.Application()
    web_app.router.add_get("/healthz", healthz)
    web_app.router.add_get("/metrics", metrics)
    return web_app


async def start_ops(app, port: int, host: str = "0.0.0.0") -> web.AppRunner:
    """Serve the ops endpoint; returns the runner to clean up."""
    runner = web.AppRunner(ops_app(app), access_log=None)
    await runner.setup()
    await web.TCPSite(runner, host, port).start()
    log.info("ops endpoint on port %d (/healthz, /metrics)", port)
    return runner
