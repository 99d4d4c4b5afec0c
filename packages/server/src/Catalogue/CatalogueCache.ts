/**
 * The catalogue read cache (docs/decisions.md D7): the encoded bodies of the catalogue's `GET`s kept in
 * process memory, each stamped with the catalogue's version it was read under, and served only while
 * PostgreSQL still holds that version — so a hit is byte for byte what the database would answer.
 *
 * - The version (`catalogue_version`, migration 0015, docs/data.md §1.13c) is raised in the same transaction
 *   as every write to a table these answers read, whichever replica, tool or script wrote it. Every request
 *   reads it (`SELECT version FROM catalogue_version`), and a cached answer is used only when stamped with
 *   exactly the version read; otherwise the endpoint runs as always and its answer is kept, stamped with
 *   that version, which was read before the answer's own statement started (a write committed in between
 *   leaves the answer newer than its stamp: it can only miss later, never be stale).
 * - Reads of the version are shared: a request waits for the next read that starts after it arrived, and one
 *   read serves every request that arrived before it started. Any write committed before a request arrived is
 *   committed before that read starts, so the request sees it. At most one read runs at a time; under load
 *   one statement serves many requests, and a lone request costs one short statement instead of its query.
 * - A new version empties the cache (every kept answer is from an older one); otherwise the least recently
 *   used answers go first beyond `CATALOGUE_CACHE_MAX_ENTRIES` or `CATALOGUE_CACHE_MAX_MB` (one budget for
 *   the answers and their raw targets below: `AnswerStore`).
 * - Only `200` answers are kept; errors (404, 422) run as before. The key is the endpoint and its decoded
 *   parameters (path and query), so spellings of one request share an answer and nothing else — the
 *   answers depend on nothing but those and the database (no caller, no clock).
 * - The kept answer's strong `ETag` is computed once (`Http/Etag.ts`), so a hit, `304` or not, hashes nothing.
 * - The lists' answers are kept under their raw `GET` target too, once that target was decoded and answered:
 *   `early` gives them before the router (`Catalogue/CatalogueEarly.ts`), under the same version rule. A target
 *   shares its answer's body (counted once) and is dropped with it.
 * - `CATALOGUE_CACHE_ENABLED=false` runs every read as if there were no cache (no version read either).
 * - `cache_hits_total{namespace="catalogue"}`, `cache_misses_total{namespace="catalogue"}` and
 *   `catalogue_cache_version_reads_total` (`Metrics.ts`).
 */
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import { AppConfig } from "@shum/infra/Config"
import { PgPool, runDirect } from "@shum/infra/DirectStatements"
import { Deferred, Effect, FiberId, Runtime } from "effect"
import { rememberEtag } from "../Http/Etag.js"
import { Metrics } from "../Metrics.js"

/** The endpoints whose answers are kept (`group.endpoint`, as `Http/RouteTable.ts` names them). */
export type CachedEndpoint = "hotels.list" | "hotels.get" | "rooms.list" | "rooms.get"

interface Entry {
  /** The key it is kept under in `AnswerStore` (a hit moves it there). */
  readonly key: string
  readonly version: number
  /**
   * The answer of a hit, built once when the answer was kept: the `200` response the uncached endpoint gives
   * (its body, `Content-Type`), so a hit allocates nothing (issue 18, bench/README.md).
   */
  readonly answer: Effect.Effect<HttpServerResponse.HttpServerResponse>
  /** The same response, for the early answer (`early`, `Catalogue/CatalogueEarly.ts`). */
  readonly response: HttpServerResponse.HttpServerResponse
  /** Its body, key and `ENTRY_OVERHEAD`, plus each of its `targets`' own bytes (`targetBytes`). */
  bytes: number
  /** The raw targets it is also kept under (`AnswerStore.alias`); dropped with it. */
  targets: Array<string> | undefined
}

/**
 * The version's read: on the pool straight from its text (`DirectStatements.ts`: the same connection, `SqlError`s,
 * `db_*` metrics and span as through `@effect/sql`, without building the statement per read).
 */
const VERSION_STATEMENT = "SELECT version FROM catalogue_version"

/** Rough per-entry overhead (the Map's slot, the entry object), added to the body and the key. */
const ENTRY_OVERHEAD = 96

/** Rough per-target overhead (the Map's slot, the array's), added to the target's own characters. */
const TARGET_OVERHEAD = 48

/** What an answer takes of the budget before any raw target: its body, its key and `ENTRY_OVERHEAD`. */
export const entryBytes = (key: string, body: Uint8Array) => body.byteLength + key.length * 2 + ENTRY_OVERHEAD

/** What a raw target adds to its answer's bytes: its characters and `TARGET_OVERHEAD`, never the body again. */
/** At most this many raw targets alias one answer (docs/operations.md); further spellings are not aliased. */
export const MAX_TARGETS_PER_ANSWER = 4

export const targetBytes = (target: string) => target.length * 2 + TARGET_OVERHEAD

