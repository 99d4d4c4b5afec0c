/**
 * One webhook request (docs/decisions.md D16): a POST of the event's JSON with the Standard Webhooks
 * headers, within `WEBHOOK_TIMEOUT_SECONDS`, redirects not followed, and only to an address the SSRF rules
 * allow — checked on the address the connection is actually made to (the agent's `lookup`), so a name
 * cannot resolve to a public address for a check and a private one for the request.
 */
import type { WebhookSettings } from "@shum/infra/Config"
import { hostOf, isAllowedHost, refusedKind, urlProblem } from "@shum/infra/WebhookAddress"
import { signatureHeader, signingKey } from "@shum/infra/WebhookSigning"
import { Context, Duration, Effect, Layer } from "effect"
import { lookup as dnsLookup, type LookupAddress, type LookupAllOptions } from "node:dns"
import * as http from "node:http"
import * as https from "node:https"
import { isIP, type LookupFunction } from "node:net"
import { makeBoundedCache } from "./BoundedCache.js"
import { makeSecretCache, sweepSecretCaches } from "./SecretCache.js"

export const USER_AGENT = "Shum-Booking-Webhooks/1.0.3"

/**
 * How much of a receiver's answer is read (and thrown away; its status is what counts). A receiver that
 * answers with an endless or huge body costs this much memory and no more: the rest is never read, and the
 * connection is closed with the request's scope.
 */
export const MAX_RESPONSE_BYTES = 64 * 1024

export interface Message {
  readonly url: string
  /** The event's id: `webhook-id`, the same on every attempt (receivers deduplicate by it). */
  readonly id: string
  readonly body: string
  /** Current secret first; the previous one too during a rotation's grace period. */
  readonly secrets: ReadonlyArray<string>
}

export interface Outcome {
  readonly ok: boolean
  /** The receiver's status, when it answered. */
  readonly status: number | null
  readonly durationMs: number
  readonly error: string | null
}

class RefusedAddress extends Error {
  readonly code = "EWEBHOOKADDRESS"
}

/** How long a host's resolved and checked addresses are reused by `guardedLookup` (new connections only). */
export const LOOKUP_TTL_MS = 5_000

/** What `guardedLookup` resolves a name with (`dns.lookup` with `all: true`); a test passes its own. */
export type Resolver = (
  hostname: string,
  options: LookupAllOptions,
  callback: (error: NodeJS.ErrnoException | null, addresses: Array<LookupAddress>) => void
) => void

const dnsResolver: Resolver = (hostname, options, callback) => dnsLookup(hostname, options, callback)

/** The most hosts (by address family) whose checked addresses `guardedLookup` keeps. */
const LOOKUP_CACHE = 1_000

/**
 * `dns.lookup`, refusing a host whose addresses include one the rules forbid (unless the host is allowed). A
 * host's addresses are resolved and checked once per `ttlMs` and reused for the connections opened meanwhile: the
 * addresses reused are the ones checked, so the address connected to is still one that was checked; a refusal
 * or a failed resolution is not kept (the next connection resolves again). Kept in a `BoundedCache` aging from
 * the resolution (a host in use is still resolved again every `ttlMs`). `resolve` and `now` (epoch ms) are
 * `dns.lookup` and `Date.now` but in tests.
 */
