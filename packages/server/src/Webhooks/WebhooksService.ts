/**
 * Webhook subscriptions (docs/api.md §14; docs/decisions.md D16): URLs checked against the SSRF rules,
 * secrets made here, shown once and stored encrypted; deliveries listed and queued again.
 */
import { NotFound, ValidationError } from "@shum/domain/Errors"
import { Messages } from "@shum/domain/Messages"
import {
  Webhook,
  WebhookAttempt,
  WebhookCreated,
  WebhookDelivery,
  WebhookDeliveryPage,
  WebhookSecret,
  type DeliveryStatus,
  type WebhookCreate,
  type WebhookPatch
} from "@shum/domain/Webhooks"
import { AppConfig } from "@shum/infra/Config"
import { urlProblem } from "@shum/infra/WebhookAddress"
import { generateSecret, makeCipher } from "@shum/infra/WebhookSigning"
import { Effect, Option } from "effect"
import { randomUUID } from "node:crypto"
import { AuditTrail } from "../Audit/AuditTrail.js"
import { WebhooksRepo, type DeliveryRow } from "./WebhooksRepo.js"

const DEFAULT_GRACE_SECONDS = 86_400
const DEFAULT_PAGE = 20

const notFound = () => new NotFound({ detail: Messages.webhookNotFound })
const deliveryNotFound = () => new NotFound({ detail: Messages.webhookDeliveryNotFound })

const toDelivery = (row: DeliveryRow) =>
  new WebhookDelivery({ ...row, attempts_log: row.attempts_log.map((attempt) => new WebhookAttempt(attempt)) })

export class WebhooksService extends Effect.Service<WebhooksService>()("server/WebhooksService", {
  effect: Effect.gen(function* () {
    const repo = yield* WebhooksRepo
    // every write leaves its audit row, in its transaction (docs/decisions.md D17); secrets are redacted
    const audit = yield* AuditTrail
    /** A delivery queued by the admin (ping, redeliver): the row and its audit row commit together. */
    const queued = (id: number, action: string, queue: Effect.Effect<DeliveryRow>, from?: number) =>
      Effect.tap(queue, (delivery) =>
        audit.recordAdmin({
          action,
          entity: "webhook",
          entityId: id,
          changes: {
            delivery_id: { after: delivery.id },
            event_id: { after: delivery.event_id },
            ...(from === undefined ? {} : { redelivery_of: { after: from } })
          }
        })
      ).pipe(audit.transaction, Effect.orDie)
    const { webhooks: settings } = yield* AppConfig
    const cipher = makeCipher(settings.keyMaterial)

    /** A refused URL is a 422 at `url`, as a schema failure would be. */
    const checkUrl = (url: string | undefined) => {
      const problem = url === undefined ? undefined : urlProblem(url, settings.allowedHosts)
      return problem === undefined
        ? Effect.void
        : Effect.fail(
            new ValidationError({
              detail: [{ type: "value_error", loc: ["body", "url"], msg: `Value error, ${problem}`, input: url }]
            })
          )
    }

    const existing = (id: number) =>
      Effect.flatMap(repo.find(id), Option.match({ onNone: () => Effect.fail(notFound()), onSome: Effect.succeed }))

    const create = Effect.fn("Webhooks.create")(function* (body: WebhookCreate) {
      yield* checkUrl(body.url)
      const secret = generateSecret()
      const row = yield* audit.write(
        { action: "webhook.created", entity: "webhook", idOf: (row) => row.id },
        repo.create(body, cipher.encrypt(secret))
      )
      return new WebhookCreated({ ...row, secret })
    })

    const list = Effect.map(repo.list, (rows) => rows.map((row) => new Webhook(row)))

    const get = (id: number) => Effect.map(existing(id), (row) => new Webhook(row))

    const patch = Effect.fn("Webhooks.patch")(function* (id: number, body: WebhookPatch) {
      yield* checkUrl(body.url)
      const row = yield* audit.write({ action: "webhook.updated", entity: "webhook", id }, repo.update(id, body))
      if (Option.isNone(row)) return yield* notFound()
      return new Webhook(row.value)
    })

    const remove = (id: number) =>
      Effect.flatMap(audit.write({ action: "webhook.deleted", entity: "webhook", id }, repo.remove(id)), (gone) =>
        gone ? Effect.void : Effect.fail(notFound())
      )

    const rotateSecret = Effect.fn("Webhooks.rotateSecret")(function* (id: number, graceSeconds: number | undefined) {
      const secret = generateSecret()
      const rotated = yield* audit.write(
        { action: "webhook.secret_rotated", entity: "webhook", id },
        repo.rotate(id, cipher.encrypt(secret), graceSeconds ?? DEFAULT_GRACE_SECONDS)
      )
      if (Option.isNone(rotated)) return yield* notFound()
      return new WebhookSecret({ secret, ...rotated.value })
    })

    const ping = (id: number) =>
      Effect.zipRight(existing(id), Effect.map(queued(id, "webhook.pinged", repo.ping(id, randomUUID())), toDelivery))

    const deliveries = (
      id: number,
      query: {
        readonly status?: DeliveryStatus | undefined
        readonly cursor?: string | undefined
        readonly limit?: number | undefined
      }
    ) =>
      Effect.gen(function* () {
        yield* existing(id)
        const limit = query.limit ?? DEFAULT_PAGE
        const rows = yield* repo.deliveries(id, {
          status: query.status,
          before: query.cursor === undefined ? undefined : Number(query.cursor),
          limit: limit + 1
        })
        const items = rows.slice(0, limit)
        const last = items[items.length - 1]
        return new WebhookDeliveryPage({
          items: items.map(toDelivery),
          next_cursor: rows.length > limit && last !== undefined ? String(last.id) : null
        })
      })

    const redeliver = (id: number, deliveryId: number) =>
      Effect.gen(function* () {
        yield* existing(id)
        const row = yield* repo.redeliver(id, deliveryId).pipe(
          Effect.flatMap((row) =>
            Option.isNone(row)
              ? Effect.succeed(row)
              : Effect.asSome(queued(id, "webhook.redelivered", Effect.succeed(row.value), deliveryId))
          ),
          audit.transaction,
          Effect.orDie
        )
        if (Option.isNone(row)) return yield* deliveryNotFound()
        return toDelivery(row.value)
      })

    return { create, list, get, patch, remove, rotateSecret, ping, deliveries, redeliver } as const
  }),
  dependencies: [WebhooksRepo.Default, AuditTrail.Default]
}) {}