/** `{ b: 1, a: "x", c: undefined }` → `&a="x"&b=1`: one key however the parameters were spelled or ordered. */
export const keyOf = (endpoint: CachedEndpoint, params: Readonly<Record<string, unknown>>): string => {
  let key: string = endpoint
  for (const name of Object.keys(params).sort()) {
    const value = params[name]
    if (value !== undefined) key += `&${name}=${JSON.stringify(value)}`
  }
  return key
}

/**
 * The kept answers of one version, least recently used first (a `Map` keeps insertion order; a hit moves its
 * entry to the end), bounded by entries and by bytes (body, key and `ENTRY_OVERHEAD`, and the raw targets').
 *
 * An answer may also be kept under raw request targets (`alias`, for `early`): a target points at its answer's
 * entry and shares its body, so the body's bytes are counted once and the target adds only its own
 * (`targetBytes`) to the same budget; there are at most `maxEntries` targets as well. One eviction policy for
 * both: the least recently used answer goes, and its targets with it — a target never outlives its answer, so
 * an evicted answer is never served early, and `maxBytes` (`CATALOGUE_CACHE_MAX_MB`) bounds the whole.
 */
export class AnswerStore {
  private readonly entries = new Map<string, Entry>()
  private readonly byTarget = new Map<string, Entry>()
  private total = 0

  constructor(
    private readonly maxEntries: number,
    private readonly maxBytes: number
  ) {}

  get size() {
    return { entries: this.entries.size, bytes: this.total, targets: this.byTarget.size }
  }

  has(key: string): boolean {
    return this.entries.has(key)
  }

  /** The entry of `key` if it was kept under `version`, now the most recently used. */
  get(key: string, version: number): Entry | undefined {
    const entry = this.entries.get(key)
    if (entry === undefined || entry.version !== version) return undefined
    this.entries.delete(key)
    this.entries.set(key, entry)
    return entry
  }

  /** The entry kept under the raw `target` (`alias`), whatever its version; `undefined` if none. */
  target(target: string): Entry | undefined {
    return this.byTarget.get(target)
  }

  /**
   * `entry` (from `target`) if it is still kept and was kept under `version`, now the most recently used — the
   * check after the version's read: an answer evicted or replaced meanwhile is no hit.
   */
  touch(entry: Entry, version: number): boolean {
    if (entry.version !== version || this.entries.get(entry.key) !== entry) return false
    this.entries.delete(entry.key)
    this.entries.set(entry.key, entry)
    return true
  }

  set(key: string, version: number, body: Uint8Array, contentType: string): Entry | undefined {
    const bytes = entryBytes(key, body)
    this.delete(key)
    if (bytes > this.maxBytes) return undefined
    const response = HttpServerResponse.uint8Array(body, { contentType })
    const entry: Entry = { key, version, answer: Effect.succeed(response), response, bytes, targets: undefined }
    this.entries.set(key, entry)
    this.total += bytes
    this.evict()
    return this.entries.get(key)
  }

  /**
   * Keeps the kept `entry` under the raw `target` as well (nothing if it already is, if `entry` is no longer
   * kept, if it already has MAX_TARGETS_PER_ANSWER targets, or if the target's bytes would go beyond the byte
   * bound): the target's bytes join its answer's. Aliasing never evicts an answer; a spelling not aliased takes
   * the normal path and is still answered from the cache by its canonical key.
   */
  alias(target: string, entry: Entry): void {
    if (this.byTarget.has(target) || this.entries.get(entry.key) !== entry) return
    if (entry.targets !== undefined && entry.targets.length >= MAX_TARGETS_PER_ANSWER) return
    const bytes = targetBytes(target)
    if (this.total + bytes > this.maxBytes) return
    this.byTarget.set(target, entry)
    ;(entry.targets ??= []).push(target)
    entry.bytes += bytes
    this.total += bytes
  }

  delete(key: string): void {
    const entry = this.entries.get(key)
    if (entry !== undefined) this.drop(entry)
  }

  clear(): void {
    this.entries.clear()
    this.byTarget.clear()
    this.total = 0
  }

  /** The least recently used answers, with their targets, until every bound holds. */
  private evict(): void {
    for (const entry of this.entries.values()) {
      if (this.entries.size <= this.maxEntries && this.total <= this.maxBytes) {
        break
      }
      this.drop(entry)
    }
  }

  private drop(entry: Entry): void {
    this.entries.delete(entry.key)
    if (entry.targets !== undefined) for (const target of entry.targets) this.byTarget.delete(target)
    this.total -= entry.bytes
  }
}

/**
 * `read`, shared: each call waits for a run of `read` that starts after the call, and one run answers every
 * call made before it started. At most one runs at a time: calls made while one runs wait for the next, which
 * starts when it ends. (Joining the running one would be wrong: it may have read before a write the caller
 * saw committed.)
 */
