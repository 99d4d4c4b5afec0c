/**
 * The contract-driven fuzz suite (`npm run test:fuzz`; issue 14, docs/decisions.md D11–D14).
 *
 * For every operation of the OpenAPI document of `ShumApi`, a valid request is built from the document
 * (path ids of real rows made first, valid dates, unique e-mails…) and then spoiled in one place at a time:
 * each path, query and header parameter and each body field gets hostile values (`Hostile.ts`: wrong
 * types, boundary integers, NUL, lone surrogates, huge strings, deep nesting, absurd dates), required
 * fields go missing, unknown fields appear, the body as a whole is wrong (empty, not JSON, wrong content
 * type, nested 100,000 deep, 5 MB) and, on secured operations, the token carries hostile claims signed with
 * the server's own key. Each request is sent as an anonymous client, as a signed-in user and as an admin
 * (so the guards are passed and the handlers reached) to the real server process on the real PostgreSQL
 * and Redis (`Target.ts`).
 *
 * Every answer must be: never a 5xx, never a dropped connection or a timeout; every 4xx a problem document
 * (`application/problem+json` with `type`, `title`, `status`, `detail`); at most 64 KB. The process must
 * answer `/live` after each huge request and at the end.
 *
 * Seeded (`FUZZ_SEED`, fixed by default) and bounded: `FUZZ_RUNS` random cases per operation and role
 * (default 8; CI runs the default in well under two minutes), on top of the fixed cases.
 */
import fc from "fast-check"
import { createHmac, randomBytes } from "node:crypto"
import { mkdirSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import pg from "pg"
import { databaseUrl } from "@shum/infra/Testing"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import {
  type FieldKind,
  Huge,
  hostileClaims,
  hostileParameter,
  hostileValue,
  hugeText,
  isHugeBody,
  nested,
  Raw,
  RawUrl,
  strings,
  type WholeBody,
  wholeBodies
} from "./Hostile.js"
import { jpeg } from "../../../worker/test/ImageFixtures.js"
import { type Field, type Operation, operations } from "./Operations.js"
import { isFailure, JWT_SECRET, type Outcome, type Request, ROOT, send, startTarget, type Target } from "./Target.js"

const positiveInt = (name: string, fallback: number): number => {
  const raw = process.env[name]
  if (raw === undefined || raw.trim() === "") return fallback
  if (!/^\d+$/.test(raw.trim()) || Number(raw) < 1) throw new Error(`${name} must be a positive integer, got "${raw}"`)
  return Number(raw)
}

const SEED = positiveInt("FUZZ_SEED", 20261207)
const RUNS = positiveInt("FUZZ_RUNS", 8)
const MAX_RESPONSE_BYTES = 64 * 1024
/** The Prometheus exposition grows with the routes and statuses seen; bounded, not by the 64 KB of answers. */
const MAX_METRICS_BYTES = 1024 * 1024

/**
 * Path ids the original (FastAPI, Pydantic's lax mode) did not read as integers — hexadecimal, octal, binary,
 * exponents, infinities, digit separators, fractions, other scripts' digits — and integers beyond `integer`,
 * with the answer each must get (docs/api.md §13).
 */
const PATH_ID_SPELLINGS: ReadonlyMap<string, number> = new Map([
  ...["0x1", "0o7", "0b1", "1e3", "Infinity", "NaN", "1_0", "1.5", "%EF%BC%91", "0x"].map((t) => [t, 422] as const),
  ...["9999999999999999999", "-2147483649", "1".repeat(400)].map((t) => [t, 404] as const)
])

type Role = "anonymous" | "user" | "admin"
const ROLES: ReadonlyArray<Role> = ["anonymous", "user", "admin"]

type Case =
  | { readonly kind: "baseline" }
  | { readonly kind: "path" | "query" | "header" | "repeat"; readonly name: string; readonly value: unknown }
  | { readonly kind: "field"; readonly name: string; readonly value: unknown }
  | { readonly kind: "missing"; readonly name: string }
  | { readonly kind: "unknown"; readonly name: string; readonly value: unknown }
  | { readonly kind: "body"; readonly body: WholeBody }
  | { readonly kind: "multipart"; readonly variant: string }
  | { readonly kind: "token"; readonly claims: Record<string, unknown> }
  | { readonly kind: "authorization"; readonly value: string }
  | { readonly kind: "cookie"; readonly value: unknown }

// ---------------------------------------------------------------------------------------------------------
// Writing values: JSON text, URL text, header text.

const isPlainObject = (u: unknown): u is Record<string, unknown> =>
  typeof u === "object" && u !== null && !Array.isArray(u) && !(u instanceof Raw) && !(u instanceof Huge)

const toJson = (value: unknown): string => {
  if (value instanceof Raw) return value.text
  if (value instanceof RawUrl) return JSON.stringify(value.text)
  if (value instanceof Huge)
    return value.kind === "string" ? JSON.stringify(hugeText(value.bytes)) : nested(100_000).text
  if (Array.isArray(value)) return `[${value.map(toJson).join(",")}]`
  if (isPlainObject(value)) {
    return `{${Object.entries(value)
      .map(([k, v]) => `${JSON.stringify(k)}:${toJson(v)}`)
      .join(",")}}`
  }
  return JSON.stringify(value) ?? "null"
}

/** Percent-escapes a string's UTF-8, writing a lone surrogate as the three bytes WTF-8 would (not UTF-8). */
const escapeText = (text: string): string => {
  let out = ""
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i)
    const next = text.charCodeAt(i + 1)
    if (code >= 0xd800 && code <= 0xdbff && next >= 0xdc00 && next <= 0xdfff) {
      out += encodeURIComponent(text.slice(i, i + 2))
      i++
    } else if (code >= 0xd800 && code <= 0xdfff) {
      out += [0xe0 | (code >> 12), 0x80 | ((code >> 6) & 0x3f), 0x80 | (code & 0x3f)]
        .map((b) => `%${b.toString(16).toUpperCase()}`)
        .join("")
    } else {
      out += encodeURIComponent(text[i]!)
    }
  }
  return out
}

