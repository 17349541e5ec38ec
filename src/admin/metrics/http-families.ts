import type { HttpMetrics } from "../../server/http-metrics.ts";
import { counter, gauge, histogram, type MetricFamily } from "./metric-family.ts";

/** The HTTP front's metrics. */
export function httpFamilies(metrics: HttpMetrics): MetricFamily[] {
  const byStatus = [];
  for (let status = 0; status < metrics.byStatus.length; status++) {
    const value = metrics.byStatus[status]!;
    if (value > 0) byStatus.push({ labels: { status: status === 0 ? "other" : status }, value });
  }
  return [
    counter("stead_http_requests_total", "HTTP requests answered, by status code.", byStatus),
    histogram(
      "stead_http_request_duration_seconds",
      "Seconds from an HTTP request's arrival to the end of its response.",
      [{ labels: {}, counts: metrics.seconds }],
    ),
    counter(
      "stead_http_websocket_upgrades_total",
      "Connections that asked to upgrade to WebSocket.",
      [{ labels: {}, value: metrics.webSocketUpgrades }],
    ),
    gauge("stead_http_websockets_open", "WebSocket connections open on the HTTP front.", [
      { labels: {}, value: metrics.webSocketsOpen },
    ]),
  ];
}
