/**
 * The unit suite's guard itself: with `fakes/NoNetwork.ts` loaded, any attempt to reach PostgreSQL, Redis or
 * anything else over a socket fails at once and says why, so a unit test that touches a server fails loudly.
 */
import "./fakes/NoNetwork.js"
import { assert, describe, it } from "@effect/vitest"
import net from "node:net"
import pg from "pg"
import { NO_NETWORK_MESSAGE } from "./fakes/NoNetwork.js"

describe("unit tests open no socket", () => {
  it("a TCP connection throws with the unit suite's message", () => {
    assert.throws(() => net.connect({ host: "127.0.0.1", port: 5432 }), NO_NETWORK_MESSAGE)
  })

  it("a PostgreSQL client fails to connect with it", async () => {
    const client = new pg.Client({ connectionString: "postgres://postgres@127.0.0.1:5432/postgres" })
    const error = await client.connect().then(
      () => undefined,
      (error: unknown) => error
    )
    assert.include(String(error), NO_NETWORK_MESSAGE)
  })
})
