/**
 * The receiver example of the docs (`docs/examples/webhook-receiver.mjs`, docs/api.md §14) run as written,
 * against real deliveries: it verifies the signature, processes an event once however often it arrives, and
 * refuses a forged message.
 */
import { assert, layer } from "@effect/vitest"
import { Effect, Layer } from "effect"
import { spawn } from "node:child_process"
import { fileURLToPath } from "node:url"
import { InProcessWebhookDispatcherLive } from "../src/Webhooks/WebhooksWorker.js"
import { clientWithToken, makeTestServer, signIn } from "./support.js"

const EXAMPLE = fileURLToPath(new URL("../../../docs/examples/webhook-receiver.mjs", import.meta.url))

const TestServer = InProcessWebhookDispatcherLive.pipe(
  Layer.provideMerge(makeTestServer({ WEBHOOK_ALLOWED_HOSTS: "127.0.0.1", WEBHOOK_POLL_MS: "20" }))
)

/** The example as a child process; its JSON lines as they come. */
const startExample = (secret: string) =>
  Effect.acquireRelease(
    Effect.async<{ readonly port: number; readonly lines: Array<Record<string, unknown>> }>((resume) => {
      const child = spawn(process.execPath, [EXAMPLE], {
        env: { PATH: process.env["PATH"] ?? "", WEBHOOK_SECRET: secret, PORT: "0" },
        stdio: ["ignore", "pipe", "inherit"]
      })
      const lines: Array<Record<string, unknown>> = []
      let buffer = ""
      child.stdout.on("data", (chunk: Buffer) => {
        buffer += chunk.toString()
        const complete = buffer.split("\n")
        buffer = complete.pop() ?? ""
        for (const line of complete) {
          const parsed = JSON.parse(line) as Record<string, unknown>
          if (typeof parsed["listening"] === "number")
            resume(Effect.succeed({ port: parsed["listening"], lines, child }))
          else lines.push(parsed)
        }
      })
    }),
    (example) => Effect.sync(() => (example as unknown as { child: { kill: () => void } }).child.kill())
  )

const waitFor = <A>(what: string, check: () => A | undefined) =>
  Effect.gen(function* () {
    for (let i = 0; i < 400; i++) {
      const value = check()
      if (value !== undefined) return value
      yield* Effect.sleep("25 millis")
    }
    return yield* Effect.dieMessage(`timed out waiting for ${what}`)
  })

layer(TestServer, { excludeTestServices: true, timeout: "60 seconds" })("the docs' receiver example", (it) => {
  it.scoped("verifies real deliveries, processes a redelivered event once, refuses a forged message", () =>
    Effect.gen(function* () {
      const api = yield* clientWithToken((yield* signIn("admin")).token)
      const created = yield* api.webhooks.create({
        payload: { url: "http://127.0.0.1:9/", events: ["webhook.ping"] }
      })
      const example = yield* startExample(created.secret)
      yield* api.webhooks.patch({
        path: { webhook_id: created.id },
        payload: { url: `http://127.0.0.1:${example.port}/hooks` }
      })
      const ping = yield* api.webhooks.ping({ path: { webhook_id: created.id } })
      const first = yield* waitFor("the ping processed", () => example.lines[0])
      assert.deepStrictEqual(first, {
        outcome: "processed",
        id: ping.event_id,
        type: "webhook.ping",
        data: { id: created.id }
      })
      yield* api.webhooks.redeliver({ path: { webhook_id: created.id, delivery_id: ping.id } })
      const second = yield* waitFor("the redelivery", () => example.lines[1])
      assert.deepStrictEqual(second, { outcome: "duplicate", id: ping.event_id })
      const forged = yield* Effect.promise(() =>
        fetch(`http://127.0.0.1:${example.port}/hooks`, {
          method: "POST",
          headers: {
            "webhook-id": "forged",
            "webhook-timestamp": String(Math.floor(Date.now() / 1000)),
            "webhook-signature": "v1,AAAA"
          },
          body: "{}"
        })
      )
      assert.strictEqual(forged.status, 400)
      const third = yield* waitFor("the refusal", () => example.lines[2])
      assert.deepStrictEqual(third, { outcome: "refused", id: "forged" })
      const deliveries = yield* api.webhooks.deliveries({ path: { webhook_id: created.id }, urlParams: {} })
      assert.deepStrictEqual(
        deliveries.items.map((d) => [d.status, d.last_response_code]),
        [
          ["delivered", 204],
          ["delivered", 204]
        ]
      )
    })
  )
})