export const sharedReads = <A, E>(read: Effect.Effect<A, E>): Effect.Effect<Effect.Effect<A, E>> =>
  Effect.map(Effect.runtime<never>(), (runtime) => {
    const runFork = Runtime.runFork(runtime)
    let running = false
    let next: Deferred.Deferred<A, E> | undefined

    const start = (done: Deferred.Deferred<A, E>) => {
      running = true
      runFork(
        Effect.flatMap(Effect.exit(read), (exit) => {
          running = false
          const waiting = next
          next = undefined
          if (waiting !== undefined) start(waiting)
          return Deferred.done(done, exit)
        })
      )
    }

    return Effect.suspend(() => {
      if (!running) {
        const done = Deferred.unsafeMake<A, E>(FiberId.none)
        start(done)
        return Deferred.await(done)
      }
      next ??= Deferred.unsafeMake<A, E>(FiberId.none)
      return Deferred.await(next)
    })
  })

export class CatalogueCache extends Effect.Service<CatalogueCache>()("server/CatalogueCache", {
  effect: Effect.gen(function* () {
    const { catalogueCache: settings } = yield* AppConfig
    const pool = yield* PgPool
    const metrics = yield* Metrics

    /**
     * The answers, and the same answers by raw request target (`GET`, path and query as sent, after `ROOT_PATH`)
     * once that very target was decoded by its endpoint and answered `200`: what `early` answers before the
     * router. A target shares its answer's entry (its bytes counted once, in the same budget) and goes with it.
     */
    const store = new AnswerStore(settings.maxEntries, settings.maxBytes)
    /** The version the last read returned; entries of any other are dead. */
    let latest: number | undefined
    const counts = { hits: 0, misses: 0, versionReads: 0, early: 0 }

    const readVersion = Effect.suspend(() => {
      counts.versionReads++
      metrics.cache.versionRead()
      return runDirect<{ version: number | string }>(pool, VERSION_STATEMENT, [])
    }).pipe(
      Effect.map((rows) => Number(rows[0]!.version)),
      Effect.tap((version) =>
        Effect.sync(() => {
          if (version !== latest) {
            store.clear()
            latest = version
          }
        })
      ),
      Effect.orDie
    )

    const currentVersion = yield* sharedReads(readVersion)

    const keep = (
      key: string,
      version: number,
      response: HttpServerResponse.HttpServerResponse,
      target: string | undefined
    ) => {
      // a newer version was read meanwhile: this answer can never be served
      if (version !== latest || response.status !== 200 || response.body._tag !== "Uint8Array") return
      rememberEtag(response.body.body)
      const entry = store.set(key, version, response.body.body, response.body.contentType)
      if (target !== undefined && entry !== undefined) store.alias(target, entry)
    }

    /**
     * The kept answer of this raw `GET` target, before the router (`Catalogue/CatalogueEarly.ts`): `undefined`
     * when the target was never answered through its endpoint, else an effect reading the version as every
     * request does (the same shared read, the same rule: only an answer stamped with the version read) and
     * giving the kept response, or `undefined` for the router to answer (an older version's, or evicted).
     */
    const early = (target: string): Effect.Effect<HttpServerResponse.HttpServerResponse | undefined> | undefined => {
      const entry = store.target(target)
      if (entry === undefined) return undefined
      return Effect.map(currentVersion, (version) => {
        if (!store.touch(entry, version)) return undefined
        counts.hits++
        counts.early++
        metrics.cache.hit()
        return entry.response
      })
    }

    /**
     * The endpoint's answer: the kept one when it was read under the current version, else `answer()`, run and
     * kept. `answer` makes the endpoint's whole success response (a JSON body, `Http/PreEncoded.ts`); it is not
     * even built on a hit (building a statement costs).
     */
    const serve = <E, R>(
      endpoint: CachedEndpoint,
      params: Readonly<Record<string, unknown>>,
      answer: () => Effect.Effect<HttpServerResponse.HttpServerResponse, E, R>,
      /** the raw `GET` target (`request.url`) whose decoding gave `params`: its answer is kept under it too */
      target?: string
    ): Effect.Effect<HttpServerResponse.HttpServerResponse, E, R> =>
      Effect.flatMap(currentVersion, (version) => {
        const key = keyOf(endpoint, params)
        const entry = store.get(key, version)
        if (entry !== undefined) {
          counts.hits++
          metrics.cache.hit()
          if (target !== undefined) store.alias(target, entry)
          return entry.answer
        }
        counts.misses++
        metrics.cache.miss()
        return Effect.tap(answer(), (response) => Effect.sync(() => keep(key, version, response, target)))
      })

    const uncached = <E, R>(
      _endpoint: CachedEndpoint,
      _params: Readonly<Record<string, unknown>>,
      answer: () => Effect.Effect<HttpServerResponse.HttpServerResponse, E, R>,
      _target?: string
    ) => answer()

    return {
      serve: settings.enabled ? serve : uncached,
      early: settings.enabled ? early : () => undefined,
      /** What is kept now and what happened so far (tests; `early`: the hits answered before the router). */
      stats: () => ({ ...store.size, ...counts })
    } as const
  })
}) {}
