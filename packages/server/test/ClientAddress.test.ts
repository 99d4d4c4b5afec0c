/**
 * D12: by default only loopback peers may name the client in `X-Forwarded-For` / `X-Real-IP`. A peer in a
 * private range (a Docker bridge, a pod, a LAN) is the client itself, whatever it claims.
 */
import { assert, describe, it } from "@effect/vitest"
import { http } from "@shum/infra/Config"
import { ConfigProvider, Effect } from "effect"
import { resolveClientAddress, trustedProxies } from "../src/Http/ClientAddress.js"

const defaults = Effect.map(Effect.withConfigProvider(http, ConfigProvider.fromMap(new Map())), (settings) =>
  trustedProxies(settings.trustedProxies)
)

describe("TRUSTED_PROXIES default", () => {
  it.effect("X-Forwarded-For and X-Real-IP from a private address are ignored: the peer is the client", () =>
    Effect.gen(function* () {
      const trusted = yield* defaults
      const claims = { "x-forwarded-for": "203.0.113.9", "x-real-ip": "203.0.113.9" }
      for (const peer of ["10.1.2.3", "172.17.0.2", "192.168.1.10", "::ffff:10.0.0.7", "fd00::2", "fe80::1"]) {
        const unmapped = peer.replace(/^::ffff:/, "")
        assert.strictEqual(resolveClientAddress(peer, claims, trusted), unmapped, peer)
        assert.strictEqual(resolveClientAddress(peer, { "x-real-ip": "203.0.113.9" }, trusted), unmapped, peer)
      }
    })
  )

  it.effect("from loopback (a proxy on the same host) they name the client", () =>
    Effect.gen(function* () {
      const trusted = yield* defaults
      for (const peer of ["127.0.0.1", "::1", "::ffff:127.0.0.1"]) {
        assert.strictEqual(resolveClientAddress(peer, { "x-forwarded-for": "203.0.113.9" }, trusted), "203.0.113.9")
      }
    })
  )
})