export const guardedLookup = (
  allowedHosts: ReadonlyArray<string>,
  ttlMs: number = LOOKUP_TTL_MS,
  resolve: Resolver = dnsResolver,
  now: () => number = Date.now
): LookupFunction => {
  const checked = makeBoundedCache<string, Array<LookupAddress>>({ max: LOOKUP_CACHE, ttlMs, now })
  const answer = (
    options: Parameters<LookupFunction>[1],
    callback: Parameters<LookupFunction>[2],
    hostname: string,
    addresses: Array<LookupAddress>
  ) => {
    if (options.all === true)
      return (callback as unknown as (e: null, a: Array<LookupAddress>) => void)(null, addresses)
    const first = addresses[0]
    return first === undefined
      ? callback(new RefusedAddress(`${hostname} has no address`), "", 0)
      : callback(null, first.address, first.family)
  }
  return (hostname, options, callback) => {
    const key = `${options.family ?? 0}/${hostname}`
    const cached = checked.get(key)
    if (cached !== undefined) return answer(options, callback, hostname, cached)
    resolve(hostname, { ...options, all: true }, (error, addresses) => {
      if (error !== null) return callback(error, "", 0)
      if (!isAllowedHost(allowedHosts, hostname)) {
        for (const { address } of addresses) {
          const kind = refusedKind(address)
          if (kind !== undefined) {
            checked.delete(key)
            return callback(new RefusedAddress(`${hostname} resolves to ${address}, a ${kind} address: refused`), "", 0)
          }
        }
      }
      checked.set(key, addresses)
      return answer(options, callback, hostname, addresses)
    })
  }
}

export class WebhookSender extends Context.Tag("worker/WebhookSender")<
  WebhookSender,
  { readonly send: (message: Message) => Effect.Effect<Outcome> }
>() {}

/** The deepest message of a failure (the transport's, rather than a wrapper's). */
const reason = (failure: unknown): string => {
  let error: unknown = failure
  while (typeof error === "object" && error !== null && "cause" in error && error.cause !== undefined) {
    error = error.cause
  }
  if (error instanceof Error) return error.message
  return String(error)
}

/** The outcome of an answer with `status`: 2xx delivered; anything else a failure, a redirect never followed. */
const answered = (status: number, durationMs: number): Outcome =>
  status >= 200 && status < 300
    ? { ok: true, status, durationMs, error: null }
    : {
        ok: false,
        status,
        durationMs,
        error: status >= 300 && status < 400 ? `status ${status}: redirects are not followed` : `status ${status}`
      }

/** Where a URL's requests go: `node:http`'s options for it, made once per URL. */
interface Target {
  readonly secure: boolean
  readonly options: {
    readonly protocol: string
    readonly hostname: string
    readonly port: string
    readonly path: string
  }
}

/**
 * A URL's target, or why it is refused (the attempt's error): the URL's rules (`urlProblem`), and an address
 * literal's kind (the lookup is not consulted for one: checked here instead). Depends on the URL and the
 * allowed hosts alone, so a sender makes it once per URL; a name's addresses are checked by the lookup at each
 * connection.
 */
const checkedTarget = (raw: string, allowedHosts: ReadonlyArray<string>): Target | string => {
  const problem = urlProblem(raw, allowedHosts)
  if (problem !== undefined) return `refused: ${problem}`
  const url = new URL(raw)
  const host = hostOf(url)
  if (isIP(host) !== 0 && !isAllowedHost(allowedHosts, host) && refusedKind(host) !== undefined) {
    return `refused: the address ${host} is ${refusedKind(host)}`
  }
  return {
    secure: url.protocol === "https:",
    options: {
      protocol: url.protocol,
      // node:http wants an IPv6 literal without its brackets
      hostname: url.hostname.startsWith("[") ? url.hostname.slice(1, -1) : url.hostname,
      port: url.port,
      path: url.pathname + url.search
    }
  }
}

/** The most URLs whose checked target a sender keeps. */
const TARGET_CACHE = 1_000

/**
 * The request with `node:http`/`node:https` over keep-alive agents whose `lookup` applies the SSRF rules — not
 * the platform's HTTP client: one request is all a delivery needs, and its fibers, spans and abort signals
 * were most of a delivery's CPU. Within `timeoutMs` from the request to the end of the answer's read (at
 * most `MAX_RESPONSE_BYTES`; the connection is closed when there is more); interrupted, the request is
 * destroyed. Redirects are never followed (`node:http` does not).
 */
