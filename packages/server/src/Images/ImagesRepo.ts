/**
 * The `images` table and its hotel links (docs/data.md §1.9, §1.10; D5).
 */
import * as SqlClient from "@effect/sql/SqlClient"
import * as SqlSchema from "@effect/sql/SqlSchema"
import { ImageStatus } from "@shum/domain/Images"
import { Effect, Schema } from "effect"

export const ImageRow = Schema.Struct({
  id: Schema.Int,
  filename: Schema.String,
  original_filename: Schema.String,
  width: Schema.Int,
  height: Schema.Int,
  status: ImageStatus,
  error: Schema.NullOr(Schema.String),
  /** The sanitised name of the files; `null` for images uploaded to the original (their files use `original_filename`). */
  stored_filename: Schema.NullOr(Schema.String)
})
export type ImageRow = typeof ImageRow.Type

export interface NewImage {
  readonly filename: string
  readonly original_filename: string
  readonly width: number
  readonly height: number
  readonly stored_filename: string
}

const columns = "i.id, i.filename, i.original_filename, i.width, i.height, i.status, i.error, i.stored_filename"

export class ImagesRepo extends Effect.Service<ImagesRepo>()("server/ImagesRepo", {
  effect: Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    const find = SqlSchema.findOne({
      Request: Schema.Int,
      Result: ImageRow,
      execute: (id) => sql`SELECT ${sql.literal(columns)} FROM images i WHERE i.id = ${id}`
    })
    const byHotel = SqlSchema.findAll({
      Request: Schema.Int,
      Result: ImageRow,
      execute: (hotelId) =>
        sql`SELECT ${sql.literal(columns)} FROM images i JOIN hotels_images hi ON hi.image_id = i.id
            WHERE hi.hotel_id = ${hotelId} ORDER BY i.id`
    })
    const remove = SqlSchema.findOne({
      Request: Schema.Int,
      Result: ImageRow,
      execute: (id) =>
        sql`DELETE FROM images i WHERE i.id = ${id}
            RETURNING ${sql.literal(columns)}`
    })

    /**
     * The `pending` row and its hotel link in one transaction, with `storeOriginal(id)` inside it: if the
     * file cannot be stored nothing is left behind.
     */
    const create = <E, R>(hotelId: number, image: NewImage, storeOriginal: (id: number) => Effect.Effect<void, E, R>) =>
      Effect.gen(function* () {
        const [row] = yield* sql<{ id: number }>`
          INSERT INTO images ${sql.insert({ ...image, status: "pending" })} RETURNING id`
        const id = row!.id
        yield* sql`INSERT INTO hotels_images ${sql.insert({ hotel_id: hotelId, image_id: id })}`
        yield* storeOriginal(id)
        return id
      }).pipe(sql.withTransaction, Effect.catchTag("SqlError", Effect.die))

    return {
      create,
      find: (id: number) => find(id).pipe(Effect.orDie),
      byHotel: (hotelId: number) => byHotel(hotelId).pipe(Effect.orDie),
      /** The deleted row (its hotel links go with it), if there was one. */
      remove: (id: number) => remove(id).pipe(Effect.orDie)
    } as const
  })
}) {}
