/**
 * One webhook request (docs/decisions.md D16): a POST of the event's JSON with the Standard Webhooks
 * headers, within `WEBHOOK_TIMEOUT_SECONDS`, redirects not followed, and only to an address the SSRF rules
 * allow — checked on the address the connection is actually made to (the agent's `lookup`), so a name
 * cannot resolve to a public address for a check and a private one for the request.
 */
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import type { WebhookSettings } from "@shum/infra/Config"
import { hostOf, isAllowedHost, refusedKind, urlProblem } from "@shum/infra/WebhookAddress"
import { signatureHeader } from "@shum/infra/WebhookSigning"
import { Cause, Context, Duration, Effect, Layer, Option, Stream } from "effect"
import { lookup as dnsLookup, type LookupAddress } from "node:dns"
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

/** The deepest message of a failure (the transport's, rather than the client's generic one). */
const reason = (cause: Cause.Cause<unknown>): string => {
  const failure = Option.getOrUndefined(Cause.failureOption(cause)) ?? Cause.squash(cause)
  let error: unknown = failure
  while (typeof error === "object" && error !== null && "cause" in error && error.cause !== undefined) {
    error = error.cause
  }
  if (error instanceof Error) return error.message
  return typeof failure === "object" && failure !== null && "message" in failure
    ? String(failure.message)
    : String(failure)
}

export const WebhookSenderLive = (settings: Pick<WebhookSettings, "allowedHosts" | "timeout">) =>
  Layer.scoped(
    WebhookSender,
    Effect.gen(function* () {
      // an agent and client of its own (not shared Layers, which a build would share with other users)
      const agent = yield* NodeHttpClient.makeAgent({ lookup: guardedLookup(settings.allowedHosts), keepAlive: true })
      const client = yield* Effect.provideService(NodeHttpClient.make, NodeHttpClient.HttpAgent, agent)
      const send = (message: Message): Effect.Effect<Outcome> =>
        Effect.gen(function* () {
          const started = Date.now()
          const elapsed = () => Date.now() - started
          const problem = urlProblem(message.url, settings.allowedHosts)
          if (problem !== undefined) return { ok: false, status: null, durationMs: 0, error: `refused: ${problem}` }
          const url = new URL(message.url)
          const host = hostOf(url)
          // the lookup is not consulted for an address literal: checked here instead
          if (isIP(host) !== 0 && !isAllowedHost(settings.allowedHosts, host) && refusedKind(host) !== undefined) {
            return {
              ok: false,
              status: null,
              durationMs: 0,
              error: `refused: the address ${host} is ${refusedKind(host)}`
            }
          }
          const timestamp = Math.floor(Date.now() / 1000)
          const request = HttpClientRequest.post(message.url).pipe(
            HttpClientRequest.setHeaders({
              "user-agent": USER_AGENT,
              "webhook-id": message.id,
              "webhook-timestamp": String(timestamp),
              "webhook-signature": signatureHeader(message.secrets, message.id, timestamp, message.body)
            }),
            HttpClientRequest.bodyText(message.body, "application/json")
          )
          return yield* client.execute(request).pipe(
            Effect.tap((response) =>
              response.stream.pipe(
                Stream.runFoldWhile(
                  0,
                  (read) => read < MAX_RESPONSE_BYTES,
                  (read, chunk) => read + chunk.length
                ),
                Effect.ignore
              )
            ),
            Effect.scoped,
            Effect.timeoutFail({
              duration: settings.timeout,
              onTimeout: () => new Error(`no answer within ${Duration.toSeconds(settings.timeout)} s`)
            }),
            Effect.map((response): Outcome =>
              response.status >= 200 && response.status < 300
                ? { ok: true, status: response.status, durationMs: elapsed(), error: null }
                : {
                    ok: false,
                    status: response.status,
                    durationMs: elapsed(),
                    error:
                      response.status >= 300 && response.status < 400
                        ? `status ${response.status}: redirects are not followed`
                        : `status ${response.status}`
                  }
            ),
            Effect.catchAllCause((cause) =>
              Effect.succeed<Outcome>({ ok: false, status: null, durationMs: elapsed(), error: reason(cause) })
            )
          )
        })
      return WebhookSender.of({ send })
    })
  )
