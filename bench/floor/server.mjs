/**
 * The floor: what Node and PostgreSQL can do at all for `GET /hotels` and `GET /hotels/{id}/rooms`.
 * Only `node:http` and `pg`, the same SQL statements as the service (`Catalogue/HotelsRepo.ts`,
 * `Catalogue/RoomsRepo.ts`: the hotel with the page of its rooms, one statement), rows written
 * out with `JSON.stringify`. No validation beyond parsing integers, no auth, no logging, no metrics.
 * Statements are named (prepared once per connection), the fastest way to run them with `pg`;
 * `FLOOR_PREPARED=false` sends them unnamed, as `@effect/sql-pg` does.
 *
 *   DATABASE_URL=postgres://postgres@127.0.0.1:5432/shum_bench PORT=18081 node bench/floor/server.mjs
 */
import { createHash } from "node:crypto"
import { createServer } from "node:http"
import { URLSearchParams } from "node:url"
import { Buffer } from "node:buffer"
import pg from "pg"

const PORT = Number(process.env.PORT ?? 18081)
const POOL = Number(process.env.DB_POOL_SIZE ?? 10)
const PREPARED = process.env.FLOOR_PREPARED !== "false"

// `date` stays text, as the service's pool does
pg.types.setTypeParser(1082, (value) => value)
const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL, max: POOL, application_name: "shum-floor" })

const names = new Map()
const query = (text, values) => {
  if (!PREPARED) return pool.query(text, values)
  let name = names.get(text)
  if (name === undefined) {
    name = `floor_${createHash("sha1").update(text).digest("hex").slice(0, 16)}`
    names.set(text, name)
  }
  return pool.query({ name, text, values })
}

const HOTEL_SELECT = `SELECT h.id, h.title, h.address, h.postal_code,
        h.check_in_time::text AS check_in_time, h.check_out_time::text AS check_out_time,
        ci.name AS city, co.name AS country
      FROM hotels h JOIN cities ci ON ci.id = h.city_id JOIN countries co ON co.id = ci.country_id`

const ROOM_SELECT = `SELECT r.id, r.hotel_id, r.title, r.description, r.price, r.quantity,
        COALESCE((
          SELECT json_agg(json_build_object('id', f.id, 'title', f.title) ORDER BY f.id)
          FROM rooms_facilities rf JOIN facilities f ON f.id = rf.facility_id
          WHERE rf.room_id = r.id
        ), '[]'::json) AS facilities
      FROM rooms r`

const SORT_KEYS = { id: "h.id", title: "h.title", city: "ci.name" }

const int = (value, fallback) => {
  const n = value === null ? fallback : Number(value)
  return Number.isInteger(n) ? n : fallback
}

const page = (params) => {
  const perPage = int(params.get("per_page"), 10)
  return { limit: perPage, offset: (int(params.get("page"), 1) - 1) * perPage }
}

/** The statement `HotelsRepo.list` compiles for the same filters. */
const hotels = (params) => {
  const values = []
  const conditions = []
  const contains = (column, value) => {
    values.push(value)
    return `lower(${column}) LIKE '%' || lower($${values.length}) || '%'`
  }
  if (params.has("title")) conditions.push(contains("h.title", params.get("title")))
  if (params.has("city")) conditions.push(contains("ci.name", params.get("city")))
  if (params.has("city_id")) {
    values.push(int(params.get("city_id"), 0))
    conditions.push(`h.city_id = $${values.length}`)
  }
  const where =
    conditions.length === 0 ? "1=1" : conditions.length === 1 ? conditions[0] : `(${conditions.join(" AND ")})`
  const sortBy = params.get("sort_by") ?? "id"
  const direction = params.get("order") === "desc" ? "DESC" : "ASC"
  const order = sortBy === "id" ? `h.id ${direction}` : `${SORT_KEYS[sortBy] ?? "h.id"} ${direction}, h.id ${direction}`
  const { limit, offset } = page(params)
  values.push(limit, offset)
  return query(
    `${HOTEL_SELECT}
            WHERE ${where}
            ORDER BY ${order} LIMIT $${values.length - 1} OFFSET $${values.length}`,
    values
  ).then((result) => ({ status: 200, body: result.rows }))
}

/** `RoomsRepo.listByHotel`: no row without the hotel (404), one row of NULLs when it has no rooms here. */
const rooms = async (hotelId, params) => {
  const { limit, offset } = page(params)
  const result = await query(
    `SELECT page.* FROM hotels h
        LEFT JOIN LATERAL (${ROOM_SELECT}
          WHERE r.hotel_id = h.id
          ORDER BY r.id LIMIT $2 OFFSET $3) page ON true
        WHERE h.id = $1`,
    [hotelId, limit, offset]
  )
  if (result.rows.length === 0) return { status: 404, body: { detail: "Отель не найден" } }
  return { status: 200, body: result.rows.filter((row) => row.id !== null) }
}

const ROOMS_PATH = /^\/hotels\/(\d+)\/rooms$/

const route = (url) => {
  const q = url.indexOf("?")
  const path = q === -1 ? url : url.slice(0, q)
  const params = new URLSearchParams(q === -1 ? "" : url.slice(q + 1))
  if (path === "/hotels") return hotels(params)
  const match = ROOMS_PATH.exec(path)
  if (match !== null) return rooms(Number(match[1]), params)
  return Promise.resolve({ status: 404, body: { detail: "Not Found" } })
}

const server = createServer((request, response) => {
  route(request.url ?? "/").then(
    ({ status, body }) => {
      const json = JSON.stringify(body)
      response.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(json) })
      response.end(json)
    },
    (error) => {
      console.error(error)
      response.writeHead(500, { "content-type": "application/json" })
      response.end('{"detail":"error"}')
    }
  )
})

server.listen(PORT, "127.0.0.1", () => console.log(`floor listening on 127.0.0.1:${PORT} (pool ${POOL})`))

const stop = () => server.close(() => pool.end().then(() => process.exit(0)))
process.on("SIGTERM", stop)
process.on("SIGINT", stop)
