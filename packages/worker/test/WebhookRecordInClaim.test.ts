/**
 * The claim's statement that records the finished attempts first (migration 0029, docs/decisions.md D16,
 * `WebhookDispatcher.ts`), on the real PostgreSQL. The claim reads the statement's snapshot, taken before the
 * record ran, so it must be told what the record changed: a record that disables a subscription — the same
 * statement claims nothing of it; the leases just recorded are free for the same statement's claim, and a queue
 * whose next delivery the record released is reported (claimed by the next statement); the queues' advisory locks
 * are taken before the claim locks any row, so a redelivery that needs a row the claim could lock is not
 * blocked while the statement waits for a lock (no deadlock); and two dispatchers with redeliveries meanwhile
 * deliver everything, each entity's in order, with no deadlock.
 */
import * as SqlClient from "@effect/sql/SqlClient"
import { assert, layer } from "@effect/vitest"
import { Cause, Duration, Effect, Fiber, Layer, Logger, LogLevel, Random } from "effect"
import {
  claimAndRecord,
  claimDeliveries,
  makeDispatcher,
  type Claimed,
  type DispatcherSettings,
  type Outcome
} from "../src/WebhookDispatcher.js"
import { WebhookMetrics } from "../src/WebhookMetrics.js"
import { WebhookSender } from "../src/WebhookSender.js"
import {
  deliveries,
  fresh,
  misheld,
  query,
  QUEUE_LOCK,
  REDELIVER,
  session,
  SETTINGS,
  subscription,
  TestDatabase,
  waitersOfAdvisoryLocks,
  watchHeads
} from "./WebhookTestKit.js"

const OK: Outcome = { ok: true, status: 204, durationMs: 1, error: null }
const FAILED: Outcome = { ok: false, status: 500, durationMs: 1, error: "HTTP 500" }

/** Three leases per subscription (SETTINGS: six slots), five attempts. */
const claimRecording = (limit: number, attempts: ReadonlyArray<{ claimed: Claimed; outcome: Outcome }>) =>
  Effect.flatMap(SqlClient.SqlClient, (sql) => claimAndRecord(sql, SETTINGS)(limit, attempts)).pipe(Effect.orDie)

const claim = (limit: number) =>
  Effect.flatMap(SqlClient.SqlClient, (sql) => claimDeliveries(sql, 30, 3)(limit)).pipe(Effect.orDie)

/** The room of a claimed delivery (`deliveries` writes `{ id: room, seq }`). */
const roomOf = (claimed: Claimed) => (claimed.data as { id: number }).id

const statusOf = (ids: ReadonlyArray<string>) =>
  Effect.flatMap(
    SqlClient.SqlClient,
    (sql) => sql<{ status: string; leased: boolean }>`
      SELECT status, leased_until IS NOT NULL AS leased FROM webhook_deliveries
      WHERE id IN ${sql.in(ids.map(Number))} ORDER BY id`
  ).pipe(Effect.orDie)

const NoMetrics = Layer.succeed(
  WebhookMetrics,
  WebhookMetrics.of({
    eventsFannedOut: () => Effect.void,
    fanOutFailed: Effect.void,
    attempt: () => Effect.void,
    lag: () => Effect.void,
    pruned: () => Effect.void
  })
)

