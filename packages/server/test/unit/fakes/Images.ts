/**
 * The image upload's collaborators in memory: `ImagesRepo` over a Map (the `images` rows and their hotel
 * links), `HotelsRepo` knowing which hotels exist, and an `ImageJobs` stream whose "worker" settles each job
 * at once as the test says (or refuses the append, as an unreachable Redis would). The SQL and the real
 * streams are proved by `../Images.test.ts` and `../ImagesRedis.test.ts`.
 */
import { ImageJob, ImageJobs, ImageJobsError } from "@shum/infra/ImageJobs"
import { Context, Effect, Layer, Option, Queue, Ref } from "effect"
import { HotelsRepo } from "../../../src/Catalogue/HotelsRepo.js"
import { type ImageRow, ImagesRepo, type NewImage } from "../../../src/Images/ImagesRepo.js"
import { partial } from "./Partial.js"

/** What the fake worker does with the next jobs. */
export type WorkerBehaviour =
  | { readonly _tag: "Idle" }
  | { readonly _tag: "Done" }
  | { readonly _tag: "Failed"; readonly reason: string }
  | { readonly _tag: "Unreachable" }

export interface ImagesState {
  readonly rows: Map<number, ImageRow & { readonly hotelId: number }>
  readonly jobs: Array<ImageJob>
  readonly hotels: Set<number>
  readonly worker: Ref.Ref<WorkerBehaviour>
}

export class ImagesTables extends Context.Tag("test/ImagesTables")<ImagesTables, ImagesState>() {}

const ImagesRepoMemory = Layer.effect(
  ImagesRepo,
  Effect.map(ImagesTables, ({ rows }) => {
    let nextId = 1
    return partial<ImagesRepo>("ImagesRepo", {
      create: <E, R>(
        hotelId: number,
        image: NewImage,
        storeOriginal: (id: number) => Effect.Effect<void, E, R>
      ): Effect.Effect<number, Exclude<E, { _tag: "SqlError" }>, R> =>
        Effect.gen(function* () {
          const id = nextId++
          // as in the transaction: the row exists only if the original was stored (no SqlError here to exclude)
          yield* storeOriginal(id) as Effect.Effect<void, Exclude<E, { _tag: "SqlError" }>, R>
          rows.set(id, { ...image, id, status: "pending", error: null, hotelId })
          return id
        }),
      find: (id) => Effect.sync(() => Option.fromNullable(rows.get(id))),
      byHotel: (hotelId) => Effect.sync(() => [...rows.values()].filter((row) => row.hotelId === hotelId)),
      remove: (id) =>
        Effect.sync(() => {
          const row = rows.get(id)
          rows.delete(id)
          return Option.fromNullable(row)
        })
    })
  })
)

const HotelsRepoMemory = Layer.effect(
  HotelsRepo,
  Effect.map(ImagesTables, ({ hotels }) =>
    partial<HotelsRepo>("HotelsRepo", { exists: (id) => Effect.sync(() => hotels.has(id)) })
  )
)

const ImageJobsMemory = Layer.effect(
  ImageJobs,
  Effect.map(ImagesTables, ({ jobs, rows, worker }) =>
    partial<Context.Tag.Service<ImageJobs>>("ImageJobs", {
      enqueue: (job) =>
        Effect.gen(function* () {
          const behaviour = yield* Ref.get(worker)
          if (behaviour._tag === "Unreachable") {
            return yield* new ImageJobsError({ message: "connect ECONNREFUSED (fake)" })
          }
          jobs.push(job)
          const row = rows.get(job.image_id)!
          if (behaviour._tag === "Done") rows.set(row.id, { ...row, status: "done" })
          if (behaviour._tag === "Failed") rows.set(row.id, { ...row, status: "failed", error: behaviour.reason })
          return `${jobs.length}-0`
        }),
      subscribeSettled: Queue.unbounded<number>()
    })
  )
)

/** The three fakes and their shared state; `hotels` exist from the start. */
export const ImagesMemory = (hotels: ReadonlyArray<number>) =>
  Layer.mergeAll(ImagesRepoMemory, HotelsRepoMemory, ImageJobsMemory).pipe(
    Layer.provideMerge(
      Layer.effect(
        ImagesTables,
        Effect.map(Ref.make<WorkerBehaviour>({ _tag: "Idle" }), (worker) => ({
          rows: new Map(),
          jobs: [],
          hotels: new Set(hotels),
          worker
        }))
      )
    )
  )
