/**
 * Monitoring: the alert rules checked and unit-tested with promtool (Debian's prometheus package) on
 * synthetic series, and every metric the alerts and the Grafana dashboard query checked against what
 * the real server exports at /metrics and what the worker's metrics registry (packages/worker) holds —
 * or, for the few from elsewhere, against the named source (kube-state-metrics, Prometheus itself).
 */
import { WorkerMetrics, WorkerMetricsLive } from "@shum/worker/WorkerMetrics"
import { Effect } from "effect"
import { mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { stringify } from "yaml"
import { parseYamlDocuments, readRepoFile, request, run, startServer, type RunningServer } from "./support.js"

type Obj = Record<string, unknown>

const monitoring = () => {
  const result = run("kubectl", ["kustomize", "deploy/k3s/monitoring"])
  if (result.code !== 0) throw new Error(result.stderr)
  return parseYamlDocuments(result.stdout)
}
const ruleGroups = () =>
  (monitoring().find((m) => m["kind"] === "PrometheusRule")!["spec"] as { groups: Array<{ rules: Array<Obj> }> }).groups
const dashboard = () =>
  JSON.parse(readRepoFile("deploy/k3s/monitoring/grafana-dashboard.json")) as Obj & {
    panels: Array<Obj & { id: number; targets: Array<{ expr: string; refId: string }> }>
  }

/** Metric names a PromQL expression reads (label matchers, grouping labels, functions and keywords removed). */
const metricNames = (expr: string): Array<string> => {
  const stripped = expr
    .replace(/\{[^}]*\}/g, " ")
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, " ")
    .replace(/\[[^\]]*\]/g, " ")
    .replace(/"[^"]*"/g, " ")
  const keywords = new Set(["by", "without", "on", "ignoring", "bool", "and", "or", "unless", "offset", "le", "Inf"])
  return [...stripped.matchAll(/([a-zA-Z_:][a-zA-Z0-9_:]*)\s*(\()?/g)]
    .filter((m) => m[2] === undefined && !keywords.has(m[1]!) && !/^\d/.test(m[1]!))
    .map((m) => m[1]!)
}

/** Metrics that come from neither the server nor the worker. */
const OTHER_SOURCES: Record<string, string> = {
  up: "Prometheus",
  kube_deployment_status_replicas_ready: "kube-state-metrics",
  kube_deployment_spec_replicas: "kube-state-metrics"
}
const NODE_RUNTIME = ["process_resident_memory_bytes", "nodejs_eventloop_lag_p99_seconds"] // prom-client defaults, server and worker

