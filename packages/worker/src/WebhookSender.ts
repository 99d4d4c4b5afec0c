/**
 * One webhook request (docs/decisions.md D16): a POST of the event's JSON with the Standard Webhooks
 * headers, within `WEBHOOK_TIMEOUT_SECONDS`, redirects not followed, and only to an address the SSRF rules
 * allow — checked on the address the connection is actually made to (the agent's `lookup`), so a name
 * cannot resolve to a public address for a check and a private one for the request.
 */
import type { WebhookSettings } from "@shum/infra/Config"
import { hostOf, isAllowedHost, refusedKind, urlProblem } from "@shum/infra/WebhookAddress"
import { signatureHeader } from "@shum/infra/WebhookSigning"
import { Context, Duration, Effect, Layer } from "effect"
import { lookup as dnsLookup, type LookupAddress } from "node:dns"
import * as http from "node:http"
import * as https from "node:https"
import { isIP, type LookupFunction } from "node:net"

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

/** `dns.lookup`, refusing a host whose addresses include one the rules forbid (unless the host is allowed). */
export const guardedLookup =
  (allowedHosts: ReadonlyArray<string>): LookupFunction =>
  (hostname, options, callback) => {
    dnsLookup(hostname, { ...options, all: true }, (error, addresses: Array<LookupAddress>) => {
      if (error !== null) return callback(error, "", 0)
      if (!isAllowedHost(allowedHosts, hostname)) {
        for (const { address } of addresses) {
          const kind = refusedKind(address)
          if (kind !== undefined) {
            return callback(new RefusedAddress(`${hostname} resolves to ${address}, a ${kind} address: refused`), "", 0)
          }
        }
      }
      if (options.all === true)
        return (callback as unknown as (e: null, a: Array<LookupAddress>) => void)(null, addresses)
      const first = addresses[0]
      return first === undefined
        ? callback(new RefusedAddress(`${hostname} has no address`), "", 0)
        : callback(null, first.address, first.family)
    })
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

/**
 * The request with `node:http`/`node:https` over keep-alive agents whose `lookup` applies the SSRF rules — not
 * the platform's HTTP client: one request is all a delivery needs, and its fibers, spans and abort signals
 * were most of a delivery's CPU. Within `timeoutMs` from the request to the end of the answer's read (at
 * most `MAX_RESPONSE_BYTES`; the connection is closed when there is more); interrupted, the request is
 * destroyed. Redirects are never followed (`node:http` does not).
 */
const post = (
  agents: { readonly http: http.Agent; readonly https: https.Agent },
  url: URL,
  headers: Record<string, string>,
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
    const secure = url.protocol === "https:"
    let request: http.ClientRequest
    try {
      request = (secure ? https : http).request(
        url,
        {
          method: "POST",
          agent: secure ? agents.https : agents.http,
          headers: { ...headers, "content-type": "application/json", "content-length": Buffer.byteLength(body) }
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
      const send = (message: Message): Effect.Effect<Outcome> =>
        Effect.suspend(() => {
          const problem = urlProblem(message.url, settings.allowedHosts)
          if (problem !== undefined) {
            return Effect.succeed<Outcome>({ ok: false, status: null, durationMs: 0, error: `refused: ${problem}` })
          }
          const url = new URL(message.url)
          const host = hostOf(url)
          // the lookup is not consulted for an address literal: checked here instead
          if (isIP(host) !== 0 && !isAllowedHost(settings.allowedHosts, host) && refusedKind(host) !== undefined) {
            return Effect.succeed<Outcome>({
              ok: false,
              status: null,
              durationMs: 0,
              error: `refused: the address ${host} is ${refusedKind(host)}`
            })
          }
          const timestamp = Math.floor(Date.now() / 1000)
          const headers = {
            "user-agent": USER_AGENT,
            "webhook-id": message.id,
            "webhook-timestamp": String(timestamp),
            "webhook-signature": signatureHeader(message.secrets, message.id, timestamp, message.body)
          }
          return post(agents, url, headers, message.body, timeoutMs)
        }).pipe(
          // anything else that throws on the way (a refused request is already a failed attempt in `post`)
          Effect.catchAllDefect((defect) =>
            Effect.succeed<Outcome>({ ok: false, status: null, durationMs: 0, error: reason(defect) })
          )
        )
      return WebhookSender.of({ send })
    })
  )
