/**
 * The webhook queues' heads under concurrent writers, on the real PostgreSQL (docs/decisions.md D16, migrations
 * 0025 and 0026): a redelivery racing a claim's lease leaves one head; two workers recording deliveries of one
 * queue at once do not deadlock; deleting a pending head releases the next (and the retention's and a
 * subscription's deletes take no lock); the claim counts every subscription's leases in one call; the queue's
 * lock key of a large subscription id does not overflow.
 */
import * as SqlClient from "@effect/sql/SqlClient"
import { assert, layer } from "@effect/vitest"
import { generateSecret } from "@shum/infra/WebhookSigning"
import { Effect, Fiber } from "effect"
import { claimDeliveries, recordAttempts } from "../src/WebhookDispatcher.js"
import {
  cipher,
  deliveries,
  fresh,
  held,
  misheld,
  query,
  QUEUE_LOCK,
  REDELIVER,
  session,
  SETTINGS,
  subscription,
  TestDatabase,
  waitersOfAdvisoryLocks
} from "./WebhookTestKit.js"

const claim = (limit: number) =>
  Effect.flatMap(SqlClient.SqlClient, (sql) => claimDeliveries(sql, 30, 3)(limit)).pipe(Effect.orDie)

layer(TestDatabase, { excludeTestServices: true, timeout: "60 seconds" })("webhook queues' locks", (it) => {
  it.scoped("a redelivery of an earlier event while a claim leases the head: the head is held, one head claimed", () =>
    Effect.gen(function* () {
      yield* fresh
      const sql = yield* SqlClient.SqlClient
      const a = yield* subscription("a")
      const [first, second] = yield* deliveries(a, 1, [1, 2])
      // event 1 delivered: event 2's delivery is the head
      yield* sql`UPDATE webhook_deliveries SET status = 'delivered', finished_at = now() WHERE id = ${first!}::bigint`
      assert.isFalse(yield* held(second!))
      // a claim's lease of event 2, its transaction still open, while the admin redelivers event 1
      const claimer = yield* session
      const admin = yield* session
      yield* query(claimer, "BEGIN")
      yield* query(
        claimer,
        `UPDATE webhook_deliveries SET leased_until = now() + interval '2 seconds', lease_token = gen_random_uuid(),
           attempts = attempts + 1 WHERE id = $1`,
        [second]
      )
      const redelivery = yield* Effect.fork(query(admin, REDELIVER, [first]))
      yield* Effect.sleep("300 millis")
      yield* query(claimer, "COMMIT")
      const again = (yield* Fiber.join(redelivery)).rows[0].id as string
      // event 2's delivery is behind the redelivery of event 1: held, though leased (its attempt is in flight)
      assert.isTrue(yield* held(second!))
      assert.isFalse(yield* held(again))
      assert.strictEqual(yield* misheld, 0)
      // its lease lapses: only the redelivery is claimed
      yield* sql`UPDATE webhook_deliveries SET leased_until = now() - interval '1 second' WHERE id = ${second!}::bigint`
      assert.deepStrictEqual(
        (yield* claim(6)).map((c) => c.id),
        [again]
      )
    })
  )

  it.scoped("two workers recording two deliveries of one queue at once: no deadlock, both recorded", () =>
    Effect.gen(function* () {
      yield* fresh
      const sql = yield* SqlClient.SqlClient
      const a = yield* subscription("a")
      const [first] = yield* deliveries(a, 1, [1, 2])
      yield* sql`UPDATE webhook_deliveries SET status = 'delivered', finished_at = now() WHERE id = ${first!}::bigint`
      // event 2's delivery in flight, then event 1 redelivered (ahead of it: event 2's is held, still in flight)
      // and claimed too: two deliveries of one queue in flight
      const [inFlight] = yield* claim(6)
      const [redelivered] = yield* sql<{ id: string }>`
        INSERT INTO webhook_deliveries (subscription_id, event_id, entity)
        SELECT subscription_id, event_id, entity FROM webhook_deliveries WHERE id = ${first!}::bigint
        RETURNING id::text AS id`
      assert.isTrue(yield* held(inFlight!.id))
      const [head] = yield* claim(6)
      assert.strictEqual(head!.id, redelivered!.id)
      // the queue's lock held by a third session while worker 2 records the redelivery (delivered: its settle
      // releases event 2's delivery) and then worker 1 records event 2's (failed: pending again), so that worker
      // 2's settle runs first — 0025 deadlocked here: worker 1 held event 2's row, waiting for the queue's lock;
      // worker 2's settle held the lock, waiting for that row
      const third = yield* session
      yield* query(third, "BEGIN")
      yield* query(
        third,
        `SELECT pg_advisory_xact_lock(${QUEUE_LOCK}, webhook_queue_lock_key(subscription_id, entity))
         FROM webhook_deliveries WHERE id = $1`,
        [inFlight!.id]
      )
      const record = recordAttempts(sql, SETTINGS)
      const worker2 = yield* Effect.fork(
        Effect.either(record([{ claimed: head!, outcome: { ok: true, status: 204, durationMs: 1, error: null } }]))
      )
      yield* waitersOfAdvisoryLocks(1)
      const worker1 = yield* Effect.fork(
        Effect.either(
          record([{ claimed: inFlight!, outcome: { ok: false, status: 500, durationMs: 1, error: "HTTP 500" } }])
        )
      )
      yield* waitersOfAdvisoryLocks(2)
      yield* query(third, "COMMIT")
      const results = [yield* Fiber.join(worker2), yield* Fiber.join(worker1)]
      assert.deepStrictEqual(
        results.map((r) => (r._tag === "Left" ? String(r.left.cause) : "recorded")),
        ["recorded", "recorded"]
      )
      const rows = yield* sql<{ id: string; status: string; held: boolean; leased: boolean }>`
        SELECT id::text AS id, status, held, leased_until IS NOT NULL AS leased FROM webhook_deliveries
        WHERE id IN (${redelivered!.id}::bigint, ${inFlight!.id}::bigint) ORDER BY id`
      assert.deepStrictEqual(rows, [
        { id: inFlight!.id, status: "pending", held: false, leased: false },
        { id: redelivered!.id, status: "delivered", held: false, leased: false }
      ])
      assert.strictEqual(yield* misheld, 0)
    })
  )

  it.scoped(
    "deleting a pending head releases the next; the retention's and a subscription's deletes take no lock",
    () =>
      Effect.gen(function* () {
        yield* fresh
        const sql = yield* SqlClient.SqlClient
        const a = yield* subscription("a")
        const [poison, next, last] = yield* deliveries(a, 1, [1, 2, 3])
        assert.deepStrictEqual([yield* held(next!), yield* held(last!)], [true, true])
        // an operator drops the head (docs/operations.md): the next is released, the last stays behind it
        yield* sql`DELETE FROM webhook_deliveries WHERE id = ${poison!}::bigint`
        assert.deepStrictEqual([yield* held(next!), yield* held(last!)], [false, true])
        assert.strictEqual(yield* misheld, 0)
        assert.deepStrictEqual(
          (yield* claim(6)).map((c) => c.id),
          [next]
        )
        // a held one dropped: nothing changes
        const [, , tail] = yield* deliveries(a, 2, [1, 2, 3])
        yield* sql`DELETE FROM webhook_deliveries WHERE id = ${tail!}::bigint`
        assert.strictEqual(yield* misheld, 0)

        // the retention's delete (ended deliveries) and a subscription's (its queues with it) take no queue lock
        const b = yield* subscription("b")
        const [ended] = yield* deliveries(b, 1, [1, 2])
        yield* deliveries(b, 2, [1, 2])
        yield* sql`UPDATE webhook_deliveries SET status = 'delivered', finished_at = now() WHERE id = ${ended!}::bigint`
        const admin = yield* session
        const advisoryLocks = Effect.map(
          query(
            admin,
            `SELECT count(*)::int AS n FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid()`
          ),
          (result) => result.rows[0].n as number
        )
        yield* query(admin, "BEGIN")
        yield* query(admin, `DELETE FROM webhook_deliveries WHERE id = $1`, [ended])
        assert.strictEqual(yield* advisoryLocks, 0)
        yield* query(admin, `DELETE FROM webhook_subscriptions WHERE id = $1`, [b])
        assert.strictEqual(yield* advisoryLocks, 0)
        yield* query(admin, "COMMIT")
        const [left] = yield* sql<{ n: number }>`
        SELECT count(*)::int AS n FROM webhook_deliveries WHERE subscription_id = ${b}`
        assert.strictEqual(left!.n, 0)
        assert.strictEqual(yield* misheld, 0)
      })
  )

  it.effect("the claim counts every subscription's leases in one call, not one per subscription", () =>
    Effect.gen(function* () {
      yield* fresh
      const sql = yield* SqlClient.SqlClient
      const a = yield* subscription("a")
      yield* sql`INSERT INTO webhook_subscriptions (url, events, secret, enabled)
                 SELECT 'http://127.0.0.1:9/s' || i, '{*}', ${cipher.encrypt(generateSecret())}, i % 2 = 0
                 FROM generate_series(1, 200) AS i`
      yield* deliveries(a, 1, [1])
      yield* deliveries(a, 2, [1])
      yield* deliveries(a, 3, [1])
      yield* deliveries(a, 4, [1])
      // two of a's leased: its share (3) leaves room for one more
      yield* sql`UPDATE webhook_deliveries SET leased_until = now() + interval '1 minute', lease_token = gen_random_uuid()
                 WHERE id IN (SELECT id FROM webhook_deliveries ORDER BY id LIMIT 2)`
      const calls = yield* sql
        .withTransaction(
          Effect.gen(function* () {
            yield* sql`SET LOCAL track_functions = 'all'`
            const claimed = yield* claimDeliveries(sql, 30, 3)(6)
            const counted = yield* sql<{ funcname: string; calls: number }>`
              SELECT funcname, calls::int AS calls FROM pg_stat_xact_user_functions
              WHERE funcname IN ('webhook_leases_by_subscription', 'webhook_leases_in_flight') ORDER BY 1`
            return { claimed: claimed.length, counted }
          })
        )
        .pipe(Effect.orDie)
      assert.deepStrictEqual(calls, {
        claimed: 1,
        counted: [{ funcname: "webhook_leases_by_subscription", calls: 1 }]
      })
    })
  )

  it.effect("a subscription id from 33,554,432 on: its queue's lock key fits, its deliveries are written", () =>
    Effect.gen(function* () {
      yield* fresh
      const sql = yield* SqlClient.SqlClient
      const [keys] = yield* sql<{ small: number; expected: number; large: number; largest: number }>`
        SELECT webhook_queue_lock_key(5, 'room:1') AS small, 5 * 64 + (hashtext('room:1') & 63) AS expected,
          webhook_queue_lock_key(33554432, 'x') AS large, webhook_queue_lock_key(2147483647, 'x') AS largest`
      // the same key as 0025's below the limit
      assert.strictEqual(keys!.small, keys!.expected)
      assert.isAtLeast(keys!.large, 0)
      assert.isAtLeast(keys!.largest, 0)
      const big = yield* subscription("big", { id: 33_554_432 })
      const [head, behind] = yield* deliveries(big, 1, [1, 2])
      assert.deepStrictEqual([yield* held(head!), yield* held(behind!)], [false, true])
    })
  )
})