const plainText = (value: unknown): string =>
  value instanceof Raw
    ? value.text
    : value instanceof RawUrl
      ? value.text
      : typeof value === "string"
        ? value
        : value !== null && typeof value === "object"
          ? JSON.stringify(value)
          : String(value)

const urlText = (value: unknown): string => (value instanceof RawUrl ? value.text : escapeText(plainText(value)))

/** Header text: the UTF-8 bytes as latin1, without the bytes HTTP forbids (which Node would refuse to send). */
const headerText = (value: unknown): string =>
  Buffer.from(plainText(value), "utf8")
    .toString("latin1")
    .replace(/[^\t\x20-\x7e\x80-\xff]/g, "")

const describeValue = (value: unknown): string => {
  if (value instanceof Raw) return value.label.length > 60 ? `${value.label.slice(0, 60)}…` : value.label
  if (value instanceof RawUrl)
    return `raw ${JSON.stringify(value.text.length > 60 ? `${value.text.slice(0, 60)}…` : value.text)}`
  if (value instanceof Huge)
    return value.kind === "string" ? `<${(value.bytes / 1048576).toFixed(1)} MB string>` : "<nested 100000 deep>"
  const text = JSON.stringify(value) ?? String(value)
  return text.length > 80 ? `${text.slice(0, 80)}… (${text.length} chars)` : text
}

const describeCase = (c: Case): string => {
  switch (c.kind) {
    case "baseline":
      return "the valid request"
    case "path":
    case "query":
    case "header":
      return `${c.kind} ${c.name} = ${describeValue(c.value)}`
    case "repeat":
      return `query ${c.name} twice, second = ${describeValue(c.value)}`
    case "field":
      return `body.${c.name} = ${describeValue(c.value)}`
    case "missing":
      return `without ${c.name}`
    case "unknown":
      return `unknown body field ${JSON.stringify(c.name)} = ${describeValue(c.value)}`
    case "body":
      return `body: ${c.body}`
    case "multipart":
      return `multipart: ${c.variant}`
    case "token":
      return `token with claims ${describeValue(c.claims)}`
    case "authorization":
      return `Authorization: ${describeValue(c.value)}`
    case "cookie":
      return `access_token cookie = ${describeValue(c.value)}`
  }
}

const isHugeCase = (c: Case) =>
  (c.kind === "body" && isHugeBody(c.body)) ||
  (c.kind === "field" && c.value instanceof Huge) ||
  (c.kind === "multipart" && c.variant.startsWith("huge"))

// ---------------------------------------------------------------------------------------------------------
// The world the valid requests refer to: sessions and rows.

interface Session {
  readonly id: number
  readonly email: string
  readonly password: string
  readonly token: string
  readonly refresh: string
}

interface Fixtures {
  countryId: number
  cityId: number
  cityName: string
  hotelId: number
  roomId: number
  facilityId: number
  bookingId: number
  imageId: number
  victimId: number
  victimEmail: string
  refreshToken: string
}

const PASSWORD = "fuzz-password-1"
const day = (offset: number) => new Date(Date.now() + offset * 86_400_000).toISOString().slice(0, 10)
const unique = () => randomBytes(5).toString("hex")
const uniqueEmail = (prefix: string) => `fuzz-${prefix}-${unique()}@example.com`

/** A real image the upload accepts (1000 px wide, D5), made in `beforeAll`. */
let WIDE_JPEG: Buffer = Buffer.alloc(0)

/** A 1×1 PNG (too narrow: a 400). */
const PNG = Buffer.from(
  "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==",
  "base64"
)

const multipart = (parts: ReadonlyArray<{ name: string; filename?: string; type?: string; data: Buffer }>) => {
  const boundary = `----fuzz${unique()}`
  const chunks: Array<Buffer> = []
  for (const part of parts) {
    const disposition =
      part.filename === undefined
        ? `form-data; name="${part.name}"`
        : `form-data; name="${part.name}"; filename="${part.filename}"`
    chunks.push(
      Buffer.from(
        `--${boundary}\r\nContent-Disposition: ${disposition}\r\n${part.type === undefined ? "" : `Content-Type: ${part.type}\r\n`}\r\n`,
        "utf8"
      ),
      part.data,
      Buffer.from("\r\n")
    )
  }
  chunks.push(Buffer.from(`--${boundary}--\r\n`))
  return { body: Buffer.concat(chunks), contentType: `multipart/form-data; boundary=${boundary}` }
}

const MULTIPART_VARIANTS: ReadonlyArray<string> = [
  "file name ../../../etc/passwd.png",
  "file name with NUL",
  "file name of 5000 characters",
  "file name .htaccess",
  "file name with invalid UTF-8",
  "file name %2e%2e%2f.png",
  "empty file",
  "not an image",
  "svg with a script",
  "two files",
  "a text field named file",
  "no file field",
  "no boundary",
  "unterminated",
  "huge 5 MB not an image"
]

