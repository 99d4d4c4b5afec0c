/**
 * Webhook delivery from the outbox (docs/decisions.md D16), at least once and in order per subscription
 * and entity. Two fibers:
 *
 * 1. Fan-out (its own fiber, as often as the outbox has events — a statement per batch of what arrived, not
 *    per delivery): events not yet fanned out become one `webhook_deliveries` row per matching enabled
 *    subscription (type pattern, hotel filter), in event order, under an advisory lock so two workers never
 *    fan out out of order.
 * 2. Claim: pending deliveries that are due, whose subscription is enabled (a ping's is sent regardless) and
 *    that have no earlier pending delivery of the same subscription and entity (not `held`: the head of their
 *    queue, kept by migration 0025's triggers), are leased for
 *    `WEBHOOK_LEASE_SECONDS` (`SKIP LOCKED`: workers share the work), several free slots at once, dealt
 *    round-robin over the subscriptions, none holding more than its share. The attempt is counted at the
 *    claim, so a worker killed mid-request has spent it, and its lease lapses: the delivery is sent again.
 * 3. Send each (`WebhookSender`) on its own fiber, up to `WEBHOOK_CONCURRENCY` at once, freed slots filled
 *    by the next claim within milliseconds (a slow receiver never holds up the others), then record the
 *    attempt — those that finish together, in one statement, which is the next claim's own (migration 0029:
 *    one statement and one commit per cycle; the recorder fiber takes what no claim takes: the loop sleeping
 *    after a failed round, or the shutdown) — only while the lease is still ours: 2xx →
 *    `delivered`; otherwise retried after `WEBHOOK_RETRY_BASE_SECONDS` × 2^(n−1), ±20 % jitter, until
 *    `WEBHOOK_MAX_ATTEMPTS` (the defaults span about 23 h) → `dead`; a subscription whose delivery dies with
 *    none of its deliveries delivered since that one was made (it failed for a whole schedule) is disabled.
 */
import * as SqlClient from "@effect/sql/SqlClient"
import type { WebhookSettings } from "@shum/infra/Config"
import { makeCipher } from "@shum/infra/WebhookSigning"
import type { SqlError } from "@effect/sql/SqlError"
import { Deferred, Duration, Effect, Exit, FiberSet, Layer, Option } from "effect"
import { randomUUID } from "node:crypto"
import { WebhookMetrics } from "./WebhookMetrics.js"
import { makeBoundedCache } from "./BoundedCache.js"
import { makeSecretCache, sweepSecretCaches } from "./SecretCache.js"
import { RETENTION_DEFAULTS, WebhookRetentionLive } from "./WebhookRetention.js"
import { WebhookSender } from "./WebhookSender.js"

/** Key of the transaction-scoped advisory lock that serialises fan-out ("whfanout"). */
const FAN_OUT_LOCK = 0x7768_666e_6f75_74n % 2_147_483_647n
const FAN_OUT_BATCH = 500

/*
 * `set_config('synchronous_commit', 'off', true)` is part of each of the dispatcher's own statements (fan-out,
 * claim, record, release — each its own transaction): its commit does not wait for the WAL's flush to disk
 * (`synchronous_commit` off for that transaction only; every other transaction, the bookings' included, keeps
 * the server's setting). A crash may lose the last few of these commits — never part of one, and only the latest (WAL is flushed in order) — and each loss
 * means work done again: events fanned out again, a lease or a record lost so the delivery is sent again.
 * At least once still holds. docs/decisions.md D16, docs/operations.md §15.
 */

export type DispatcherSettings = Pick<
  WebhookSettings,
  "keyMaterial" | "maxAttempts" | "retryBase" | "lease" | "pollInterval" | "concurrency" | "retention"
>

export interface Claimed {
  readonly id: string
  readonly lease_token: string
  readonly attempts: number
  readonly created_at: Date
  readonly subscription_id: number
  readonly url: string
  readonly secret: string
  readonly previous_secret: string | null
  readonly event_id: string
  readonly type: string
  readonly event_created_at: string
  readonly data: unknown
}

