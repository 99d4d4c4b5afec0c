/**
 * Start-up data: the admin of `ADMIN_EMAIL`/`ADMIN_PASSWORD` (D1), a warning naming legacy e-mail case
 * twins (docs/decisions.md D12), and, for the embedded default only,
 * demo data and a demo admin whose credentials are printed (D10). Idempotent: seeding happens once,
 * on an empty catalogue; an existing user's password is never changed.
 */
import * as SqlClient from "@effect/sql/SqlClient"
import { AppConfig } from "@shum/infra/Config"
import { Console, Effect, Layer, Option, Redacted } from "effect"
import { randomBytes } from "node:crypto"
import { mkdir, readFile, writeFile } from "node:fs/promises"
import { dirname } from "node:path"
import { Passwords } from "./Auth/Passwords.js"
import { UsersRepo } from "./Users/UsersRepo.js"

const DEMO = {
  countries: [
    { name: "Россия", iso_code: "RU", cities: ["Москва", "Санкт-Петербург", "Казань"] },
    { name: "Франция", iso_code: "FR", cities: ["Париж", "Ницца"] },
    { name: "Италия", iso_code: "IT", cities: ["Рим", "Венеция"] }
  ],
  facilities: ["Wi-Fi", "Кондиционер", "Мини-бар", "Сейф", "Вид на море", "Завтрак включён"],
  hotels: [
    { title: "Гранд Отель Москва", city: "Москва", address: "Тверская улица, 3", postal_code: "125009" },
    { title: "Невский Палас", city: "Санкт-Петербург", address: "Невский проспект, 57", postal_code: "191025" },
    { title: "Казанская Ривьера", city: "Казань", address: "Фатыха Амирхана, 1", postal_code: "420124" },
    { title: "Le Petit Paris", city: "Париж", address: "12 Rue de Rivoli", postal_code: "75004" },
    { title: "Hotel Riviera Nice", city: "Ницца", address: "5 Promenade des Anglais", postal_code: "06000" },
    { title: "Roma Centro", city: "Рим", address: "Via del Corso, 18", postal_code: "00186" },
    { title: "Canal Grande Venezia", city: "Венеция", address: "Fondamenta Zattere, 7", postal_code: "30123" }
  ],
  rooms: [
    {
      title: "Стандартный номер",
      description: "Двуспальная кровать, 20 м²",
      price: 3000,
      quantity: 5,
      facilities: [1, 2]
    },
    {
      title: "Улучшенный номер",
      description: "Кровать king-size, 28 м²",
      price: 5500,
      quantity: 3,
      facilities: [1, 2, 3, 4]
    },
    {
      title: "Люкс",
      description: "Гостиная и спальня, 55 м²",
      price: 12000,
      quantity: 1,
      facilities: [1, 2, 3, 4, 5, 6]
    }
  ]
} as const

const insertDemoData = (sql: SqlClient.SqlClient) =>
  Effect.gen(function* () {
    const [count] = yield* sql<{ n: number }>`SELECT count(*)::int AS n FROM countries`
    if ((count?.n ?? 0) > 0) return false
    const facilityIds: Array<number> = []
    for (const title of DEMO.facilities) {
      const [row] = yield* sql<{ id: number }>`INSERT INTO facilities (title) VALUES (${title}) RETURNING id`
      facilityIds.push(row!.id)
    }
    const cityIds = new Map<string, number>()
    for (const country of DEMO.countries) {
      const [c] = yield* sql<{
        id: number
      }>`INSERT INTO countries (name, iso_code) VALUES (${country.name}, ${country.iso_code}) RETURNING id`
      for (const city of country.cities) {
        const [row] = yield* sql<{
          id: number
        }>`INSERT INTO cities (name, country_id) VALUES (${city}, ${c!.id}) RETURNING id`
        cityIds.set(city, row!.id)
      }
    }
    for (const hotel of DEMO.hotels) {
      const [h] = yield* sql<{ id: number }>`
      INSERT INTO hotels (title, city_id, address, postal_code)
      VALUES (${hotel.title}, ${cityIds.get(hotel.city)!}, ${hotel.address}, ${hotel.postal_code}) RETURNING id`
      for (const room of DEMO.rooms) {
        const [r] = yield* sql<{ id: number }>`
        INSERT INTO rooms (hotel_id, title, description, price, quantity)
        VALUES (${h!.id}, ${room.title}, ${room.description}, ${room.price}, ${room.quantity}) RETURNING id`
        for (const index of room.facilities) {
          yield* sql`INSERT INTO rooms_facilities (room_id, facility_id) VALUES (${r!.id}, ${facilityIds[index - 1]!})`
        }
      }
    }
    return true
  })

/** Inserts the demo catalogue into an empty database, in one transaction; `false` when there was data. */
const seedDemoData = Effect.flatMap(SqlClient.SqlClient, (sql) =>
  insertDemoData(sql).pipe(sql.withTransaction, Effect.orDie, Effect.withSpan("Seed.demoData"))
)

const DEMO_ADMIN_EMAIL = "admin@example.com"

/** The demo admin's password: generated once, kept beside the embedded database so it survives restarts. */
const demoAdminPassword = (file: string) =>
  Effect.promise(async () => {
    const existing = await readFile(file, "utf8").catch(() => undefined)
    if (existing !== undefined && existing.trim().length >= 8) return existing.trim()
    const password = randomBytes(12).toString("base64url")
    await mkdir(dirname(file), { recursive: true })
    await writeFile(file, `${password}\n`, { mode: 0o600 })
    return password
  })

export interface SeedOptions {
  /** The embedded default: seed demo data and a demo admin (credentials stored in this file). */
  readonly demo: Option.Option<{ readonly adminPasswordFile: string }>
}

export const SeedLive = (options: SeedOptions) =>
  Layer.effectDiscard(
    Effect.gen(function* () {
      const config = yield* AppConfig
      const users = yield* UsersRepo
      const passwords = yield* Passwords
      // D12: legacy accounts whose addresses differ only in letter case are reported at every start-up
      const twins = yield* users.caseTwins
      if (twins.length > 0) {
        yield* Effect.logWarning(
          `${twins.length} e-mail address(es) are shared by accounts that differ only in letter case; each ` +
            "signs in with its exact address, no new twin can be made. List them: npm run admin:duplicates"
        ).pipe(
          Effect.annotateLogs(
            "user_ids",
            twins.map((t) => t.accounts.map((a) => a.id))
          )
        )
      }
      const ensureAdmin = (email: string, password: string) =>
        Effect.flatMap(passwords.hash(password), (hash) => users.ensureAdmin(email, hash))
      if (Option.isSome(config.admin)) {
        const created = yield* ensureAdmin(config.admin.value.email, Redacted.value(config.admin.value.password))
        yield* Effect.logInfo(created ? "admin created from ADMIN_EMAIL" : "admin from ADMIN_EMAIL already exists")
      }
      if (Option.isSome(options.demo)) {
        if (yield* seedDemoData) yield* Effect.logInfo("demo data seeded")
        const password = yield* demoAdminPassword(options.demo.value.adminPasswordFile)
        yield* ensureAdmin(DEMO_ADMIN_EMAIL, password)
        // printed for the person at the terminal, not logged: log lines never carry passwords
        yield* Console.log(`\n  Demo admin (embedded default): ${DEMO_ADMIN_EMAIL} / ${password}\n`)
      }
    })
  )
