/**
 * The request metrics update prom-client's own series entries in place after prom-client made them
 * (`Metrics.ts` `addingSeries`, `observingSeries`): the exposition must be byte for byte what prom-client's
 * own `inc`/`dec`/`observe` calls give for the same observations — bucket bounds hit exactly, values above
 * the last bound, a series without labels, a gauge going up and down, and a `reset` midway (after which
 * prom-client makes the entries again).
 */
import "./fakes/NoNetwork.js"
import { assert, describe, it } from "@effect/vitest"
import { Counter, Gauge, Histogram, Registry } from "prom-client"
import { addingSeries, observingSeries } from "../../src/Metrics.js"

const BUCKETS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]

const declare = () => {
  const registry = new Registry()
  const registers = [registry]
  return {
    registry,
    counter: new Counter({ name: "c_total", help: "c", labelNames: ["endpoint", "method", "status"], registers }),
    gauge: new Gauge({ name: "g", help: "g", labelNames: ["method", "handler"], registers }),
    histogram: new Histogram({
      name: "h_seconds",
      help: "h",
      labelNames: ["endpoint", "method"],
      buckets: BUCKETS,
      registers
    }),
    plain: new Histogram({ name: "p_seconds", help: "p", buckets: [0.1, 0.5, 1], registers })
  }
}

const VALUES = [0, 0.0004, 0.001, 0.0049, 0.005, 0.3, 1, 2.5, 9.99, 10, 10.5, 120, 0.025, 0.05]
const HEALTH = { endpoint: "/health", method: "GET" }
const HOTELS = { endpoint: "/hotels", method: "GET" }

describe("request metrics' series", () => {
  it("expose exactly what prom-client's own calls expose", async () => {
    const slow = declare()
    const fast = declare()
    // prom-client's own calls on the fast side: only to make an entry
    let promCalls = 0
    for (const metric of [fast.counter, fast.gauge, fast.histogram, fast.plain] as unknown as Array<
      Record<string, unknown>
    >) {
      for (const method of ["inc", "dec", "observe"]) {
        const own = metric[method]
        if (typeof own !== "function") continue
        metric[method] = (...args: Array<unknown>) => {
          promCalls += 1
          return own.apply(metric, args)
        }
      }
    }
    const series = {
      health200: addingSeries(fast.counter, { ...HEALTH, status: "200" }),
      hotels404: addingSeries(fast.counter, { ...HOTELS, status: "404" }),
      up: addingSeries(fast.gauge, { method: "GET", handler: "/hotels" }, 1),
      down: addingSeries(fast.gauge, { method: "GET", handler: "/hotels" }, -1),
      health: observingSeries(fast.histogram, HEALTH, BUCKETS),
      hotels: observingSeries(fast.histogram, HOTELS, BUCKETS),
      plain: observingSeries(fast.plain, {}, [0.1, 0.5, 1])
    }
    const round = () => {
      for (const [i, value] of VALUES.entries()) {
        slow.counter.inc({ ...HEALTH, status: "200" })
        series.health200()
        slow.gauge.inc({ method: "GET", handler: "/hotels" })
        series.up()
        slow.histogram.observe(HEALTH, value)
        series.health(value)
        if (i % 3 === 0) {
          slow.counter.inc({ ...HOTELS, status: "404" })
          series.hotels404()
          slow.histogram.observe(HOTELS, value * 2)
          series.hotels(value * 2)
        }
        slow.gauge.dec({ method: "GET", handler: "/hotels" })
        series.down()
        slow.plain.observe(value)
        series.plain(value)
      }
    }
    round()
    assert.strictEqual(await fast.registry.metrics(), await slow.registry.metrics())
    // one call per series (two counters, the gauge up and down, three histograms), the rest in place
    assert.strictEqual(promCalls, 7)
    round()
    assert.strictEqual(await fast.registry.metrics(), await slow.registry.metrics())
    assert.strictEqual(promCalls, 7)
    // prom-client drops its entries: the next observations make them again, through prom-client
    slow.registry.resetMetrics()
    fast.registry.resetMetrics()
    round()
    assert.strictEqual(await fast.registry.metrics(), await slow.registry.metrics())
    assert.strictEqual(promCalls, 14)
    assert.include(await fast.registry.metrics(), 'h_seconds_bucket{le="0.001",endpoint="/health",method="GET"} 3')
  })

  it("refuse what prom-client refuses", () => {
    const { histogram } = declare()
    const observe = observingSeries(histogram, HEALTH, BUCKETS)
    observe(0.2)
    assert.throws(() => observe(Number.NaN), /Value is not a valid number/)
  })
})
