/**
 * Whether the image worker consumes its job stream: each reader reports after every attempt to read
 * (`ImageJobs.consume`'s `onRead`). The worker is consuming once every reader has read and while none
 * failed its last attempt. It decides the probe server's `/ready` (503 while not consuming) and whether
 * the worker beats its heartbeat (the `celery` section of the server's `/health/detailed`).
 */
import { Context, Effect, Layer, Option, Ref } from "effect"

export class ConsumerState extends Context.Tag("worker/ConsumerState")<
  ConsumerState,
  {
    readonly report: (reader: number, failure: Option.Option<string>) => Effect.Effect<void>
    /** `None` while consuming; else why not. */
    readonly problem: Effect.Effect<Option.Option<string>>
  }
>() {}

export const make = Effect.map(
  Ref.make({ started: false, failing: new Map<number, string>() }),
  (state): Context.Tag.Service<typeof ConsumerState> => ({
    report: (reader, failure) =>
      Ref.update(state, ({ failing }) => {
        const next = new Map(failing)
        Option.match(failure, { onNone: () => next.delete(reader), onSome: (reason) => next.set(reader, reason) })
        return { started: true, failing: next }
      }),
    problem: Effect.map(Ref.get(state), ({ failing, started }) => {
      if (!started) return Option.some("not consuming the image job stream yet")
      const [first] = failing.values()
      return first === undefined ? Option.none() : Option.some(`cannot read the image job stream: ${first}`)
    })
  })
)

export const ConsumerStateLive = Layer.effect(ConsumerState, make)
