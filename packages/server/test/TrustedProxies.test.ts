/**
 * D12, end to end: the real server process with `TRUSTED_PROXIES` unset, listening on every interface. A
 * request from one of the machine's own non-loopback addresses (a private one when there is one, as from a
 * Docker bridge or a pod) cannot pick its client address with `X-Forwarded-For`: the rate limiter counts
 * it as the peer, whatever it claims. From loopback (a proxy on the same host) the header is believed.
 */
import { assert, describe, it } from "@effect/vitest"
import { databaseUrl, freshDatabase } from "@shum/infra/Testing"
import { Effect } from "effect"
import { networkInterfaces } from "node:os"
import { freePort, startServerProcess, waitReady } from "./FaultSupport.js"
import { trustedProxies } from "../src/Http/ClientAddress.js"

const PRIVATE = trustedProxies(["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7"])

/** A non-loopback address of this machine, a private one first: as a URL host, and where to listen for it. */
const ownAddress = (): { readonly host: string; readonly listen: string } => {
  const addresses = Object.values(networkInterfaces())
    .flat()
    .filter((a) => a !== undefined && !a.internal && !a.address.startsWith("fe80"))
    .map((a) => a!)
  const chosen = addresses.find((a) => PRIVATE.contains(a.address)) ?? addresses[0]
  if (chosen === undefined) throw new Error("this machine has no non-loopback address")
  return chosen.family === "IPv6"
    ? { host: `[${chosen.address}]`, listen: "::" }
    : { host: chosen.address, listen: "0.0.0.0" }
}

const statuses = (base: string, claims: ReadonlyArray<string>) =>
  Effect.promise(async () => {
    const out: Array<number> = []
    for (const claim of claims) {
      const response = await fetch(`${base}/countries`, { headers: { "x-forwarded-for": claim } })
      await response.arrayBuffer()
      out.push(response.status)
    }
    return out
  })

describe("TRUSTED_PROXIES default (D12), the real server on every interface", () => {
  it.scopedLive(
    "X-Forwarded-For from a non-loopback peer is ignored; from loopback it names the client",
    () =>
      Effect.gen(function* () {
        const db = yield* freshDatabase
        const port = yield* Effect.promise(freePort)
        const own = ownAddress()
        const server = yield* Effect.acquireRelease(
          Effect.sync(() =>
            startServerProcess({
              DATABASE_URL: databaseUrl(db.name),
              APP_ENV: "test",
              JWT_SECRET_KEY: "test-secret-key-for-shum-booking-tests-only",
              HOST: own.listen,
              PORT: String(port),
              RATE_LIMIT_ENABLED_IN_TESTS: "true",
              RATE_LIMIT_PER_MINUTE: "2",
              LOG_LEVEL: "ERROR"
            })
          ),
          (proc) => Effect.promise(() => proc.kill())
        )
        yield* Effect.promise(() => waitReady(server, `http://127.0.0.1:${port}`))
        const external = `http://${own.host}:${port}`
        // three different claimed clients, one real peer: the third request is over its limit of 2
        assert.deepStrictEqual(
          yield* statuses(external, ["203.0.113.1", "203.0.113.2", "203.0.113.3"]),
          [200, 200, 429]
        )
        // through loopback each claimed client has a limit of its own
        assert.deepStrictEqual(
          yield* statuses(`http://127.0.0.1:${port}`, ["203.0.113.11", "203.0.113.12", "203.0.113.13"]),
          [200, 200, 200]
        )
      }),
    { timeout: 120_000 }
  )
})