/** Seconds before attempt `attempts + 1`, with ±20 % jitter. */
export const retryDelaySeconds = (base: Duration.Duration, attempts: number, random: number = Math.random()) =>
  Duration.toSeconds(base) * 2 ** Math.max(0, attempts - 1) * (0.8 + 0.4 * random)

type Sql = SqlClient.SqlClient

/** Leases one subscription may hold at once: half of `WEBHOOK_CONCURRENCY`, at least one. */
export const perSubscriptionLimit = (concurrency: number) => Math.max(1, Math.ceil(concurrency / 2))

export interface Outcome {
  readonly ok: boolean
  readonly status: number | null
  readonly durationMs: number
  readonly error: string | null
}

/**
 * Fan-out: returns how many events were fanned out (0: none waiting, or another worker is at it). One
 * statement, so one transaction without a BEGIN and COMMIT of its own: the advisory lock is held to its end.
 * A row another worker fanned out after this statement's snapshot is re-read by `FOR UPDATE` and left out
 * (`fanned_out_at` is no longer null). A delivery behind an earlier one of the batch (same subscription and
 * entity) is written `held` at once; whether the first of each is held behind one already pending is settled by
 * migration 0025's trigger at the statement's end (without a second version of the row for the others).
 */
const fanOutEvents = (sql: Sql) =>
  sql<{ n: number }>`
    WITH locked AS (
      SELECT pg_try_advisory_xact_lock(${Number(FAN_OUT_LOCK)}) AS ok,
        set_config('synchronous_commit', 'off', true) AS async_commit
    ),
    batch AS (
      SELECT e.id, e.type, e.entity, e.hotel_id, e.subscription_id FROM outbox_events e, locked
      WHERE locked.ok AND e.fanned_out_at IS NULL ORDER BY e.id LIMIT ${FAN_OUT_BATCH}
      FOR UPDATE OF e SKIP LOCKED
    ),
    inserted AS (
      INSERT INTO webhook_deliveries (subscription_id, event_id, entity, held)
      SELECT s.id, b.id, b.entity, row_number() OVER (PARTITION BY s.id, b.entity ORDER BY b.id) > 1
      FROM batch b JOIN webhook_subscriptions s
        ON s.enabled
        AND (b.subscription_id IS NULL OR b.subscription_id = s.id)
        AND (s.hotel_ids IS NULL OR b.hotel_id = ANY (s.hotel_ids))
        AND EXISTS (SELECT 1 FROM unnest(s.events) p
                    WHERE p = '*' OR p = b.type OR (p LIKE '%.*' AND b.type LIKE left(p, -1) || '%'))
      ORDER BY b.id, s.id
    ),
    marked AS (UPDATE outbox_events SET fanned_out_at = now() WHERE id IN (SELECT id FROM batch))
    SELECT count(*)::int AS n FROM batch`.pipe(Effect.map((rows) => rows[0]?.n ?? 0))

