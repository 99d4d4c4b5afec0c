import { closedGroup } from "../Http/ClosedGroup.js"
import { ShumApi } from "@shum/domain/Api"
import { Message } from "@shum/domain/Common"
import { Effect } from "effect"
import { locateCreated } from "../Http/Location.js"
import { WebhooksService } from "./WebhooksService.js"

export const WebhooksLive = closedGroup(ShumApi, "webhooks", (handlers) =>
  Effect.gen(function* () {
    const webhooks = yield* WebhooksService
    const locate = yield* locateCreated
    return handlers
      .handle("create", ({ payload }) =>
        Effect.tap(webhooks.create(payload), (created) => locate(`/webhooks/${created.id}`))
      )
      .handle("list", () => webhooks.list)
      .handle("get", ({ path }) => webhooks.get(path.webhook_id))
      .handle("patch", ({ path, payload }) => webhooks.patch(path.webhook_id, payload))
      .handle("delete", ({ path }) => webhooks.remove(path.webhook_id).pipe(Effect.as(Message.ok)))
      .handle("rotateSecret", ({ path, urlParams }) =>
        webhooks.rotateSecret(path.webhook_id, urlParams.grace_period_seconds)
      )
      .handle("ping", ({ path }) => webhooks.ping(path.webhook_id))
      .handle("deliveries", ({ path, urlParams }) => webhooks.deliveries(path.webhook_id, urlParams))
      .handle("redeliver", ({ path }) => webhooks.redeliver(path.webhook_id, path.delivery_id))
  })
)