layer(TestDatabase, { excludeTestServices: true, timeout: "120 seconds" })("the record in the claim", (it) => {
  it.effect("a record that disables a subscription: the same statement claims nothing of it", () =>
    Effect.gen(function* () {
      yield* fresh
      const sql = yield* SqlClient.SqlClient
      const a = yield* subscription("a")
      const b = yield* subscription("b")
      yield* deliveries(a, 1, [1])
      const [last] = yield* claim(1)
      assert.strictEqual(last!.subscription_id, a)
      // its last attempt (SETTINGS: five) under way, and more of a's due, and one of b's
      yield* sql`UPDATE webhook_deliveries SET attempts = ${SETTINGS.maxAttempts} WHERE id = ${last!.id}::bigint`
      yield* deliveries(a, 2, [1])
      yield* deliveries(a, 3, [1])
      const [other] = yield* deliveries(b, 1, [1])
      const { claimed, released } = yield* claimRecording(6, [
        { claimed: { ...last!, attempts: SETTINGS.maxAttempts }, outcome: FAILED }
      ])
      // the dead delivery disabled a, and the statement that recorded it claimed b's only
      assert.deepStrictEqual(
        claimed.map((c) => c.id),
        [other]
      )
      assert.strictEqual(released, 0)
      const [state] = yield* sql<{ enabled: boolean; reason: string | null }>`
        SELECT enabled, disabled_reason AS reason FROM webhook_subscriptions WHERE id = ${a}`
      assert.isFalse(state!.enabled)
      assert.match(state!.reason ?? "", /whole retry schedule \(5 attempts\)/)
      assert.deepStrictEqual(yield* statusOf([last!.id]), [{ status: "dead", leased: false }])
      const [attempts] = yield* sql<{ n: number }>`
        SELECT count(*)::int AS n FROM webhook_attempts WHERE delivery_id = ${last!.id}::bigint`
      assert.strictEqual(attempts!.n, 1)
      // and later claims take none of a's either
      assert.deepStrictEqual(yield* claim(6), [])
    })
  )

  it.effect(
    "the leases just recorded are free for the same statement's claim; a released queue's next goes to the next",
    () =>
      Effect.gen(function* () {
        yield* fresh
        const a = yield* subscription("a")
        // room 1 has two events: its second is held behind the first
        yield* deliveries(a, 1, [1, 2])
        yield* deliveries(a, 2, [1])
        yield* deliveries(a, 3, [1])
        const inFlight = yield* claim(6)
        // a holds its share (three leases): a claim alone takes nothing more
        assert.deepStrictEqual(inFlight.map(roomOf).sort(), [1, 2, 3])
        yield* deliveries(a, 4, [1])
        assert.deepStrictEqual(yield* claim(6), [])
        // the three recorded (two delivered, one failed: pending again) in the claim's statement: their leases are
        // subtracted from a's count, so room 4's delivery is claimed by the same statement; room 1's second, released
        // by the record, is not on the statement's snapshot — reported, and claimed by the next statement
        const failed = inFlight.find((c) => roomOf(c) === 3)!
        const { claimed, released } = yield* claimRecording(
          6,
          inFlight.map((c) => ({ claimed: c, outcome: c === failed ? FAILED : OK }))
        )
        assert.deepStrictEqual(claimed.map(roomOf), [4])
        assert.strictEqual(released, 1)
        assert.deepStrictEqual(
          yield* statusOf(inFlight.map((c) => c.id)),
          inFlight.map((c) => ({ status: c === failed ? "pending" : "delivered", leased: false }))
        )
        assert.strictEqual(yield* misheld, 0)
        const next = yield* claim(6)
        // room 1's second, and room 3's retry (retried at once in SETTINGS)
        assert.deepStrictEqual(next.map((c) => [roomOf(c), (c.data as { seq: number }).seq]).sort(), [
          [1, 2],
          [3, 1]
        ])
      })
  )

  it.scoped(
    "the statement takes its queues' locks before any row lock: a redelivery needing a row it could claim is not blocked",
    () =>
      Effect.gen(function* () {
        yield* fresh
        const sql = yield* SqlClient.SqlClient
        const a = yield* subscription("a")
        // room 1: its delivery in flight (to be recorded); room 2: event 1 delivered, event 2's the head, due
        yield* deliveries(a, 1, [1])
        const [inFlight] = yield* claim(1)
        const [first, second] = yield* deliveries(a, 2, [1, 2])
        yield* sql`UPDATE webhook_deliveries SET status = 'delivered', finished_at = now() WHERE id = ${first!}::bigint`
        // another session holds room 1's queue lock (as a fan-out or a redelivery of room 1 would)
        const other = yield* session
        yield* query(other, "BEGIN")
        yield* query(
          other,
          `SELECT pg_advisory_xact_lock(${QUEUE_LOCK}, webhook_queue_lock_key(subscription_id, entity))
           FROM webhook_deliveries WHERE id = $1`,
          [inFlight!.id]
        )
        // the dispatcher's statement: the record of room 1's waits for that lock — and holds no row lock yet
        const statement = yield* Effect.fork(claimRecording(6, [{ claimed: inFlight!, outcome: OK }]))
        yield* waitersOfAdvisoryLocks(1)
        // the same session redelivers room 2's event 1: its settle holds event 2's delivery (the former head), which
        // needs that row's lock — free, since the claim has not run (a claim that had locked it would wait for the
        // lock this session holds: a deadlock)
        const redelivered = yield* query(other, REDELIVER, [first]).pipe(
          Effect.timeoutFail({ duration: "5 seconds", onTimeout: () => "the redelivery was blocked" })
        )
        yield* query(other, "COMMIT")
        const { claimed } = yield* Fiber.join(statement)
        // the statement's snapshot predates the redelivery: event 2's delivery, held since, is not claimed (the
        // row it locks is checked again), nor the redelivery; the next claim takes the redelivery
        assert.deepStrictEqual(claimed, [])
        assert.deepStrictEqual(yield* statusOf([inFlight!.id, second!]), [
          { status: "delivered", leased: false },
          { status: "pending", leased: false }
        ])
        assert.strictEqual(yield* misheld, 0)
        assert.deepStrictEqual(
          (yield* claim(6)).map((c) => c.id),
          [redelivered.rows[0].id as string]
        )
      })
  )

  it.scoped(
    "two dispatchers, failing receivers, redeliveries meanwhile: everything delivered, each entity's in order, no deadlock",
    () =>
      Effect.gen(function* () {
        yield* fresh
        const sql = yield* SqlClient.SqlClient
        const deadlocks = sql<{ n: number }>`
          SELECT deadlocks::int AS n FROM pg_stat_database WHERE datname = current_database()`.pipe(
          Effect.map((rows) => rows[0]!.n),
          Effect.orDie
        )
        const deadlocksBefore = yield* deadlocks
        const a = yield* subscription("a")
        const b = yield* subscription("b")
        /** Each successful request: subscription's URL, room and seq. */
        const delivered: Array<{ url: string; room: number; seq: number }> = []
        const sender = Layer.succeed(
          WebhookSender,
          WebhookSender.of({
            send: (message) =>
              Effect.gen(function* () {
                yield* Effect.sleep(Duration.millis(yield* Random.nextIntBetween(0, 4)))
                if ((yield* Random.next) < 0.25) return FAILED
                const data = (JSON.parse(message.body) as { data: { id: number; seq: number } }).data
                delivered.push({ url: message.url, room: data.id, seq: data.seq })
                return OK
              })
          })
        )
        const settings: DispatcherSettings = { ...SETTINGS, lease: Duration.seconds(2), maxAttempts: 1_000 }
        /** What the dispatchers log: a deadlock PostgreSQL broke fails a round, which is logged (and retried). */
        const logged: Array<string> = []
        const capture = Layer.merge(
          Logger.replace(
            Logger.defaultLogger,
            Logger.make(({ cause, message }) => void logged.push(`${String(message)} ${Cause.pretty(cause)}`))
          ),
          Logger.minimumLogLevel(LogLevel.Warning)
        )
        for (let i = 0; i < 2; i++) {
          const dispatcher = yield* makeDispatcher(settings).pipe(Effect.provide(Layer.merge(NoMetrics, sender)))
          yield* Effect.forkScoped(
            Effect.logWarning("dispatcher started").pipe(Effect.zipRight(dispatcher.run), Effect.provide(capture))
          )
        }
        const checks = yield* watchHeads
        // 6 rooms × 25 events to both subscriptions, each room's from a writer of its own, while an operator
        // redelivers delivered deliveries of the same rooms (each goes ahead of its room's later pending ones)
        const ROOMS = 6
        const PER_ROOM = 25
        let writing = true
        let redeliveries = 0
        const redeliverer = yield* Effect.fork(
          Effect.gen(function* () {
            while (writing) {
              const [row] = yield* sql<{ id: string }>`
                SELECT id::text AS id FROM webhook_deliveries WHERE status = 'delivered' ORDER BY random() LIMIT 1`
              if (row !== undefined) {
                yield* sql.unsafe(REDELIVER, [row.id])
                redeliveries++
              }
              yield* Effect.sleep(Duration.millis(yield* Random.nextIntBetween(5, 25)))
            }
          }).pipe(Effect.orDie)
        )
        yield* Effect.forEach(
          Array.from({ length: ROOMS }, (_, r) => r + 1),
          (room) =>
            Effect.gen(function* () {
              for (let seq = 1; seq <= PER_ROOM; seq++) {
                yield* deliveries(a, room, [seq])
                // b's delivery of the same event: written as the fan-out does, in event order
                yield* sql`INSERT INTO webhook_deliveries (subscription_id, event_id, entity)
                           SELECT ${b}, event_id, entity FROM webhook_deliveries
                           WHERE subscription_id = ${a} AND entity = ${`room:${room}`}
                           ORDER BY event_id DESC LIMIT 1`
                if (seq % 5 === 0) yield* Effect.sleep(Duration.millis(yield* Random.nextIntBetween(0, 30)))
              }
            }),
          { concurrency: "unbounded", discard: true }
        )
        writing = false
        yield* Fiber.join(redeliverer)
        const deadline = Date.now() + 90_000
        for (;;) {
          const [left] = yield* sql<{ n: number }>`
            SELECT count(*)::int AS n FROM webhook_deliveries WHERE status <> 'delivered'`
          if (left!.n === 0) break
          if (Date.now() > deadline) return yield* Effect.dieMessage(`${left!.n} deliveries left`)
          yield* Effect.sleep("50 millis")
        }
        assert.isAbove(redeliveries, 0)
        const [total] = yield* sql<{ n: number }>`SELECT count(*)::int AS n FROM webhook_deliveries`
        assert.strictEqual(total!.n, 2 * ROOMS * PER_ROOM + redeliveries)
        assert.isNotEmpty(checks)
        assert.deepStrictEqual(
          checks.filter((n) => n !== 0),
          [],
          "pending deliveries held wrongly"
        )
        // each room's events reached each subscription first in event order (a redelivery repeats an earlier one)
        for (const url of ["http://127.0.0.1:9/a", "http://127.0.0.1:9/b"]) {
          for (let room = 1; room <= ROOMS; room++) {
            const firsts: Array<number> = []
            for (const d of delivered) {
              if (d.url === url && d.room === room && !firsts.includes(d.seq)) firsts.push(d.seq)
            }
            assert.deepStrictEqual(
              firsts,
              Array.from({ length: PER_ROOM }, (_, i) => i + 1),
              `${url} room ${room}`
            )
          }
        }
        assert.strictEqual(logged.filter((line) => line.startsWith("dispatcher started")).length, 2, "logs captured")
        assert.deepStrictEqual(
          logged.filter((line) => /deadlock|round failed|not recorded/i.test(line)),
          [],
          "no round failed"
        )
        // PostgreSQL counts the deadlocks it broke (its statistics may reach the view only later: the logs above
        // are the first witness)
        yield* Effect.sleep("1500 millis")
        yield* sql`SELECT pg_stat_clear_snapshot()`
        assert.strictEqual((yield* deadlocks) - deadlocksBefore, 0)
      }),
    120_000
  )
})