/**
 * Claim: up to `limit` due deliveries, first of their subscription and entity, leased for `leaseSeconds` —
 * fairly: no subscription holds more than `perSubscription` leases at once (counted over every worker), and
 * the slots are dealt round-robin over the subscriptions with due deliveries (each one's first, then each
 * one's second, …), so a slow receiver cannot take every slot from the prompt ones. The candidates are read
 * per subscription, each one's first due heads in order (`next_attempt_at`, id) and no more than its share, from
 * `ix_webhook_deliveries_heads` (migration 0025: the pending deliveries not `held` behind an earlier pending one
 * of their subscription and entity, in that order): no anti-join, nothing behind a head is read — a backlog of
 * many entities or one entity's deep queue costs the claim nothing — and the plan does not depend on the
 * table's statistics (a new database analysed near-empty planned the old anti-join as a scan of the backlog per
 * candidate). The leases in flight are counted by `webhook_leases_by_subscription` (migration 0026: one index
 * scan for every subscription, whatever the statistics), and a subscription at its cap is not read at all. A
 * disabled subscription's only candidates are its pings, the head of its ping queue (entity `webhook:<id>`).
 * `due` reads the candidates by primary key (`= ANY` of their ids: statistics taken mid-run, with every pending
 * delivery a head, once had it join them to every due head instead, 18 ms per claim at 7,000 pending).
 * It repeats the "pending, not held, due and not leased" test on the row it locks: a delivery another worker
 * finished, leased or held after this statement's snapshot is re-checked by PostgreSQL against `due`'s own
 * conditions only (the candidates' were judged on the snapshot), so without them it would be sent again, out of
 * order. docs/decisions.md D16.
 *
 * The statement first records the attempts `attempts` (JSON, as `attemptRows` makes it; `[]`: none) by
 * `webhook_record_attempts` (migration 0029), in `recorded`, a `MATERIALIZED` part the claim's `leases` reads and
 * the statement's top reads before anything else (`done`, joined `LATERAL` to the claim, which it must therefore
 * run first): so the queues' advisory locks are taken, and the record's triggers have settled its queues, before
 * the claim locks a row — the claim then waits for nothing (`SKIP LOCKED`), so this statement deadlocks with no
 * settle that waits for a row it leased. The claim reads the statement's snapshot, taken before the record ran:
 * the record's leases still count there, so each subscription's `freed` is subtracted from its count, and a
 * subscription the record disabled is taken as disabled (its pings only). A delivery the record changed (its own
 * attempts, a head its settle released or held) is skipped by `FOR UPDATE` (changed by a later command of this
 * transaction); the heads it released are counted in `released`, for the dispatcher to claim at once by the next
 * statement. Always at least one row: `released`, and the leased delivery's columns (`id` null when none).
 */
export const claimStatement =
  (sql: Sql, leaseSeconds: number, perSubscription: number, maxAttempts: number) =>
  (limit: number, attempts: string = "[]") =>
    sql<ClaimRow>`
    WITH recorded AS MATERIALIZED (
      SELECT r.subscription_id, r.freed, r.disabled, r.released
      FROM webhook_record_attempts(${attempts}::jsonb, ${maxAttempts}::int) r
    ),
    done AS MATERIALIZED (
      SELECT COALESCE(sum(r.released), 0)::int AS released,
        set_config('synchronous_commit', 'off', true) AS async_commit
      FROM recorded r
    ),
    leases AS MATERIALIZED (
      SELECT s.id, s.enabled AND NOT COALESCE(r.disabled, false) AS enabled,
        COALESCE(l.busy, 0) - COALESCE(r.freed, 0) AS busy
      FROM webhook_subscriptions s
      LEFT JOIN webhook_leases_by_subscription() l ON l.subscription_id = s.id
      LEFT JOIN recorded r ON r.subscription_id = s.id
    ),
    room AS (SELECT id, enabled, busy FROM leases WHERE busy < ${perSubscription}),
    candidates AS (
      SELECT c.id, c.subscription_id, c.next_attempt_at, r.busy FROM room r
      CROSS JOIN LATERAL (
        SELECT d.id, d.subscription_id, d.next_attempt_at FROM webhook_deliveries d
        WHERE d.subscription_id = r.id AND d.status = 'pending' AND NOT d.held AND d.next_attempt_at <= now()
          AND (d.leased_until IS NULL OR d.leased_until < now())
        ORDER BY d.next_attempt_at, d.id LIMIT ${perSubscription}
      ) c
      WHERE r.enabled
      UNION ALL
      SELECT p.id, p.subscription_id, p.next_attempt_at, r.busy FROM room r
      CROSS JOIN LATERAL (
        SELECT d.id, d.subscription_id, d.next_attempt_at, d.held, d.leased_until FROM webhook_deliveries d
        JOIN outbox_events e ON e.id = d.event_id AND e.subscription_id = r.id
        WHERE d.subscription_id = r.id AND d.entity = 'webhook:' || r.id AND d.status = 'pending'
        OFFSET 0
      ) p
      WHERE NOT r.enabled AND NOT p.held AND p.next_attempt_at <= now()
        AND (p.leased_until IS NULL OR p.leased_until < now())
    ),
    ranked AS (
      SELECT c.id, c.next_attempt_at, c.busy,
        row_number() OVER (PARTITION BY c.subscription_id ORDER BY c.next_attempt_at, c.id) AS turn
      FROM candidates c
    ),
    due AS (
      SELECT d.id FROM webhook_deliveries d JOIN ranked r ON r.id = d.id
      WHERE d.id = ANY (ARRAY(SELECT id FROM ranked)) AND r.busy + r.turn <= ${perSubscription}
        AND d.status = 'pending' AND NOT d.held AND d.next_attempt_at <= now()
        AND (d.leased_until IS NULL OR d.leased_until < now())
      ORDER BY r.busy + r.turn, r.next_attempt_at, r.id LIMIT ${limit}
      FOR UPDATE OF d SKIP LOCKED
    ),
    leased AS (
      UPDATE webhook_deliveries d SET attempts = d.attempts + 1, lease_token = ${randomUUID()}::uuid,
        leased_until = now() + make_interval(secs => ${leaseSeconds})
      FROM due WHERE d.id = due.id
      RETURNING d.id, d.lease_token, d.attempts, d.created_at, d.subscription_id, d.event_id
    )
    SELECT x.released, c.* FROM done x LEFT JOIN LATERAL (
      SELECT l.id::text AS id, l.lease_token::text AS lease_token, l.attempts, l.created_at, l.subscription_id,
        s.url, s.secret, CASE WHEN s.previous_secret_expires_at > now() THEN s.previous_secret END AS previous_secret,
        e.event_id::text AS event_id, e.type, e.data,
        to_char(e.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS event_created_at
      FROM leased l JOIN webhook_subscriptions s ON s.id = l.subscription_id
      JOIN outbox_events e ON e.id = l.event_id
      WHERE x.async_commit IS NOT NULL
      OFFSET 0
    ) c ON true`

