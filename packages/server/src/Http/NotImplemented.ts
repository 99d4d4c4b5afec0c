/**
 * Groups whose handlers later issues write. Every endpoint of such a group answers 501 with a problem
 * document (via a `NotImplemented` defect the error mapping recognises) — never a fake success.
 */
import { HttpApiBuilder } from "@effect/platform"
import { ShumApi } from "@shum/domain/Api"
import { NotImplemented } from "@shum/domain/Errors"
import { Messages } from "@shum/domain/Messages"
import { Effect } from "effect"

type GroupName = "auth" | "users" | "hotels" | "rooms" | "bookings" | "facilities" | "images" | "countries" | "cities"

export const notImplementedGroup = <const Name extends GroupName>(name: Name) =>
  HttpApiBuilder.group(ShumApi, name, (handlers) => {
    const group = (ShumApi.groups as Record<string, { readonly endpoints: Record<string, unknown> }>)[name]
    const endpoints = Object.keys(group?.endpoints ?? {})
    // A dynamic loop over the group's endpoint names: the builder's types only follow literal chains.
    let builder = handlers as unknown as { handle: (name: string, f: () => Effect.Effect<never>) => unknown }
    for (const endpoint of endpoints) {
      builder = builder.handle(endpoint, () =>
        Effect.die(new NotImplemented({ detail: Messages.notImplemented }))
      ) as typeof builder
    }
    return builder as never
  })