describe("alert rules", () => {
  let dir: string
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "shum-rules-"))
    writeFileSync(join(dir, "rules.yml"), stringify({ groups: ruleGroups() }))
  })
  afterAll(() => rmSync(dir, { recursive: true, force: true }))

  it("pass `promtool check rules`", () => {
    const result = run("promtool", ["check", "rules", join(dir, "rules.yml")])
    expect(result.stdout + result.stderr).toContain("SUCCESS")
    expect(result.code).toBe(0)
  })

  it("cover error rate, p99 latency, dead-lettered image jobs and readiness", () => {
    const names = ruleGroups().flatMap((g) => g.rules.map((r) => r["alert"]))
    expect(names).toEqual(
      expect.arrayContaining([
        "ShumBookingHighErrorRate",
        "ShumBookingHighLatencyP99",
        "ShumBookingImageJobsDeadLettered",
        "ShumBookingNoServerReady",
        "ShumBookingReplicasNotReady",
        "ShumBookingTargetDown"
      ])
    )
  })

  it("fire when they should and stay quiet when they should not (`promtool test rules`)", () => {
    const api = (status: string, values: string) => ({
      series: `api_requests_total{job="server",endpoint="/hotels",method="GET",status="${status}"}`,
      values
    })
    const bucket = (le: string, values: string) => ({
      series: `api_request_duration_seconds_bucket{job="server",endpoint="/hotels",method="GET",le="${le}"}`,
      values
    })
    const tests = [
      {
        name: "10% 5xx for 20 minutes",
        interval: "1m",
        input_series: [api("500", "0+10x30"), api("200", "0+90x30")],
        alert_rule_test: [
          { eval_time: "8m", alertname: "ShumBookingHighErrorRate", exp_alerts: [] }, // pending ("for: 10m")
          {
            eval_time: "20m",
            alertname: "ShumBookingHighErrorRate",
            exp_alerts: [
              {
                exp_labels: { severity: "critical" },
                exp_annotations: {
                  summary: "More than 5% of API requests fail with 5xx",
                  description: "10% of the requests of the last 5 minutes answered 5xx."
                }
              }
            ]
          }
        ]
      },
      {
        name: "1% 5xx is no alert",
        interval: "1m",
        input_series: [api("500", "0+1x30"), api("200", "0+99x30")],
        alert_rule_test: [{ eval_time: "25m", alertname: "ShumBookingHighErrorRate", exp_alerts: [] }]
      },
      {
        name: "every request between 1 s and 2.5 s",
        interval: "1m",
        input_series: [
          bucket("0.5", "0+0x30"),
          bucket("1", "0+0x30"),
          bucket("2.5", "0+100x30"),
          bucket("+Inf", "0+100x30")
        ],
        alert_rule_test: [
          {
            eval_time: "20m",
            alertname: "ShumBookingHighLatencyP99",
            exp_alerts: [
              {
                exp_labels: { severity: "warning" },
                exp_annotations: {
                  summary: "API p99 latency above 1 s",
                  description: "The 99th percentile of API request duration is 2.485s."
                }
              }
            ]
          }
        ]
      },
      {
        name: "fast requests are no alert",
        interval: "1m",
        input_series: [bucket("0.5", "0+100x30"), bucket("1", "0+100x30"), bucket("+Inf", "0+100x30")],
        alert_rule_test: [{ eval_time: "20m", alertname: "ShumBookingHighLatencyP99", exp_alerts: [] }]
      },
      {
        name: "webhook events waiting 10 minutes, then 20",
        interval: "1m",
        input_series: [{ series: 'webhook_outbox_lag_seconds{job="worker"}', values: "600+60x30" }],
        alert_rule_test: [
          { eval_time: "5m", alertname: "ShumBookingWebhookOutboxLag", exp_alerts: [] }, // pending ("for: 10m")
          {
            eval_time: "10m",
            alertname: "ShumBookingWebhookOutboxLag",
            exp_alerts: [
              {
                exp_labels: { severity: "warning" },
                exp_annotations: {
                  summary: "Webhook events wait more than 5 minutes for delivery",
                  description:
                    "The oldest undelivered webhook event is 1200 s old: a receiver keeps failing or the delivery is behind."
                }
              }
            ]
          }
        ]
      },
      {
        name: "a webhook outbox that keeps up is no alert",
        interval: "1m",
        input_series: [{ series: 'webhook_outbox_lag_seconds{job="worker"}', values: "0.4+0x30" }],
        alert_rule_test: [{ eval_time: "25m", alertname: "ShumBookingWebhookOutboxLag", exp_alerts: [] }]
      },
      {
        name: "a webhook fan-out failing every second for 20 minutes",
        interval: "1m",
        input_series: [{ series: 'webhook_fanout_failures_total{job="worker"}', values: "0+60x30" }],
        alert_rule_test: [
          { eval_time: "5m", alertname: "ShumBookingWebhookFanOutFailing", exp_alerts: [] }, // pending ("for: 10m")
          {
            eval_time: "20m",
            alertname: "ShumBookingWebhookFanOutFailing",
            exp_alerts: [
              {
                exp_labels: { severity: "warning" },
                exp_annotations: {
                  summary: "The webhook fan-out keeps failing; new events are not delivered",
                  description:
                    "300 fan-out rounds failed in the last 5 minutes, and failures went on for 10: the worker's log says why (webhook fan-out failed)."
                }
              }
            ]
          }
        ]
      },
      {
        name: "a webhook fan-out that failed once (a database restart) is no alert",
        interval: "1m",
        input_series: [
          { series: 'webhook_fanout_failures_total{job="worker"}', values: "0 0 0 3 3 3 3 3 3 3 3 3 3 3 3 3 3 3 3 3 3" }
        ],
        alert_rule_test: [
          { eval_time: "5m", alertname: "ShumBookingWebhookFanOutFailing", exp_alerts: [] },
          { eval_time: "20m", alertname: "ShumBookingWebhookFanOutFailing", exp_alerts: [] }
        ]
      },
      {
        name: "a webhook delivery dead",
        interval: "1m",
        input_series: [
          { series: 'webhook_deliveries_total{job="worker",outcome="dead"}', values: "0 0 0 1 1 1 1 1 1 1 1" },
          { series: 'webhook_deliveries_total{job="worker",outcome="delivered"}', values: "0+20x10" }
        ],
        alert_rule_test: [
          { eval_time: "2m", alertname: "ShumBookingWebhookDeliveriesDead", exp_alerts: [] },
          {
            eval_time: "10m",
            alertname: "ShumBookingWebhookDeliveriesDead",
            exp_alerts: [
              {
                exp_labels: { severity: "warning" },
                exp_annotations: {
                  summary: "Webhook deliveries ran out of retries; their subscriptions may be disabled",
                  description:
                    "1 webhook deliveries went dead in the last hour; GET /webhooks shows the disabled subscriptions."
                }
              }
            ]
          }
        ]
      },
      {
        name: "the image job stream lost and its consumer group recreated",
        interval: "1m",
        input_series: [{ series: 'image_jobs_group_recreated_total{job="worker"}', values: "0 0 0 0 0 1 1 1 1 1 1" }],
        alert_rule_test: [
          { eval_time: "3m", alertname: "ShumBookingImageJobStreamLost", exp_alerts: [] },
          {
            eval_time: "10m",
            alertname: "ShumBookingImageJobStreamLost",
            exp_alerts: [
              {
                exp_labels: { severity: "warning" },
                exp_annotations: {
                  summary:
                    "Redis lost the image job stream; the worker recreated it and queued the pending images again",
                  description:
                    "The consumer group was recreated 1 times in 15 minutes: Redis restarted empty, failed over or was flushed."
                }
              }
            ]
          }
        ]
      },
      {
        name: "an image job dead-lettered",
        interval: "1m",
        input_series: [
          { series: 'image_jobs_total{job="worker",outcome="dead_lettered"}', values: "0 0 0 0 0 3 3 3 3 3 3" },
          { series: 'image_jobs_total{job="worker",outcome="done"}', values: "0+50x10" }
        ],
        alert_rule_test: [
          { eval_time: "3m", alertname: "ShumBookingImageJobsDeadLettered", exp_alerts: [] },
          {
            eval_time: "10m",
            alertname: "ShumBookingImageJobsDeadLettered",
            exp_alerts: [
              {
                exp_labels: { severity: "warning" },
                exp_annotations: {
                  summary: "Image jobs ended in the dead-letter stream",
                  description: "3 image jobs failed IMAGE_JOB_MAX_ATTEMPTS times in 15 minutes."
                }
              }
            ]
          }
        ]
      },
      {
        name: "no server ready, and a worker short of replicas",
        interval: "1m",
        input_series: [
          {
            series: 'kube_deployment_status_replicas_ready{namespace="booking",deployment="server"}',
            values: "2 2 0x30"
          },
          { series: 'kube_deployment_spec_replicas{namespace="booking",deployment="server"}', values: "2x32" },
          { series: 'kube_deployment_status_replicas_ready{namespace="booking",deployment="worker"}', values: "1x32" },
          { series: 'kube_deployment_spec_replicas{namespace="booking",deployment="worker"}', values: "2x32" }
        ],
        alert_rule_test: [
          {
            eval_time: "6m",
            alertname: "ShumBookingNoServerReady",
            exp_alerts: [
              {
                exp_labels: { severity: "critical" },
                exp_annotations: {
                  summary: "No server replica is ready",
                  description: "Every server pod fails /ready (database unreachable or shutting down); the API is down."
                }
              }
            ]
          },
          {
            eval_time: "20m",
            alertname: "ShumBookingReplicasNotReady",
            exp_alerts: ["server", "worker"].map((deployment) => ({
              exp_labels: { severity: "warning", deployment },
              exp_annotations: {
                summary: `${deployment} has replicas that are not ready`,
                description: `${deployment === "server" ? 2 : 1} replicas of ${deployment} have failed readiness for 15 minutes.`
              }
            }))
          }
        ]
      },
      {
        name: "a scrape target down",
        interval: "1m",
        input_series: [{ series: 'up{namespace="booking",job="server",pod="server-abc"}', values: "1 1 0x10" }],
        alert_rule_test: [
          { eval_time: "4m", alertname: "ShumBookingTargetDown", exp_alerts: [] },
          {
            eval_time: "9m",
            alertname: "ShumBookingTargetDown",
            exp_alerts: [
              {
                exp_labels: { severity: "warning", namespace: "booking", job: "server", pod: "server-abc" },
                exp_annotations: {
                  summary: "server pod server-abc cannot be scraped",
                  description: "Prometheus has not reached its /metrics for 5 minutes."
                }
              }
            ]
          }
        ]
      },
      {
        name: "the rate limiter's Redis down",
        interval: "1m",
        input_series: [{ series: 'rate_limit_backend_errors_total{job="server"}', values: "0x5 6+6x20" }],
        alert_rule_test: [
          {
            eval_time: "15m",
            alertname: "ShumBookingRateLimiterDegraded",
            exp_alerts: [
              {
                exp_labels: { severity: "warning" },
                exp_annotations: {
                  summary: "The rate limiter's Redis does not answer; requests pass unchecked",
                  description: "60 requests went through without a rate-limit check in 10 minutes."
                }
              }
            ]
          }
        ]
      }
    ]
    writeFileSync(
      join(dir, "tests.yml"),
      stringify({ rule_files: ["rules.yml"], evaluation_interval: "1m", tests }, { lineWidth: 0 })
    )
    const result = run("promtool", ["test", "rules", join(dir, "tests.yml")])
    expect(result.stdout + result.stderr).toContain("SUCCESS")
    expect(result.code).toBe(0)
  })
})