/** A claim's statement's rows: what it leased, or one row with no delivery when it leased none. */
type ClaimRow = { readonly released: number } & (Claimed | { readonly id: null })

/** What a claim's statement leased, and how many queues its record released (their next not claimable by it). */
const claimedOf = (rows: ReadonlyArray<ClaimRow>) => ({
  claimed: rows.filter((row): row is ClaimRow & Claimed => row.id !== null) as ReadonlyArray<Claimed>,
  released: rows[0]?.released ?? 0
})

/** Attempts recorded per statement, at most. */
const RECORD_BATCH = 64
/**
 * How long the recorder waits for a claim to start before it records the attempts waiting itself (a claim follows
 * a freed slot within `CLAIM_GATHER_MS`, unless the loop sleeps after a failed round or is gone).
 */
const RECORD_WAIT_MS = 20
/** No claim made (no free slot). */
const NOTHING_CLAIMED = { claimed: [] as ReadonlyArray<Claimed>, released: 0 }

/** An attempt to record: the delivery in hand and its outcome. */
export interface Attempt {
  readonly claimed: Claimed
  readonly outcome: Outcome
}

/** The attempts as `webhook_record_attempts` takes them (migration 0029): the outcome judged here. */
const attemptRows = (settings: DispatcherSettings, attempts: ReadonlyArray<Attempt>) =>
  JSON.stringify(
    attempts.map(({ claimed, outcome }) => {
      const dead = !outcome.ok && claimed.attempts >= settings.maxAttempts
      return {
        id: claimed.id,
        token: claimed.lease_token,
        status: outcome.ok ? "delivered" : dead ? "dead" : "pending",
        code: outcome.status,
        duration_ms: Math.round(outcome.durationMs),
        error: outcome.error,
        delay: retryDelaySeconds(settings.retryBase, claimed.attempts)
      }
    })
  )

/**
 * The dispatcher's claim of up to `limit` deliveries, whose statement first records `attempts` (none: a claim
 * alone): what it leased, and how many queues the record released (`released`, their next delivery claimable by
 * the next statement only).
 */