const multipartBody = (variant: string): { body: Buffer; contentType: string } => {
  const file = (filename: string, data = PNG, type = "image/png") => multipart([{ name: "file", filename, type, data }])
  switch (variant) {
    case "file name ../../../etc/passwd.png":
      return file("../../../etc/passwd.png")
    case "file name with NUL":
      return file("a\u0000b.png")
    case "file name of 5000 characters":
      return file(`${"x".repeat(5000)}.png`)
    case "file name .htaccess":
      return file(".htaccess")
    case "file name with invalid UTF-8":
      return multipart([
        { name: "file", filename: Buffer.from([0xff, 0xfe, 0x2e, 0x70]).toString("latin1"), data: PNG }
      ])
    case "file name %2e%2e%2f.png":
      return file("%2e%2e%2f.png")
    case "empty file":
      return file("empty.png", Buffer.alloc(0))
    case "not an image":
      return file("text.jpg", Buffer.from("definitely not an image"), "image/jpeg")
    case "svg with a script":
      return file(
        "x.svg",
        Buffer.from('<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'),
        "image/svg+xml"
      )
    case "two files":
      return multipart([
        { name: "file", filename: "a.png", type: "image/png", data: PNG },
        { name: "file", filename: "b.png", type: "image/png", data: PNG }
      ])
    case "a text field named file":
      return multipart([{ name: "file", data: Buffer.from("just text") }])
    case "no file field":
      return multipart([{ name: "other", filename: "a.png", type: "image/png", data: PNG }])
    case "no boundary":
      return { body: file("a.png").body, contentType: "multipart/form-data" }
    case "unterminated": {
      const whole = file("a.png")
      return { body: whole.body.subarray(0, whole.body.length - 20), contentType: whole.contentType }
    }
    default:
      return file("huge.jpg", randomBytes(5 * 1024 * 1024), "image/jpeg")
  }
}

// ---------------------------------------------------------------------------------------------------------
// The suite.

interface Finding {
  readonly operation: string
  readonly role: Role
  readonly case: string
  readonly request: string
  readonly status: number | string
  readonly body: string
  readonly reason: string
}