describe("Grafana dashboard", () => {
  it("is a dashboard with unique panel ids, a Prometheus datasource variable and a query per panel", () => {
    const board = dashboard()
    expect(board["uid"]).toBe("shum-booking")
    const ids = board.panels.map((p) => p.id)
    expect(new Set(ids).size).toBe(ids.length)
    for (const panel of board.panels) {
      expect(panel.targets.length, String(panel["title"])).toBeGreaterThan(0)
      expect(panel["gridPos"]).toBeDefined()
    }
    const variables = (board["templating"] as { list: Array<Obj> }).list
    expect(variables).toContainEqual(
      expect.objectContaining({ name: "datasource", type: "datasource", query: "prometheus" })
    )
  })

  it("ships as the ConfigMap Grafana's sidecar picks up", () => {
    const configMap = monitoring().find((m) => m["kind"] === "ConfigMap")!
    expect((configMap["metadata"] as Obj)["labels"]).toMatchObject({ grafana_dashboard: "1" })
    expect(JSON.parse((configMap["data"] as Record<string, string>)["shum-booking.json"]!)).toEqual(dashboard())
  })
})

/** `# TYPE name type` of a Prometheus text exposition. */
const typesOf = (text: string) => new Map([...text.matchAll(/^# TYPE (\S+) (\S+)$/gm)].map((m) => [m[1]!, m[2]!]))

describe("what the monitoring queries, the app exports", () => {
  let server: RunningServer
  let exported: Map<string, string>
  let worker: Map<string, string>

  beforeAll(async () => {
    server = await startServer({ ENABLE_METRICS_IN_TESTS: "true" })
    await request(`${server.url}/countries`) // so the request histograms have samples
    exported = typesOf((await request(`${server.url}/metrics`)).text)
    // the worker's registry as its /metrics serves it (no Redis or database needed for that)
    worker = typesOf(
      await Effect.runPromise(
        Effect.flatMap(WorkerMetrics, (m) => Effect.promise(() => m.registry.metrics())).pipe(
          Effect.provide(WorkerMetricsLive)
        )
      )
    )
  })
  afterAll(async () => {
    await server?.stop()
  })

  const exportedBy = (types: Map<string, string>) => (name: string) => {
    if (types.has(name)) return true
    const base = name.replace(/_(bucket|sum|count)$/, "")
    return base !== name && ["histogram", "summary"].includes(types.get(base) ?? "")
  }
  const fromServer = (name: string) => exportedBy(exported)(name)
  const fromWorker = (name: string) => exportedBy(worker)(name)

  it("the extractor reads metric names out of PromQL (control)", () => {
    expect(
      metricNames(
        'histogram_quantile(0.99, sum by (le, operation) (rate(db_query_duration_seconds_bucket{job="server"}[5m])))'
      )
    ).toEqual(["db_query_duration_seconds_bucket"])
    expect(metricNames('sum(a_total{x="y"}) / sum(b_total) > 0.05')).toEqual(["a_total", "b_total"])
  })

  it("every metric of the alerts and the dashboard exists at its source", () => {
    const queries = [
      ...ruleGroups().flatMap((g) => g.rules.map((r) => String(r["expr"]))),
      ...dashboard().panels.flatMap((p) => p.targets.map((t) => t.expr))
    ]
    const names = [...new Set(queries.flatMap(metricNames))].sort()
    expect(names.length).toBeGreaterThan(10)
    const unknown = names.filter((n) => !fromServer(n) && !fromWorker(n) && OTHER_SOURCES[n] === undefined)
    expect(unknown).toEqual([])
    // what the queries ask of the worker (job = worker) it has
    const workerQueries = queries.filter((q) => q.includes('job="worker"'))
    for (const name of workerQueries.flatMap(metricNames)) expect(fromWorker(name), name).toBe(true)
    expect(fromWorker("image_jobs_total")).toBe(true)
    // the server's own: API traffic and latency, rate limiting, SQL, business counters, Node runtime
    for (const name of [
      "api_requests_total",
      "api_request_duration_seconds_bucket",
      "rate_limit_backend_errors_total",
      "db_query_duration_seconds_bucket",
      ...NODE_RUNTIME
    ]) {
      expect(fromServer(name), name).toBe(true)
    }
    for (const name of NODE_RUNTIME) expect(fromWorker(name), `worker: ${name}`).toBe(true)
    // the holds panel (docs/api.md §8.9): the server counts all four, the worker what its sweep expired
    const holdsPanel = dashboard().panels.find((p) => p.title === "Holds per minute")
    expect(holdsPanel?.targets.flatMap((t) => metricNames(t.expr)).sort()).toEqual([
      "holds_confirmed_total",
      "holds_created_total",
      "holds_expired_total",
      "holds_released_total"
    ])
    for (const name of [
      "holds_created_total",
      "holds_confirmed_total",
      "holds_released_total",
      "holds_expired_total"
    ]) {
      expect(fromServer(name), name).toBe(true)
    }
    expect(fromWorker("holds_expired_total")).toBe(true)
    // the booking commands panel (docs/data.md BR-14): cancels and changes of dates by outcome, from the server
    const commandsPanel = dashboard().panels.find((p) => p.title === "Booking commands per minute")
    expect(commandsPanel?.targets.flatMap((t) => metricNames(t.expr)).sort()).toEqual([
      "booking_cancels_total",
      "booking_date_changes_total"
    ])
    for (const name of ["booking_cancels_total", "booking_date_changes_total"]) {
      expect(fromServer(name), name).toBe(true)
    }
  })

  it("the ServiceMonitor scrapes the `http` port of the server and worker Services at /metrics", () => {
    const serviceMonitor = monitoring().find((m) => m["kind"] === "ServiceMonitor")!
    const spec = serviceMonitor["spec"] as Obj
    expect(spec["endpoints"]).toEqual([expect.objectContaining({ port: "http", path: "/metrics" })])
    expect((spec["selector"] as Obj)["matchExpressions"]).toEqual([
      { key: "app.kubernetes.io/name", operator: "In", values: ["server", "worker"] }
    ])
  })
})