const post = (
  agents: { readonly http: http.Agent; readonly https: https.Agent },
  target: Target,
  headers: Record<string, string | number>,
  body: string,
  timeoutMs: number
) =>
  Effect.async<Outcome>((resume) => {
    const started = Date.now()
    let settled = false
    let timer: ReturnType<typeof setTimeout> | undefined = undefined
    const settle = (outcome: Outcome) => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      resume(Effect.succeed(outcome))
    }
    const failed = (error: unknown) =>
      settle({ ok: false, status: null, durationMs: Date.now() - started, error: reason(error) })
    const secure = target.secure
    let request: http.ClientRequest
    try {
      request = (secure ? https : http).request(
        {
          ...target.options,
          method: "POST",
          agent: secure ? agents.https : agents.http,
          headers
        },
        (response) => {
          let read = 0
          const status = response.statusCode ?? 0
          const end = () => settle(answered(status, Date.now() - started))
          response.on("data", (chunk: Buffer) => {
            read += chunk.length
            if (read >= MAX_RESPONSE_BYTES) {
              // the rest is never read: the connection goes
              response.destroy()
              end()
            }
          })
          response.on("end", end)
          // an answer cut short: its status is what counts
          response.on("error", end)
          response.on("close", end)
        }
      )
    } catch (error) {
      // a request `node:http` refuses to make (an invalid header or path): a failed attempt like any other,
      // and no timer left behind to destroy a request that does not exist
      failed(error)
      return
    }
    // started only once the request exists, so its callback always has one to destroy
    timer = setTimeout(() => {
      failed(new Error(`no answer within ${timeoutMs / 1000} s`))
      request.destroy()
    }, timeoutMs)
    request.on("error", failed)
    request.end(body)
    return Effect.sync(() => {
      settled = true
      clearTimeout(timer)
      request.destroy()
    })
  })

export const WebhookSenderLive = (settings: Pick<WebhookSettings, "allowedHosts" | "timeout">) =>
  Layer.scoped(
    WebhookSender,
    Effect.gen(function* () {
      // agents of its own, closed with the layer
      const agents = yield* Effect.acquireRelease(
        Effect.sync(() => {
          const lookup = guardedLookup(settings.allowedHosts)
          return {
            http: new http.Agent({ keepAlive: true, lookup }),
            https: new https.Agent({ keepAlive: true, lookup })
          }
        }),
        (agents) =>
          Effect.sync(() => {
            agents.http.destroy()
            agents.https.destroy()
          })
      )
      const timeoutMs = Duration.toMillis(settings.timeout)
      /** Each URL's check and request options, made once (they depend on the URL and the settings alone). */
      const targets = makeBoundedCache<string, Target | string>({ max: TARGET_CACHE })
      const check = (raw: string) => checkedTarget(raw, settings.allowedHosts)
      const targetOf = (raw: string): Target | string => targets.getOrMake(raw, check)
      /**
       * Each secret's HMAC key object, imported once (`signingKey`) and kept only while used: a deleted
       * subscription's or a rotated secret's is dropped within minutes (`SecretCache.ts`).
       */
      const keys = makeSecretCache(signingKey)
      yield* Effect.forkScoped(sweepSecretCaches(keys))
      const keyOf = keys.get
      const send = (message: Message): Effect.Effect<Outcome> =>
        Effect.suspend(() => {
          const target = targetOf(message.url)
          if (typeof target === "string") {
            return Effect.succeed<Outcome>({ ok: false, status: null, durationMs: 0, error: target })
          }
          const timestamp = Math.floor(Date.now() / 1000)
          const headers = {
            "user-agent": USER_AGENT,
            "webhook-id": message.id,
            "webhook-timestamp": String(timestamp),
            "webhook-signature": signatureHeader(message.secrets.map(keyOf), message.id, timestamp, message.body),
            "content-type": "application/json",
            "content-length": Buffer.byteLength(message.body)
          }
          return post(agents, target, headers, message.body, timeoutMs)
        }).pipe(
          // anything else that throws on the way (a refused request is already a failed attempt in `post`)
          Effect.catchAllDefect((defect) =>
            Effect.succeed<Outcome>({ ok: false, status: null, durationMs: 0, error: reason(defect) })
          )
        )
      return WebhookSender.of({ send })
    })
  )