export const claimAndRecord = (sql: Sql, settings: DispatcherSettings) => {
  const statement = claimStatement(
    sql,
    Duration.toSeconds(settings.lease),
    perSubscriptionLimit(settings.concurrency),
    settings.maxAttempts
  )
  return (limit: number, attempts: ReadonlyArray<Attempt>) =>
    Effect.map(statement(limit, attempts.length === 0 ? "[]" : attemptRows(settings, attempts)), claimedOf)
}

/** A claim without a record. */
export const claimDeliveries = (sql: Sql, leaseSeconds: number, perSubscription: number) => (limit: number) =>
  Effect.map(claimStatement(sql, leaseSeconds, perSubscription, 0)(limit), (rows) => claimedOf(rows).claimed)

/**
 * Records attempts, up to `RECORD_BATCH` in one statement, each only while its lease is still ours: delivered,
 * dead after the last attempt, or pending again after the backoff delay. A dead delivery disables its
 * subscription when no delivery of it has been delivered since the dead one was made (it failed for a whole
 * schedule). `last_success_at` is written at most once a second per subscription: every success writing it would
 * queue the subscription's deliveries on its row lock (one commit at a time); the disabling rule reads the
 * deliveries themselves, not it. The record is `webhook_record_attempts` (migration 0029), which takes the
 * deliveries' queues' advisory locks (`webhook_lock_queues`, migration 0026) before its UPDATE locks their rows:
 * the order every settle takes them in. Most records are made by the claim's statement (`claimStatement`); this
 * one, the recorder's, takes what no claim takes: no claim started within `RECORD_WAIT_MS` (the loop sleeps after a
 * failed round), or the shutdown (an attempt finished while the loop is gone).
 */
export const recordAttempts = (sql: Sql, settings: DispatcherSettings) => (attempts: ReadonlyArray<Attempt>) =>
  sql`SELECT set_config('synchronous_commit', 'off', true) AS async_commit,
        (SELECT count(*)::int FROM webhook_record_attempts(${attemptRows(settings, attempts)}::jsonb,
                                                           ${settings.maxAttempts}::int)) AS subscriptions`

/**
 * A delivery interrupted before its answer (shutdown): given back at once, its attempt not counted — its queue's
 * lock taken first, as the record's.
 */
const releaseDelivery = (sql: Sql) => (claimed: Claimed) =>
  sql`WITH queues AS MATERIALIZED (
        SELECT webhook_lock_queues(ARRAY[${claimed.id}::bigint]) AS n,
          set_config('synchronous_commit', 'off', true) AS async_commit
      )
      UPDATE webhook_deliveries d SET leased_until = NULL, lease_token = NULL, attempts = d.attempts - 1
      FROM queues q WHERE d.id = ${claimed.id}::bigint AND d.lease_token = ${claimed.lease_token}::uuid
        AND q.n >= 0`.pipe(Effect.ignore)

/** Seconds since the oldest event still waiting: not fanned out, or pending for an enabled subscription. */
const outboxLag = (sql: Sql) =>
  sql<{ lag: number }>`
    SELECT COALESCE(EXTRACT(EPOCH FROM now() - LEAST(
      (SELECT min(created_at) FROM outbox_events WHERE fanned_out_at IS NULL),
      (SELECT min(e.created_at) FROM webhook_deliveries d
         JOIN webhook_subscriptions s ON s.id = d.subscription_id AND s.enabled
         JOIN outbox_events e ON e.id = d.event_id
       WHERE d.status = 'pending'))), 0)::float8 AS lag`.pipe(Effect.map((rows) => rows[0]?.lag ?? 0))

/** Event bodies kept for the other subscriptions of the event (`bodyOf`). */
const BODY_CACHE = 2_048
/** How often the lag is measured (a gauge; the alert looks at minutes). */
const LAG_EVERY_MS = 2_000
/** After a fan-out that found events, the wait before the next: what arrives meanwhile goes in one statement. */
const FAN_OUT_GATHER_MS = 20
/** After a slot frees, how long the claim may wait for half of the slots to be free (one claim for several). */
const CLAIM_GATHER_MS = 5