describe("fuzz: every operation of the OpenAPI document, real server, real PostgreSQL and Redis", () => {
  let target: Target
  let sessions: Record<Exclude<Role, "anonymous">, Session>
  let fixtures: Fixtures
  const findings: Array<Finding> = []
  const tally = new Map<string, { cases: number; statuses: Map<string, number> }>()
  const slowest: Array<{ readonly ms: number; readonly what: string }> = []
  const started = Date.now()

  const call = (request: Request) => send(target.port, request)

  const json = async (method: string, path: string, body: unknown, token?: string) => {
    const outcome = await call({
      method,
      path,
      headers: {
        "content-type": "application/json",
        ...(token === undefined ? {} : { authorization: `Bearer ${token}` })
      },
      body: body === undefined ? undefined : Buffer.from(JSON.stringify(body))
    })
    if (isFailure(outcome)) throw new Error(`${method} ${path}: ${outcome.error}\n${target.output()}`)
    const text = outcome.body.toString("utf8")
    const parsed = text === "" || outcome.size > outcome.body.length ? undefined : (JSON.parse(text) as unknown)
    return { status: outcome.status, json: isPlainObject(parsed) ? parsed : undefined }
  }

  const created = async (
    method: string,
    path: string,
    body: unknown,
    token: string
  ): Promise<Record<string, unknown>> => {
    const res = await json(method, path, body, token)
    if (res.status !== 200 && res.status !== 201) {
      throw new Error(`fixture ${method} ${path}: ${res.status} ${JSON.stringify(res.json)}`)
    }
    return res.json ?? {}
  }

  const sql = async (text: string, values: ReadonlyArray<unknown>) => {
    const client = new pg.Client({ connectionString: databaseUrl(target.database) })
    await client.connect()
    try {
      return (await client.query(text, [...values])).rows as Array<Record<string, unknown>>
    } finally {
      await client.end()
    }
  }

  /**
   * The id of a row just made: from the answer when it names one (docs/decisions.md D15), else looked up in
   * the database by the unique value the fixture gave it.
   */
  const idOf = async (
    body: Record<string, unknown>,
    lookup?: readonly [string, ReadonlyArray<unknown>]
  ): Promise<number> => {
    const booking = body["booking"] as Record<string, unknown> | undefined
    const id = body["id"] ?? booking?.["id"] ?? body["image_id"]
    if (typeof id === "number") return id
    const row = lookup === undefined ? undefined : (await sql(lookup[0], lookup[1]))[0]
    if (typeof row?.["id"] !== "number") throw new Error(`no id in ${JSON.stringify(body)}`)
    return row["id"]
  }

  /**
   * The bcrypt hash of `PASSWORD`, made once by the server itself (a sign-up through the API). The users the
   * suite needs are then inserted with it directly, so each costs one bcrypt (its sign-in), not two.
   */
  let passwordHash: string | undefined

  const insertUser = async (prefix: string, role: "user" | "admin"): Promise<{ id: number; email: string }> => {
    if (passwordHash === undefined) {
      const email = uniqueEmail("hash")
      const registered = await json("POST", "/auth/register", { email, password: PASSWORD })
      if (registered.status !== 200 && registered.status !== 201) {
        throw new Error(`register: ${registered.status} ${JSON.stringify(registered.json)}`)
      }
      const rows = await sql("SELECT hashed_password FROM users WHERE email = $1", [email])
      passwordHash = String(rows[0]?.["hashed_password"])
    }
    const email = uniqueEmail(prefix)
    const rows = await sql("INSERT INTO users (email, hashed_password, role) VALUES ($1, $2, $3) RETURNING id", [
      email,
      passwordHash,
      role
    ])
    return { id: Number(rows[0]?.["id"]), email }
  }

  const newSession = async (role: "user" | "admin"): Promise<Session> => {
    const { id, email } = await insertUser(role, role)
    const login = await json("POST", "/auth/login", { email, password: PASSWORD })
    if (login.status !== 200) throw new Error(`login: ${login.status} ${JSON.stringify(login.json)}`)
    return {
      id,
      email,
      password: PASSWORD,
      token: String(login.json?.["access_token"]),
      refresh: String(login.json?.["refresh_token"])
    }
  }

  /** Fuzzed requests change passwords, delete users and log out: a session that no longer works is replaced. */
  const ensureSessions = async () => {
    for (const role of ["user", "admin"] as const) {
      const session = sessions?.[role]
      const me = session === undefined ? undefined : await json("GET", "/auth/me", undefined, session.token)
      const ok = me?.status === 200 && me.json?.["role"] === role
      if (!ok) sessions = { ...sessions, [role]: await newSession(role) }
    }
  }

  const newFixtures = async (): Promise<Fixtures> => {
    const admin = sessions.admin.token
    let countryId: number | undefined
    for (let attempt = 0; countryId === undefined; attempt++) {
      const name = `Fuzzland ${unique()}`
      const iso = Buffer.from(randomBytes(2).map((b) => 65 + (b % 26))).toString()
      const res = await json("POST", "/countries", { name, iso_code: iso }, admin)
      if (res.status === 200 || res.status === 201) {
        countryId = await idOf(res.json ?? {}, ["SELECT id FROM countries WHERE name = $1", [name]])
      } else if (attempt > 50) throw new Error(`fixture country: ${res.status} ${JSON.stringify(res.json)}`)
    }
    const cityName = `Fuzzburg ${unique()}`
    const cityId = await idOf(await created("POST", "/cities", { name: cityName, country_id: countryId }, admin), [
      "SELECT id FROM cities WHERE name = $1",
      [cityName]
    ])
    const hotelTitle = `Fuzz Hotel ${unique()}`
    const hotelId = await idOf(
      await created("POST", "/hotels", { title: hotelTitle, city: cityName, address: "1 Fuzz Street" }, admin),
      ["SELECT id FROM hotels WHERE title = $1", [hotelTitle]]
    )
    const facilityTitle = `Fuzz facility ${unique()}`
    const facilityId = await idOf(await created("POST", "/facilities", { title: facilityTitle }, admin), [
      "SELECT id FROM facilities WHERE title = $1",
      [facilityTitle]
    ])
    const roomTitle = `Fuzz room ${unique()}`
    const roomId = await idOf(
      await created(
        "POST",
        `/hotels/${hotelId}/rooms`,
        { title: roomTitle, price: 1000, quantity: 1000, facility_ids: [facilityId] },
        admin
      ),
      ["SELECT id FROM rooms WHERE title = $1", [roomTitle]]
    )
    return {
      countryId,
      cityId,
      cityName,
      hotelId,
      roomId,
      facilityId,
      bookingId: 0,
      imageId: 0,
      victimId: 0,
      victimEmail: "",
      refreshToken: ""
    }
  }

  const newVictim = () => insertUser("victim", "user")

  /**
   * Rows of its own for each operation (an earlier operation's cases may have changed or deleted those it
   * used), and a booking, an image, a user and a refresh token when the operation refers to one.
   */
  const prepareFixtures = async (operation: Operation) => {
    const uses = (name: string) =>
      operation.parameters.some((p) => p.name === name) || operation.body?.fields.some((f) => f.name === name) === true
    const needsRows =
      operation.parameters.some((p) => p.in === "path") || operation.body !== undefined || fixtures === undefined
    if (needsRows) fixtures = await newFixtures()
    if (uses("booking_id")) {
      fixtures.bookingId = await idOf(
        await created(
          "POST",
          "/bookings",
          { room_id: fixtures.roomId, date_from: day(30), date_to: day(32) },
          sessions.user.token
        ),
        ["SELECT max(id) AS id FROM bookings WHERE user_id = $1", [sessions.user.id]]
      )
    }
    if (uses("image_id")) {
      const form = multipart([{ name: "file", filename: "fixture.jpg", type: "image/jpeg", data: WIDE_JPEG }])
      const res = await call({
        method: "POST",
        path: `/images/upload/${fixtures.hotelId}`,
        headers: { authorization: `Bearer ${sessions.admin.token}`, "content-type": form.contentType },
        body: form.body
      })
      if (isFailure(res) || res.status >= 300) throw new Error(`fixture image: ${JSON.stringify(res)}`)
      fixtures.imageId = await idOf(JSON.parse(res.body.toString("utf8")) as Record<string, unknown>, [
        "SELECT max(image_id) AS id FROM hotels_images WHERE hotel_id = $1",
        [fixtures.hotelId]
      ])
    }
    if (uses("user_id")) {
      const victim = await newVictim()
      fixtures.victimId = victim.id
      fixtures.victimEmail = victim.email
    }
    if (uses("refresh_token")) fixtures.refreshToken = (await newSession("user")).refresh
  }

  // -------------------------------------------------------------------------------------------------------
  // Valid values, from the document's kinds and the names the API uses for its rows.

  const valid = (operation: Operation, field: Pick<Field, "name" | "kind" | "schema">, role: Role): unknown => {
    const self = role === "admin" ? fixtures.victimId : sessions.user.id
    switch (field.name) {
      case "hotel_id":
        return fixtures.hotelId
      case "room_id":
        return fixtures.roomId
      case "city_id":
        return fixtures.cityId
      case "country_id":
        return fixtures.countryId
      case "facility_id":
        return fixtures.facilityId
      case "booking_id":
        return fixtures.bookingId
      case "image_id":
        return fixtures.imageId
      case "user_id":
        return self
      case "facility_ids":
        return [fixtures.facilityId]
      case "page":
        return 1
      case "per_page":
        return 10
      case "date_from":
        return day(20)
      case "date_to":
        return day(22)
      case "price":
        return 1000
      case "quantity":
        return 3
      case "refresh_token":
        return fixtures.refreshToken
      case "iso_code":
        return Buffer.from(randomBytes(2).map((b) => 65 + (b % 26))).toString()
      case "city":
        return operation.method === "GET" ? "Fuzz" : fixtures.cityName
      case "email":
        if (operation.path.startsWith("/users/")) return role === "admin" ? fixtures.victimEmail : sessions.user.email
        if (operation.path === "/auth/login") return sessions.user.email
        if (operation.path === "/users") return "fuzz"
        return uniqueEmail("new")
      case "password":
        return PASSWORD
      case "telegram_id":
      case "pachca_id":
        return 12345
      default:
        break
    }
    const enumeration = field.schema["enum"]
    if (Array.isArray(enumeration)) return enumeration[0]
    const byKind: Record<FieldKind, unknown> = {
      integer: 1,
      number: 1,
      string: `Fuzz ${unique()}`,
      date: day(20),
      time: "14:00:00",
      email: uniqueEmail("x"),
      boolean: true,
      array: [],
      object: {}
    }
    return byKind[field.kind]
  }

  /** Fields left out of the valid body: refused ones, and those that would end the caller's own session. */
  const baselineFields = (operation: Operation): ReadonlyArray<Field> =>
    (operation.body?.fields ?? []).filter(
      (f) =>
        !f.refused &&
        (f.required || !(operation.path.startsWith("/users/") && (f.name === "password" || f.name === "role")))
    )

  // -------------------------------------------------------------------------------------------------------
  // Requests.

  const tokenWith = (claims: Record<string, unknown>) => {
    const part = (o: unknown) => Buffer.from(toJson(o)).toString("base64url")
    const now = Math.floor(Date.now() / 1000)
    const header = part({ alg: "HS256", typ: "JWT" })
    const payload = part({ email: sessions.user.email, iat: now, exp: now + 600, ...claims })
    const signature = createHmac("sha256", JWT_SECRET).update(`${header}.${payload}`).digest("base64url")
    return `${header}.${payload}.${signature}`
  }

  const build = (operation: Operation, role: Role, c: Case): Request => {
    const headers: Record<string, string> = {}
    if (role !== "anonymous") headers["authorization"] = `Bearer ${sessions[role].token}`
    if (c.kind === "token") headers["authorization"] = `Bearer ${tokenWith(c.claims)}`
    if (c.kind === "authorization") headers["authorization"] = headerText(c.value)
    if (c.kind === "cookie") headers["cookie"] = `access_token=${headerText(c.value)}`

    const path = operation.path.replace(/\{(\w+)\}/g, (_, name: string) => {
      if (c.kind === "path" && c.name === name) return urlText(c.value)
      return urlText(valid(operation, { name, kind: "integer", schema: {} }, role))
    })
    const query: Array<string> = []
    for (const p of operation.parameters) {
      if (p.in === "query") {
        const mutated = (c.kind === "query" || c.kind === "repeat") && c.name === p.name
        if (c.kind === "missing" && c.name === p.name) continue
        if (c.kind === "repeat" && mutated) query.push(`${p.name}=${urlText(valid(operation, p, role))}`)
        if (mutated) query.push(`${escapeText(p.name)}=${urlText(c.value)}`)
        else if (p.required) query.push(`${p.name}=${urlText(valid(operation, p, role))}`)
      }
      if (p.in === "header" && c.kind === "header" && c.name === p.name) headers[p.name] = headerText(c.value)
    }

    let body: Buffer | undefined
    if (operation.body?.contentType === "multipart/form-data") {
      const form = c.kind === "multipart" ? multipartBody(c.variant) : undefined
      if (form !== undefined) {
        body = form.body
        headers["content-type"] = form.contentType
      } else if (c.kind === "field") {
        const sent = multipart([
          { name: c.name, data: Buffer.from(plainText(c.value instanceof Huge ? hugeText(c.value.bytes) : c.value)) }
        ])
        body = sent.body
        headers["content-type"] = sent.contentType
      } else if (c.kind !== "body") {
        const sent = multipart([{ name: "file", filename: "fuzz.jpg", type: "image/jpeg", data: WIDE_JPEG }])
        body = sent.body
        headers["content-type"] = sent.contentType
      }
    } else if (operation.body !== undefined && c.kind !== "body") {
      const value: Record<string, unknown> = {}
      for (const f of baselineFields(operation)) value[f.name] = valid(operation, f, role)
      if (c.kind === "field" || c.kind === "unknown") value[c.name] = c.value
      if (c.kind === "missing") delete value[c.name]
      body = Buffer.from(toJson(value), "utf8")
      headers["content-type"] = "application/json"
    }
    if (c.kind === "body") {
      const whole = wholeBody(operation, role, c.body)
      body = whole.body
      if (whole.contentType !== undefined) headers["content-type"] = whole.contentType
    }
    return { method: operation.method, path: query.length === 0 ? path : `${path}?${query.join("&")}`, headers, body }
  }

  const wholeBody = (operation: Operation, role: Role, kind: WholeBody): { body: Buffer; contentType?: string } => {
    const validObject = () => {
      const value: Record<string, unknown> = {}
      for (const f of baselineFields(operation)) value[f.name] = valid(operation, f, role)
      return value
    }
    const asJson = (text: string | Buffer) => ({
      body: typeof text === "string" ? Buffer.from(text, "utf8") : text,
      contentType: "application/json"
    })
    const text = JSON.stringify(validObject())
    const firstField = baselineFields(operation)[0]?.name ?? "title"
    switch (kind) {
      case "empty":
        return asJson("")
      case "null":
        return asJson("null")
      case "array":
        return asJson(`[${text}]`)
      case "string":
        return asJson(JSON.stringify(text))
      case "number":
        return asJson("1e309")
      case "invalid json":
        return asJson("{'a': 1,}")
      case "truncated json":
        return asJson(text.slice(0, Math.max(1, text.length - 3)))
      case "trailing garbage":
        return asJson(`${text} xyz`)
      case "duplicate keys":
        return asJson(`${text.slice(0, -1)}${text.length > 2 ? "," : ""}"${firstField}":${JSON.stringify(strings[4])}}`)
      case "byte order mark":
        return asJson(`\ufeff${text}`)
      case "invalid utf-8":
        return asJson(
          Buffer.concat([
            Buffer.from(`{"${firstField}":"`),
            Buffer.from([0xff, 0xc0, 0xae, 0xed, 0xa0, 0x80]),
            Buffer.from('"}')
          ])
        )
      case "nul byte":
        return asJson(Buffer.concat([Buffer.from(text), Buffer.from([0])]))
      case "text/plain":
        return { body: Buffer.from(text), contentType: "text/plain" }
      case "form-urlencoded":
        return { body: Buffer.from(`${firstField}=x&%00=%ff`), contentType: "application/x-www-form-urlencoded" }
      case "multipart":
        return multipartBody("two files")
      case "no content type":
        return { body: Buffer.from(text) }
      case "json with charset latin1":
        return { body: Buffer.from(text, "latin1"), contentType: "application/json; charset=iso-8859-1" }
      case "nested 100000 arrays":
        return asJson(nested(100_000).text)
      case "nested 100000 objects":
        return asJson(nested(100_000, "object").text)
      case "nested 65":
        return asJson(toJson({ ...validObject(), [firstField]: nested(65, "object") }))
      case "huge 5 MB":
        return asJson(`[${"1,".repeat(2.5 * 1024 * 1024)}1]`)
      case "huge 1 MB field":
        return asJson(toJson({ ...validObject(), [firstField]: hugeText(1024 * 1024) }))
    }
  }

  // -------------------------------------------------------------------------------------------------------
  // Cases.

  const randomCases = (operation: Operation): fc.Arbitrary<Case> => {
    const arbs: Array<fc.Arbitrary<Case>> = []
    for (const p of operation.parameters) {
      arbs.push(hostileParameter(p.kind).map((value): Case => ({ kind: p.in, name: p.name, value })))
      if (p.in === "query")
        arbs.push(hostileParameter(p.kind).map((value): Case => ({ kind: "repeat", name: p.name, value })))
    }
    for (const f of operation.body?.fields ?? []) {
      arbs.push(hostileValue(f.kind, { huge: true }).map((value): Case => ({ kind: "field", name: f.name, value })))
    }
    if (operation.body?.contentType === "application/json") {
      arbs.push(
        fc
          .record({
            name: fc.oneof(
              fc.constantFrom(
                "__proto__",
                "constructor",
                "prototype",
                "id",
                "is_admin",
                "role",
                "hashed_password",
                "",
                "\u0000"
              ),
              fc.string({ unit: "binary", maxLength: 20 })
            ),
            value: fc.oneof(fc.jsonValue({ maxDepth: 3 }), hostileValue("string", { huge: false }))
          })
          .map((u): Case => ({ kind: "unknown", ...u }))
      )
    }
    if (operation.secured) {
      arbs.push(hostileClaims.map((claims): Case => ({ kind: "token", claims })))
      arbs.push(
        fc
          .oneof(
            fc.constantFrom(
              "Bearer",
              "Bearer ",
              "Bearer  x",
              "bearer x",
              "Basic YTpi",
              "Bearer x.y.z",
              "Bearer a.b",
              "Bearer ...."
            ),
            fc.constantFrom("Bearer eyJhbGciOiJub25lIn0.eyJzdWIiOiIxIn0.", `Bearer ${"a".repeat(7000)}`),
            fc.string({ unit: "binary", maxLength: 60 }).map((s) => `Bearer ${s}`)
          )
          .map((value): Case => ({ kind: "authorization", value }))
      )
      arbs.push(hostileParameter("string").map((value): Case => ({ kind: "cookie", value })))
    }
    if (arbs.length === 0) arbs.push(fc.constant<Case>({ kind: "baseline" }))
    return fc.oneof(...arbs)
  }

  /**
   * The fixed cases: the valid request, each required input missing, each path id spelt in ways that are no
   * decimal integer or beyond `integer` (`PATH_ID_SPELLINGS`, whose answers are checked exactly), and the wrong bodies as a whole, in full
   * for the role that passes the guard (admin; anonymous where there is no guard). An anonymous caller of a
   * secured operation sends the heaviest ones too (a body parsed before the guard is a pre-auth attack).
   */
  const fixedCases = (operation: Operation, role: Role): ReadonlyArray<Case> => {
    const cases: Array<Case> = [{ kind: "baseline" }]
    const full = operation.secured ? role === "admin" : role === "anonymous"
    const heavy: ReadonlyArray<WholeBody> = ["nested 100000 arrays", "huge 5 MB"]
    if (full) {
      for (const p of operation.parameters)
        if (p.in === "query" && p.required) cases.push({ kind: "missing", name: p.name })
      for (const f of operation.body?.fields ?? []) if (f.required) cases.push({ kind: "missing", name: f.name })
      for (const p of operation.parameters)
        if (p.in === "path" && p.kind === "integer")
          for (const text of PATH_ID_SPELLINGS.keys())
            cases.push({ kind: "path", name: p.name, value: new RawUrl(text) })
    }
    if (operation.body?.contentType === "application/json") {
      for (const body of full ? wholeBodies : role === "anonymous" ? heavy : []) cases.push({ kind: "body", body })
    } else if (operation.body?.contentType === "multipart/form-data") {
      if (full) for (const variant of MULTIPART_VARIANTS) cases.push({ kind: "multipart", variant })
      for (const body of full ? (["empty", "text/plain", ...heavy] as const) : role === "anonymous" ? heavy : []) {
        cases.push({ kind: "body", body })
      }
    } else if (role === "anonymous") {
      // a body where none is expected: read and thrown away, never a crash
      for (const body of heavy) cases.push({ kind: "body", body })
    }
    return cases
  }

  // -------------------------------------------------------------------------------------------------------
  // Checks.

  const check = (operation: Operation, outcome: Outcome): string | undefined => {
    if (outcome.status >= 500) return `${outcome.status}`
    if (operation.id === "GET /metrics") {
      if (outcome.size > MAX_METRICS_BYTES) return `metrics of ${outcome.size} bytes`
    } else if (outcome.size > MAX_RESPONSE_BYTES) {
      return `answer of ${outcome.size} bytes (more than ${MAX_RESPONSE_BYTES})`
    }
    if (outcome.status >= 400) {
      const type = String(outcome.headers["content-type"] ?? "")
      if (!type.startsWith("application/problem+json"))
        return `${outcome.status} as ${type || "no content type"}, not a problem document`
      let problem: unknown
      try {
        problem = JSON.parse(outcome.body.toString("utf8"))
      } catch {
        return `${outcome.status} whose body is not JSON`
      }
      if (
        !isPlainObject(problem) ||
        typeof problem["type"] !== "string" ||
        typeof problem["title"] !== "string" ||
        problem["status"] !== outcome.status ||
        !("detail" in problem)
      ) {
        return `${outcome.status} problem document without type/title/status/detail`
      }
    }
    return undefined
  }

  /**
   * A path id spelt as no decimal integer is a 422 at that parameter; one beyond `integer`, whatever its
   * length, 404 — for a caller past the guard.
   */
  const checkPathId = (operation: Operation, role: Role, c: Case, outcome: Outcome): string | undefined => {
    // a caller the guard stops is answered 401/403 first (docs/api.md §1.4's order)
    if (c.kind !== "path" || !(c.value instanceof RawUrl) || (operation.secured && role !== "admin")) return undefined
    const expected = PATH_ID_SPELLINGS.get(c.value.text)
    if (expected === undefined) return undefined
    if (outcome.status !== expected) return `path id "${c.value.text.slice(0, 40)}": ${outcome.status}, not ${expected}`
    if (expected === 422) {
      const problem = JSON.parse(outcome.body.toString("utf8")) as { detail?: Array<{ type?: string; loc?: unknown }> }
      const atPath = problem.detail?.find((d) => JSON.stringify(d.loc) === JSON.stringify(["path", c.name]))
      if (atPath?.type !== "int_parsing") return `path id "${c.value.text}": no int_parsing at ["path", "${c.name}"]`
    }
    return undefined
  }

  const describeRequest = (request: Request) => {
    const line = `${request.method} ${request.path}`
    const size =
      request.body === undefined
        ? ""
        : ` (${request.body.length} bytes of ${request.headers["content-type"] ?? "no content type"})`
    return `${line.length > 160 ? `${line.slice(0, 160)}…` : line}${size}`
  }

  const liveness = async (): Promise<string | undefined> => {
    if (!target.alive()) return `the server process exited (${target.child.exitCode ?? target.child.signalCode})`
    const live = await call({ method: "GET", path: "/live", headers: {} })
    if (isFailure(live)) return `/live: ${live.error}`
    return live.status === 200 ? undefined : `/live answered ${live.status}`
  }

  const record = (operation: Operation, status: string) => {
    const entry = tally.get(operation.id) ?? { cases: 0, statuses: new Map<string, number>() }
    entry.cases += 1
    entry.statuses.set(status, (entry.statuses.get(status) ?? 0) + 1)
    tally.set(operation.id, entry)
  }

  const run = async (
    operation: Operation,
    role: Role,
    c: Case
  ): Promise<{ finding: Finding | undefined; status: number | undefined }> => {
    const request = build(operation, role, c)
    const outcome = await call(request)
    slowest.push({ ms: outcome.ms, what: `${operation.id} [${role}] ${describeCase(c)}` })
    slowest.sort((a, b) => b.ms - a.ms)
    slowest.splice(10)
    const finding = (status: number | string, body: string, reason: string): Finding => ({
      operation: operation.id,
      role,
      case: describeCase(c),
      request: describeRequest(request),
      status,
      body: body.length > 300 ? `${body.slice(0, 300)}…` : body,
      reason
    })
    let result: Finding | undefined
    if (isFailure(outcome)) {
      record(operation, "no answer")
      result = finding("no answer", "", outcome.error)
    } else {
      record(operation, outcome.cutShort ? `${outcome.status} (body cut short)` : String(outcome.status))
      const reason = check(operation, outcome) ?? checkPathId(operation, role, c, outcome)
      if (reason !== undefined) result = finding(outcome.status, outcome.body.toString("utf8"), reason)
    }
    if (isHugeCase(c) || result !== undefined) {
      const dead = await liveness()
      if (dead !== undefined) {
        const crash = finding(
          result?.status ?? "?",
          target.output().slice(-2000),
          `server not alive afterwards: ${dead}`
        )
        await target.stop().catch(() => undefined)
        target = await startTarget()
        sessions = undefined as unknown as typeof sessions
        fixtures = undefined as unknown as Fixtures
        await ensureSessions()
        return { finding: crash, status: undefined }
      }
    }
    return { finding: result, status: isFailure(outcome) ? undefined : outcome.status }
  }

  beforeAll(async () => {
    WIDE_JPEG = await jpeg(1000, 750)
    target = await startTarget()
    await ensureSessions()
  }, 120_000)

  afterAll(async () => {
    const seconds = ((Date.now() - started) / 1000).toFixed(1)
    const total = [...tally.values()].reduce((n, e) => n + e.cases, 0)
    const statuses = new Map<string, number>()
    for (const e of tally.values()) for (const [s, n] of e.statuses) statuses.set(s, (statuses.get(s) ?? 0) + n)
    const sorted = (m: Map<string, number>) =>
      [...m.entries()]
        .sort(([a], [b]) => a.localeCompare(b))
        .map(([s, n]) => `${s}×${n}`)
        .join(" ")
    const lines = [
      `fuzz: ${tally.size} operations × ${ROLES.length} roles, ${total} requests in ${seconds} s (FUZZ_SEED=${SEED}, FUZZ_RUNS=${RUNS}); ${findings.length} findings`,
      `statuses: ${sorted(statuses)}`,
      ...[...tally.entries()].map(
        ([id, e]) => `  ${id.padEnd(42)} ${String(e.cases).padStart(4)}  ${sorted(e.statuses)}`
      )
    ]
    console.log(lines.join("\n"))
    const dir = join(ROOT, "test-results")
    mkdirSync(dir, { recursive: true })
    writeFileSync(
      join(dir, "fuzz-summary.json"),
      JSON.stringify(
        {
          seed: SEED,
          runs: RUNS,
          seconds: Number(seconds),
          requests: total,
          statuses: Object.fromEntries(statuses),
          operations: Object.fromEntries(
            [...tally.entries()].map(([id, e]) => [id, { cases: e.cases, statuses: Object.fromEntries(e.statuses) }])
          ),
          slowest,
          findings
        },
        null,
        2
      )
    )
    if (target !== undefined) await target.stop()
  }, 60_000)

  operations.forEach((operation, index) => {
    it(
      operation.id,
      async () => {
        const found: Array<Finding> = []
        const roles = operation.secured ? ROLES : (["anonymous", "user"] as const)
        for (const role of roles) {
          await ensureSessions()
          await prepareFixtures(operation)
          const runs = operation.secured || role === "anonymous" ? RUNS : Math.max(1, Math.ceil(RUNS / 4))
          const random = fc.sample(randomCases(operation), {
            seed: SEED + index * 7 + roles.indexOf(role as never),
            numRuns: runs
          })
          for (const c of [...fixedCases(operation, role), ...random]) {
            const { finding, status } = await run(operation, role, c)
            if (finding !== undefined) found.push(finding)
            // an accepted change may have signed the caller out, changed its password or role, or deleted it
            const changed = typeof status === "number" && status < 300 && operation.method !== "GET"
            if (changed && (operation.path.startsWith("/users") || operation.path.startsWith("/auth")))
              await ensureSessions()
          }
        }
        const dead = await liveness()
        if (dead !== undefined)
          found.push({
            operation: operation.id,
            role: "anonymous",
            case: "after all cases",
            request: "GET /live",
            status: "?",
            body: target.output().slice(-2000),
            reason: dead
          })
        findings.push(...found)
        const distinct = new Map<string, Finding>()
        for (const f of found) distinct.set(`${f.role} ${f.case.split(" = ")[0]} ${f.reason}`, f)
        expect(
          [...distinct.values()].map(
            (f) =>
              `[${f.role}] ${f.case}\n    ${f.request}\n    → ${f.status} ${f.reason}: ${f.body.replace(/\s+/g, " ").slice(0, 240)}`
          ),
          `${operation.id}: ${distinct.size} distinct findings`
        ).toEqual([])
      },
      600_000
    )
  })

  it("the server is alive at the end and its own metrics stay bounded", async () => {
    expect(await liveness()).toBeUndefined()
    const metrics = await call({ method: "GET", path: "/metrics", headers: {} })
    if (isFailure(metrics)) throw new Error(metrics.error)
    expect(metrics.status).toBe(200)
    expect(metrics.size).toBeLessThan(MAX_METRICS_BYTES)
  })
})