/**
 * The loop's wake-up, without a fiber per wait: `signal()` resumes the wait under way, or, when none is, makes
 * the next one return at once (one signal kept, as a sliding queue of one); `wait(ms)` returns at a signal or
 * after `ms` (`Infinity`: only at a signal).
 */
const makeWake = () => {
  let signalled = false
  let waiting: (() => void) | undefined = undefined
  return {
    signal: () => {
      const resume = waiting
      if (resume === undefined) signalled = true
      else resume()
    },
    wait: (ms: number) =>
      Effect.async<void>((resume) => {
        if (signalled) {
          signalled = false
          return resume(Effect.void)
        }
        let timer: ReturnType<typeof setTimeout> | undefined = undefined
        const done = () => {
          clearTimeout(timer)
          waiting = undefined
          resume(Effect.void)
        }
        waiting = done
        if (ms !== Infinity) timer = setTimeout(done, Math.max(0, ms))
        return Effect.sync(() => {
          clearTimeout(timer)
          if (waiting === done) waiting = undefined
        })
      })
  }
}

export const makeDispatcher = (settings: DispatcherSettings) =>
  Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    const sender = yield* WebhookSender
    const metrics = yield* WebhookMetrics
    const cipher = makeCipher(settings.keyMaterial)
    const fanOut = fanOutEvents(sql)
    const claimWith = claimAndRecord(sql, settings)
    const recordBatch = recordAttempts(sql, settings)
    /**
     * Attempts waiting to be recorded, each with the deferred its delivery awaits — taken by the next claim (in its
     * statement) or, when no claim comes, by the recorder.
     */
    const toRecord: Array<Attempt & { readonly recorded: Deferred.Deferred<void, SqlError> }> = []
    const recorderWake = makeWake()
    /**
     * Takes what waits (up to `RECORD_BATCH`), runs `statement` with it and tells each delivery how its record went:
     * uninterruptible once taken, so no delivery waits for a record that was never made.
     */
    const withRecords = <A>(statement: (batch: ReadonlyArray<Attempt>) => Effect.Effect<A, SqlError>) =>
      Effect.uninterruptible(
        Effect.gen(function* () {
          const batch = toRecord.splice(0, RECORD_BATCH)
          const exit = yield* Effect.exit(statement(batch))
          for (const attempt of batch) yield* Deferred.done(attempt.recorded, Exit.asVoid(exit))
          return yield* exit
        })
      )
    /** Claims started, and whether one is under way: the recorder leaves the attempts waiting to them. */
    let claimsStarted = 0
    let claiming = false
    /**
     * A claim of up to `limit` deliveries whose statement first records the attempts waiting (migration 0029):
     * one statement and one commit for both.
     */
    const claim = (limit: number) =>
      Effect.suspend(() => {
        claimsStarted++
        claiming = true
        return toRecord.length === 0 ? claimWith(limit, []) : withRecords((batch) => claimWith(limit, batch))
      }).pipe(
        Effect.ensuring(
          Effect.sync(() => {
            claiming = false
          })
        )
      )
    /**
     * The recorder: the attempts no claim took — none started for `RECORD_WAIT_MS` while they waited, none under
     * way (the loop sleeps after a failed round, or is gone: the shutdown; a claim follows a freed slot within
     * `CLAIM_GATHER_MS` otherwise) — one statement at a time.
     */
    const recorder = Effect.gen(function* () {
      if (toRecord.length === 0) yield* recorderWake.wait(Infinity)
      const seen = claimsStarted
      yield* Effect.sleep(Duration.millis(RECORD_WAIT_MS))
      if (toRecord.length > 0 && !claiming && claimsStarted === seen) {
        yield* withRecords(recordBatch).pipe(Effect.ignore)
      }
    }).pipe(Effect.forever)
    /** The attempt queued for its record, then `queued` (its slot is free for the next claim), then its record. */
    const record = (claimed: Claimed, outcome: Outcome, queued: Effect.Effect<void>) =>
      Effect.flatMap(Deferred.make<void, SqlError>(), (recorded) =>
        Effect.gen(function* () {
          toRecord.push({ claimed, outcome, recorded })
          recorderWake.signal()
          yield* queued
          return yield* Deferred.await(recorded)
        })
      )
    const release = releaseDelivery(sql)

    /**
     * Each stored secret decrypted once (a rotation stores a new ciphertext, so a new key: it is decrypted then),
     * kept only while used — a deleted subscription's or an expired previous secret's plaintext is dropped within
     * minutes (`SecretCache.ts`, swept by `run`); bounded, as every cache here (`BoundedCache.ts`).
     */
    const plain = makeSecretCache((stored: string) => cipher.decrypt(stored))
    const decrypt = plain.get
    /**
     * Each event's body built once, for every subscription it goes to (the same bytes to each): the recent
     * events', one not used lately dropped first beyond `BODY_CACHE` (`BoundedCache.ts`).
     */
    const bodies = makeBoundedCache<string, string>({ max: BODY_CACHE })
    const bodyOf = (claimed: Claimed) => {
      let body = bodies.get(claimed.event_id)
      if (body === undefined) {
        body = JSON.stringify({
          id: claimed.event_id,
          type: claimed.type,
          created_at: claimed.event_created_at,
          data: claimed.data
        })
        bodies.set(claimed.event_id, body)
      }
      return body
    }

    /**
     * Send: signed with the current secret (and the previous one during a rotation's grace), then recorded; its slot
     * freed (`queued`) once its attempt waits for the record, so the claim that records it can fill the slot.
     */
    const deliver = (claimed: Claimed, queued: Effect.Effect<void>) =>
      Effect.gen(function* () {
        const secrets = [claimed.secret, claimed.previous_secret].flatMap((stored) =>
          stored === null ? [] : Option.toArray(decrypt(stored))
        )
        const body = bodyOf(claimed)
        const outcome =
          secrets.length === 0
            ? {
                ok: false,
                status: null,
                durationMs: 0,
                error: "the signing secret cannot be decrypted (WEBHOOK_SECRET_KEY changed?): rotate the secret"
              }
            : yield* sender.send({ url: claimed.url, id: claimed.event_id, body, secrets })
        yield* record(claimed, outcome, queued).pipe(Effect.uninterruptible)
        yield* metrics.attempt(
          outcome.ok ? "delivered" : claimed.attempts >= settings.maxAttempts ? "dead" : "failed",
          outcome.durationMs / 1000
        )
        return outcome
      }).pipe(Effect.onInterrupt(() => release(claimed)))

    /**
     * The fan-out on a fiber of its own, so its cost follows the outbox, not the deliveries: a full batch is
     * followed by the next at once, a partial one after `FAN_OUT_GATHER_MS` (the events of that while go in
     * one statement), an empty one after the poll interval; `fannedOut` wakes the claims. Every worker runs
     * it (the advisory lock lets one at a time work, the others find nothing), and each reads the outbox
     * itself: no worker skips events another one saw. A failed round is counted (`webhook_fanout_failures_total`)
     * and retried after a second.
     */
    const fanOutLoop = (fannedOut: () => void) =>
      Effect.gen(function* () {
        const fanned = yield* fanOut
        if (fanned > 0) {
          yield* metrics.eventsFannedOut(fanned)
          fannedOut()
        }
        if (fanned < FAN_OUT_BATCH) {
          yield* Effect.sleep(fanned > 0 ? Duration.millis(FAN_OUT_GATHER_MS) : settings.pollInterval)
        }
      }).pipe(
        Effect.catchAllCause((cause) =>
          Effect.zipRight(
            Effect.zipRight(metrics.fanOutFailed, Effect.logWarning("webhook fan-out failed", cause)),
            Effect.sleep(Duration.seconds(1))
          )
        ),
        Effect.forever
      )

    /**
     * The lag gauge, every `LAG_EVERY_MS` on a fiber of its own: measured whether or not the fan-out or the
     * deliveries work, so a fan-out that keeps failing shows as a growing lag (and its alert fires).
     */
    const lagLoop = Effect.flatMap(outboxLag(sql), metrics.lag).pipe(
      Effect.catchAllCause((cause) => Effect.logWarning("webhook outbox lag not measured", cause)),
      Effect.zipRight(Effect.sleep(Duration.millis(LAG_EVERY_MS))),
      Effect.forever
    )

    /**
     * The loop: deliveries in flight at once up to `WEBHOOK_CONCURRENCY`, each on its own fiber, and a slot
     * that frees is filled soon — a slow receiver holds its own slot, never the others' (no batch waits for
     * its slowest). Order per subscription and entity needs no bookkeeping here: a delivery in flight is
     * still `pending`, so the claim takes no later delivery of its subscription and entity until it is
     * recorded. Each step claims as many as there are free slots and starts them; then it waits for a free
     * slot when all are taken, or, when there was nothing more to claim, for a delivery to finish, new
     * deliveries fanned out or the poll interval; then up to `CLAIM_GATHER_MS` more for half of the slots to
     * be free, so that one claim fills several slots rather than one claim per finished delivery (each
     * statement costs the dispatcher about as much CPU as a request: bench/README.md, Webhooks). The waits are
     * a callback and a timer (`makeWake`), not fibers racing.
     */
    const run = Effect.gen(function* () {
      // forked before the deliveries' set, so it outlives them when the scope closes: an attempt sent during
      // the shutdown is still recorded
      yield* Effect.forkScoped(recorder)
      const inFlight = yield* FiberSet.make<unknown, never>()
      /** A wake-up: a delivery finished, or the fan-out made deliveries. */
      const wake = makeWake()
      yield* Effect.forkScoped(fanOutLoop(wake.signal))
      yield* Effect.forkScoped(lagLoop)
      yield* Effect.forkScoped(sweepSecretCaches(plain))
      const gatherSlots = Math.max(1, Math.ceil(settings.concurrency / 2))
      const pollMs = Duration.toMillis(settings.pollInterval)
      let busy = 0
      const start = (claimed: Claimed) => {
        busy++
        let holding = true
        /** Its slot freed once: when its attempt waits for the record, or when it ends without one. */
        const freed = Effect.sync(() => {
          if (holding) {
            holding = false
            busy--
            wake.signal()
          }
        })
        return FiberSet.run(
          inFlight,
          deliver(claimed, freed).pipe(
            // the attempt not recorded (PostgreSQL gone): its lease lapses and the delivery is sent again
            Effect.catchAllCause((cause) => Effect.logWarning("webhook delivery not recorded", cause)),
            Effect.ensuring(freed)
          )
        )
      }
      const step = Effect.gen(function* () {
        const free = settings.concurrency - busy
        const { claimed, released } = free > 0 ? yield* claim(free) : NOTHING_CLAIMED
        for (const delivery of claimed) yield* start(delivery)
        // its record released the next delivery of some queues, which its own claim could not see (its snapshot
        // was taken before the record): claimed at once by the next statement
        if (released > 0 && claimed.length < free) return
        yield* wake.wait(claimed.length >= free ? Infinity : pollMs)
        // then up to CLAIM_GATHER_MS more for half of the slots to be free
        const until = Date.now() + CLAIM_GATHER_MS
        while (settings.concurrency - busy < gatherSlots && Date.now() < until) yield* wake.wait(until - Date.now())
      })
      return yield* step.pipe(
        Effect.catchAllCause((cause) =>
          Effect.zipRight(Effect.logWarning("webhook dispatch round failed", cause), Effect.sleep(Duration.seconds(1)))
        ),
        Effect.forever
      )
    }).pipe(Effect.scoped, Effect.annotateLogs("component", "webhooks"))

    return { fanOut, claim, run } as const
  })

/**
 * The dispatcher as a fiber of the layer's scope (the worker process, or the server in-process), with the
 * retention of the history it leaves (`WebhookRetention.ts`).
 */
export const WebhookDispatcherLive = (settings: DispatcherSettings) =>
  Layer.merge(
    Layer.scopedDiscard(Effect.flatMap(makeDispatcher(settings), (dispatcher) => Effect.forkScoped(dispatcher.run))),
    WebhookRetentionLive({ ...RETENTION_DEFAULTS, retention: settings.retention })
  )
