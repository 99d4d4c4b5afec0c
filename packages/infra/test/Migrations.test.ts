import { assert, describe, it } from "@effect/vitest"
import { createHash } from "node:crypto"
import { Effect, Exit } from "effect"
import type pg from "pg"
import * as Database from "../src/Database.js"
import { MIGRATIONS_TABLE, migrations, runMigrations } from "../src/Migrations.js"
import { freshDatabase, migrateOnly, withClient } from "./utils.js"

const migrate = (connection: Effect.Effect.Success<typeof freshDatabase>) =>
  runMigrations.pipe(Effect.provide(Database.client(connection, { poolSize: 2 })))

const bigserial = (table: string) => `id bigint not null default nextval('${table}_id_seq'::regclass)`
const serial = (table: string) => `id integer not null default nextval('${table}_id_seq'::regclass)`
const varchar = (name: string, n: number, notNull = true) =>
  `${name} character varying(${n})${notNull ? " not null" : ""}`

/** docs/data.md §1 with the DECISIONS columns, in physical order. */
const COLUMNS: Record<string, ReadonlyArray<string>> = {
  bookings: [
    serial("bookings"),
    "room_id integer not null",
    "user_id integer not null",
    "date_from date not null",
    "date_to date not null",
    "price integer not null",
    "created_at timestamp with time zone not null default CURRENT_TIMESTAMP",
    "status character varying(16) not null default 'confirmed'::character varying",
    "hold_id integer"
  ],
  cities: [serial("cities"), varchar("name", 100), "country_id integer not null"],
  countries: [serial("countries"), varchar("name", 100), varchar("iso_code", 2)],
  facilities: [serial("facilities"), varchar("title", 100)],
  hotels: [
    serial("hotels"),
    varchar("title", 100),
    "check_in_time time without time zone default '14:00:00'::time without time zone",
    "check_out_time time without time zone default '12:00:00'::time without time zone",
    "city_id integer not null",
    "address text not null",
    varchar("postal_code", 20, false)
  ],
  hotels_images: ["hotel_id integer not null", "image_id integer not null"],
  images: [
    serial("images"),
    varchar("filename", 255),
    varchar("original_filename", 255),
    "width integer not null",
    "height integer not null",
    "status character varying(16) not null default 'done'::character varying",
    "error text",
    varchar("stored_filename", 255, false),
    "attempts integer not null default 0",
    "created_at timestamp with time zone not null default CURRENT_TIMESTAMP",
    "requeued_at timestamp with time zone"
  ],
  refresh_tokens: [
    serial("refresh_tokens"),
    "user_id integer not null",
    "expires_at timestamp with time zone not null",
    "created_at timestamp with time zone not null",
    "is_revoked boolean not null default false",
    "token_hash text not null",
    "token_version integer not null default 0"
  ],
  rooms: [
    serial("rooms"),
    "hotel_id integer not null",
    varchar("title", 100),
    "description text",
    "price integer not null",
    "quantity integer not null"
  ],
  rooms_facilities: ["room_id integer not null", "facility_id integer not null"],
  users: [
    serial("users"),
    varchar("email", 255),
    varchar("hashed_password", 255, false),
    varchar("first_name", 100, false),
    varchar("last_name", 100, false),
    "telegram_id bigint",
    "pachca_id bigint",
    "role character varying(16) not null default 'user'::character varying",
    "email_case_twin boolean not null default false",
    "token_version integer not null default 0"
  ]
}

/** Tables of the new service's own (D2), absent from a database the original made. */
const NEW_COLUMNS: Record<string, ReadonlyArray<string>> = {
  idempotency_keys: [
    "user_id integer not null",
    varchar("key", 255),
    "request_hash text not null",
    "booking_id integer",
    "response jsonb",
    "created_at timestamp with time zone not null default now()"
  ],
  revoked_access_tokens: ["jti text not null", "expires_at timestamp with time zone not null"],
  room_nights: [
    "room_id integer not null",
    "night date not null",
    "capacity integer not null",
    "sold integer not null default 0",
    "held integer not null default 0",
    "hotel_id integer not null"
  ],
  holds: [
    serial("holds"),
    "user_id integer not null",
    "room_id integer not null",
    "date_from date not null",
    "date_to date not null",
    "price integer not null",
    "status character varying(16) not null default 'active'::character varying",
    "expires_at timestamp with time zone not null",
    "created_at timestamp with time zone not null default now()",
    "booking_id integer"
  ],
  // docs/decisions.md D16: the outbox, webhook subscriptions and deliveries, and the audit log (0009)
  outbox_events: [
    bigserial("outbox_events"),
    "event_id uuid not null",
    "type text not null",
    "entity text not null",
    "hotel_id integer",
    "subscription_id integer",
    "data jsonb not null",
    "created_at timestamp with time zone not null default now()",
    "fanned_out_at timestamp with time zone"
  ],
  webhook_subscriptions: [
    serial("webhook_subscriptions"),
    "url text not null",
    "description text",
    "events text[] not null",
    "hotel_ids integer[]",
    "secret text not null",
    "previous_secret text",
    "previous_secret_expires_at timestamp with time zone",
    "enabled boolean not null default true",
    "disabled_reason text",
    "last_success_at timestamp with time zone",
    "created_at timestamp with time zone not null default now()",
    "updated_at timestamp with time zone not null default now()"
  ],
  webhook_deliveries: [
    bigserial("webhook_deliveries"),
    "subscription_id integer not null",
    "event_id bigint not null",
    "entity text not null",
    "status text not null default 'pending'::text",
    "attempts integer not null default 0",
    "next_attempt_at timestamp with time zone not null default now()",
    "leased_until timestamp with time zone",
    "lease_token uuid",
    "last_response_code integer",
    "last_duration_ms integer",
    "last_error text",
    "created_at timestamp with time zone not null default now()",
    "finished_at timestamp with time zone",
    // docs/decisions.md D16: behind an earlier pending delivery of its subscription and entity (0025)
    "held boolean not null default false"
  ],
  webhook_attempts: [
    bigserial("webhook_attempts"),
    "delivery_id bigint not null",
    "attempted_at timestamp with time zone not null default now()",
    "response_code integer",
    "duration_ms integer not null",
    "error text"
  ],
  // docs/decisions.md D7: the catalogue's version, bumped by every catalogue write (0015)
  catalogue_version: ["id boolean not null default true", "version bigint not null"],
  // docs/data.md §1.13d: the availability searches' room cards, kept by triggers (0020)
  room_cards: ["room_id integer not null", "head text not null", "facilities text not null"],
  audit_log: [
    bigserial("audit_log"),
    "at timestamp with time zone not null default now()",
    "actor_id integer",
    "actor_email text",
    "action text not null",
    "entity text not null",
    "entity_id text",
    "changes jsonb not null default '{}'::jsonb",
    "request_id text"
  ]
}

const cascade = (column: string, target: string) => `FOREIGN KEY (${column}) REFERENCES ${target}(id) ON DELETE CASCADE`

const CONSTRAINTS: Record<string, string> = {
  countries_pkey: "PRIMARY KEY (id)",
  countries_name_key: "UNIQUE (name)",
  countries_iso_code_key: "UNIQUE (iso_code)",
  cities_pkey: "PRIMARY KEY (id)",
  cities_country_id_fkey: cascade("country_id", "countries"),
  hotels_pkey: "PRIMARY KEY (id)",
  hotels_title_key: "UNIQUE (title)",
  hotels_city_id_fkey: cascade("city_id", "cities"),
  rooms_pkey: "PRIMARY KEY (id)",
  rooms_hotel_id_fkey: cascade("hotel_id", "hotels"),
  rooms_price_check: "CHECK ((price >= 0))",
  rooms_quantity_check: "CHECK ((quantity >= 0))",
  rooms_id_hotel_id_key: "UNIQUE (id, hotel_id)",
  facilities_pkey: "PRIMARY KEY (id)",
  rooms_facilities_pkey: "PRIMARY KEY (room_id, facility_id)",
  rooms_facilities_room_id_fkey: cascade("room_id", "rooms"),
  rooms_facilities_facility_id_fkey: cascade("facility_id", "facilities"),
  users_pkey: "PRIMARY KEY (id)",
  users_email_key: "UNIQUE (email)",
  users_role_check:
    "CHECK (((role)::text = ANY ((ARRAY['user'::character varying, 'admin'::character varying])::text[])))",
  bookings_pkey: "PRIMARY KEY (id)",
  bookings_room_id_fkey: cascade("room_id", "rooms"),
  bookings_user_id_fkey: cascade("user_id", "users"),
  bookings_dates_check: "CHECK ((date_from < date_to))",
  bookings_status_check:
    "CHECK (((status)::text = ANY ((ARRAY['confirmed'::character varying, 'cancelled'::character varying])::text[])))",
  images_pkey: "PRIMARY KEY (id)",
  images_status_check:
    "CHECK (((status)::text = ANY ((ARRAY['pending'::character varying, 'done'::character varying, 'failed'::character varying])::text[])))",
  hotels_images_pkey: "PRIMARY KEY (hotel_id, image_id)",
  hotels_images_hotel_id_fkey: cascade("hotel_id", "hotels"),
  hotels_images_image_id_fkey: cascade("image_id", "images"),
  refresh_tokens_pkey: "PRIMARY KEY (id)",
  refresh_tokens_user_id_fkey: cascade("user_id", "users"),
  room_nights_pkey: "PRIMARY KEY (room_id, night)",
  // the room's hotel kept by the database (0028)
  room_nights_room_id_fkey:
    "FOREIGN KEY (room_id, hotel_id) REFERENCES rooms(id, hotel_id) ON UPDATE CASCADE ON DELETE CASCADE",
  room_nights_sold_check: "CHECK (((sold >= 0) AND (held >= 0) AND ((sold + held) <= capacity)))",
  holds_pkey: "PRIMARY KEY (id)",
  holds_user_id_fkey: cascade("user_id", "users"),
  holds_room_id_fkey: cascade("room_id", "rooms"),
  holds_status_check:
    "CHECK (((status)::text = ANY ((ARRAY['active'::character varying, 'confirmed'::character varying, 'released'::character varying, 'expired'::character varying])::text[])))",
  holds_dates_check: "CHECK ((date_from < date_to))",
  idempotency_keys_pkey: "PRIMARY KEY (user_id, key)",
  revoked_access_tokens_pkey: "PRIMARY KEY (jti)",
  idempotency_keys_user_id_fkey: cascade("user_id", "users"),
  outbox_events_pkey: "PRIMARY KEY (id)",
  outbox_events_event_id_key: "UNIQUE (event_id)",
  webhook_subscriptions_pkey: "PRIMARY KEY (id)",
  webhook_deliveries_pkey: "PRIMARY KEY (id)",
  webhook_deliveries_status_check: "CHECK ((status = ANY (ARRAY['pending'::text, 'delivered'::text, 'dead'::text])))",
  webhook_deliveries_subscription_id_fkey: cascade("subscription_id", "webhook_subscriptions"),
  webhook_deliveries_event_id_fkey: "FOREIGN KEY (event_id) REFERENCES outbox_events(id)",
  webhook_attempts_pkey: "PRIMARY KEY (id)",
  webhook_attempts_delivery_id_fkey: cascade("delivery_id", "webhook_deliveries"),
  audit_log_pkey: "PRIMARY KEY (id)",
  catalogue_version_pkey: "PRIMARY KEY (id)",
  catalogue_version_id_check: "CHECK (id)",
  room_cards_pkey: "PRIMARY KEY (room_id)",
  room_cards_room_id_fkey: "FOREIGN KEY (room_id) REFERENCES rooms(id) ON UPDATE CASCADE ON DELETE CASCADE",
  // 0015's deferred bump of the catalogue's version: a constraint trigger is a constraint too
  ...Object.fromEntries(
    ["countries", "cities", "hotels", "rooms", "facilities", "rooms_facilities"].map((table) => [
      `${table}_catalogue_version`,
      "TRIGGER DEFERRABLE INITIALLY DEFERRED"
    ])
  )
}

/** Indexes other than those backing the constraints above: "[UNIQUE ]table (key)". */
const INDEXES: Record<string, string> = {
  ix_cities_country_id: "cities (country_id)",
  ix_hotels_city_id: "hotels (city_id)",
  ix_rooms_hotel_id: "rooms (hotel_id)",
  // docs/data.md §1.12: a hotel's nights of a stay in one range scan (0028)
  ix_room_nights_hotel_night: "room_nights (hotel_id, night)",
  ix_users_email: "UNIQUE users (email)",
  ix_bookings_room_id: "bookings (room_id)",
  ix_bookings_date_from: "bookings (date_from)",
  ix_bookings_date_to: "bookings (date_to)",
  ix_bookings_room_dates: "bookings (room_id, date_from, date_to)",
  ix_bookings_user_id: "bookings (user_id)",
  ix_refresh_tokens_user_id: "refresh_tokens (user_id)",
  ix_refresh_tokens_expires_at: "refresh_tokens (expires_at)",
  ix_refresh_tokens_token_hash: "UNIQUE refresh_tokens (token_hash)",
  ux_cities_country_id_name: "UNIQUE cities (country_id, name)",
  ux_countries_lower_name: "UNIQUE countries (lower((name)::text))",
  ix_idempotency_keys_created_at: "idempotency_keys (created_at)",
  ix_images_pending_created_at: "images (created_at) WHERE ((status)::text = 'pending'::text)",
  ux_users_lower_email: "UNIQUE users (lower((email)::text)) WHERE (NOT email_case_twin)",
  ix_revoked_access_tokens_expires_at: "revoked_access_tokens (expires_at)",
  ix_holds_active_room: "holds (room_id, date_from) WHERE ((status)::text = 'active'::text)",
  ix_holds_active_expires_at: "holds (expires_at) WHERE ((status)::text = 'active'::text)",
  ix_holds_active_user: "holds (user_id) WHERE ((status)::text = 'active'::text)",
  ix_holds_user_id: "holds (user_id)",
  ux_bookings_hold_id: "UNIQUE bookings (hold_id) WHERE (hold_id IS NOT NULL)",
  ix_outbox_events_not_fanned_out: "outbox_events (id) WHERE (fanned_out_at IS NULL)",
  ix_webhook_deliveries_subscription: "webhook_deliveries (subscription_id, id)",
  ix_webhook_deliveries_leased: "webhook_deliveries (subscription_id) WHERE (leased_until IS NOT NULL)",
  ix_webhook_deliveries_ended: "webhook_deliveries (finished_at) WHERE (status <> 'pending'::text)",
  ix_webhook_deliveries_event: "webhook_deliveries (event_id)",
  ix_outbox_events_created_at: "outbox_events (created_at)",
  ix_webhook_attempts_delivery: "webhook_attempts (delivery_id, id)",
  ix_audit_log_entity: "audit_log (entity, entity_id, id)",
  ix_audit_log_actor: "audit_log (actor_id, id)",
  ix_audit_log_at: "audit_log (at)",
  // docs/decisions.md D17: GET /audit's filters, each in id order (0016)
  ix_audit_log_action: "audit_log (action, id)",
  ix_audit_log_entity_only: "audit_log (entity, id)",
  ix_audit_log_at_id: "audit_log (at, id)",
  // and combined (0019)
  ix_audit_log_action_entity: "audit_log (action, entity, id)",
  ix_audit_log_actor_entity: "audit_log (actor_id, entity, id)",
  ix_audit_log_actor_action: "audit_log (actor_id, action, id)",
  ix_audit_log_actor_action_entity: "audit_log (actor_id, action, entity, id)",
  // docs/decisions.md D16: pings by subscription (0020); the claim reads the queues' heads per subscription in
  // its order, the triggers each queue in its order (0025, in place of 0009's order and 0020's claim index)
  ix_outbox_events_ping: "outbox_events (subscription_id) WHERE (subscription_id IS NOT NULL)",
  ix_webhook_deliveries_heads:
    "webhook_deliveries (subscription_id, next_attempt_at, id) WHERE ((status = 'pending'::text) AND (NOT held))",
  ix_webhook_deliveries_queue:
    "webhook_deliveries (subscription_id, entity, event_id, id) WHERE (status = 'pending'::text)"
}

interface Schema {
  readonly columns: Record<string, Array<string>>
  readonly constraints: Record<string, { def: string; validated: boolean }>
  readonly indexes: Record<string, string>
}

// one query at a time: a pg.Client does not multiplex
const snapshot = async (client: pg.Client): Promise<Schema> => {
  const columns = await client.query<{ table: string; column: string }>(`
      SELECT c.relname AS table, a.attname || ' ' || format_type(a.atttypid, a.atttypmod)
             || CASE WHEN a.attnotnull THEN ' not null' ELSE '' END
             || coalesce(' default ' || pg_get_expr(d.adbin, d.adrelid), '') AS column
      FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
      LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
      WHERE c.relnamespace = 'public'::regnamespace AND c.relkind = 'r' AND a.attnum > 0 AND NOT a.attisdropped
        AND c.relname NOT IN ('shum_migrations', 'alembic_version')
      ORDER BY c.relname, a.attnum`)
  const constraints = await client.query<{ name: string; def: string; validated: boolean }>(`
      SELECT conname AS name, pg_get_constraintdef(oid) AS def, convalidated AS validated FROM pg_constraint
      WHERE connamespace = 'public'::regnamespace
        AND conrelid::regclass::text NOT IN ('shum_migrations', 'alembic_version')`)
  const indexes = await client.query<{ name: string; def: string }>(`
      SELECT indexname AS name, indexdef AS def FROM pg_indexes
      WHERE schemaname = 'public' AND tablename NOT IN ('shum_migrations', 'alembic_version')`)
  const byTable: Record<string, Array<string>> = {}
  for (const { column, table } of columns.rows) (byTable[table] ??= []).push(column)
  return {
    columns: byTable,
    constraints: Object.fromEntries(constraints.rows.map(({ name, ...rest }) => [name, rest])),
    indexes: Object.fromEntries(indexes.rows.map(({ def, name }) => [name, def]))
  }
}

const assertFinalSchema = (schema: Schema) => {
  assert.deepStrictEqual(schema.columns, { ...COLUMNS, ...NEW_COLUMNS })
  assert.deepStrictEqual(
    Object.fromEntries(Object.entries(schema.constraints).map(([name, { def }]) => [name, def])),
    CONSTRAINTS
  )
  for (const [name, { validated }] of Object.entries(schema.constraints)) assert.isTrue(validated, name)
  const constraintIndexes = Object.keys(CONSTRAINTS).filter((name) => /_(pkey|key)$/.test(name))
  assert.sameMembers(Object.keys(schema.indexes), [...constraintIndexes, ...Object.keys(INDEXES)])
  for (const [name, expected] of Object.entries(INDEXES)) {
    const unique = expected.startsWith("UNIQUE ")
    const [table, key] = expected.replace("UNIQUE ", "").split(/ (.*)/)
    assert.strictEqual(
      schema.indexes[name],
      `CREATE ${unique ? "UNIQUE " : ""}INDEX ${name} ON public.${table} USING btree ${key}`
    )
  }
}

// What the original's alembic head (386154a05459) leaves behind, written the way SQLAlchemy emits it:
// unnamed constraints, so PostgreSQL's own naming must give the names docs/data.md lists.
const ORIGINAL_DDL = `
CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL, CONSTRAINT alembic_version_pkc PRIMARY KEY (version_num));
INSERT INTO alembic_version (version_num) VALUES ('386154a05459');
CREATE TABLE countries (id SERIAL NOT NULL, name VARCHAR(100) NOT NULL, iso_code VARCHAR(2) NOT NULL,
  PRIMARY KEY (id), UNIQUE (name), UNIQUE (iso_code));
CREATE TABLE cities (id SERIAL NOT NULL, name VARCHAR(100) NOT NULL, country_id INTEGER NOT NULL,
  PRIMARY KEY (id), FOREIGN KEY(country_id) REFERENCES countries (id) ON DELETE CASCADE);
CREATE INDEX ix_cities_country_id ON cities (country_id);
CREATE TABLE hotels (id SERIAL NOT NULL, title VARCHAR(100) NOT NULL,
  check_in_time TIME WITHOUT TIME ZONE DEFAULT '14:00:00', check_out_time TIME WITHOUT TIME ZONE DEFAULT '12:00:00',
  city_id INTEGER NOT NULL, address TEXT NOT NULL, postal_code VARCHAR(20),
  PRIMARY KEY (id), UNIQUE (title), FOREIGN KEY(city_id) REFERENCES cities (id) ON DELETE CASCADE);
CREATE INDEX ix_hotels_city_id ON hotels (city_id);
CREATE TABLE rooms (id SERIAL NOT NULL, hotel_id INTEGER NOT NULL, title VARCHAR(100) NOT NULL, description TEXT,
  price INTEGER NOT NULL, quantity INTEGER NOT NULL,
  PRIMARY KEY (id), FOREIGN KEY(hotel_id) REFERENCES hotels (id) ON DELETE CASCADE);
CREATE INDEX ix_rooms_hotel_id ON rooms (hotel_id);
CREATE TABLE facilities (id SERIAL NOT NULL, title VARCHAR(100) NOT NULL, PRIMARY KEY (id));
CREATE TABLE rooms_facilities (room_id INTEGER NOT NULL, facility_id INTEGER NOT NULL, PRIMARY KEY (room_id, facility_id),
  FOREIGN KEY(room_id) REFERENCES rooms (id) ON DELETE CASCADE,
  FOREIGN KEY(facility_id) REFERENCES facilities (id) ON DELETE CASCADE);
CREATE TABLE users (id SERIAL NOT NULL, email VARCHAR(255) NOT NULL, hashed_password VARCHAR(255),
  first_name VARCHAR(100), last_name VARCHAR(100), telegram_id BIGINT, pachca_id BIGINT, PRIMARY KEY (id), UNIQUE (email));
CREATE UNIQUE INDEX ix_users_email ON users (email);
CREATE TABLE bookings (id SERIAL NOT NULL, room_id INTEGER NOT NULL, user_id INTEGER NOT NULL, date_from DATE NOT NULL,
  date_to DATE NOT NULL, price INTEGER NOT NULL, created_at TIMESTAMP WITH TIME ZONE DEFAULT CURRENT_TIMESTAMP NOT NULL,
  PRIMARY KEY (id), FOREIGN KEY(room_id) REFERENCES rooms (id) ON DELETE CASCADE,
  FOREIGN KEY(user_id) REFERENCES users (id) ON DELETE CASCADE);
CREATE INDEX ix_bookings_room_id ON bookings (room_id);
CREATE INDEX ix_bookings_date_from ON bookings (date_from);
CREATE INDEX ix_bookings_date_to ON bookings (date_to);
CREATE INDEX ix_bookings_room_dates ON bookings (room_id, date_from, date_to);
CREATE INDEX ix_bookings_user_id ON bookings (user_id);
CREATE TABLE images (id SERIAL NOT NULL, filename VARCHAR(255) NOT NULL, original_filename VARCHAR(255) NOT NULL,
  width INTEGER NOT NULL, height INTEGER NOT NULL, PRIMARY KEY (id));
CREATE TABLE hotels_images (hotel_id INTEGER NOT NULL, image_id INTEGER NOT NULL, PRIMARY KEY (hotel_id, image_id),
  FOREIGN KEY(hotel_id) REFERENCES hotels (id) ON DELETE CASCADE, FOREIGN KEY(image_id) REFERENCES images (id) ON DELETE CASCADE);
CREATE TABLE refresh_tokens (id SERIAL NOT NULL, user_id INTEGER NOT NULL, token TEXT NOT NULL,
  expires_at TIMESTAMP WITH TIME ZONE NOT NULL, created_at TIMESTAMP WITH TIME ZONE NOT NULL,
  is_revoked BOOLEAN DEFAULT false NOT NULL, PRIMARY KEY (id), FOREIGN KEY(user_id) REFERENCES users (id) ON DELETE CASCADE);
CREATE INDEX ix_refresh_tokens_user_id ON refresh_tokens (user_id);
CREATE UNIQUE INDEX ix_refresh_tokens_token ON refresh_tokens (token);
CREATE INDEX ix_refresh_tokens_expires_at ON refresh_tokens (expires_at);
`

// the backslash and the Cyrillic letter prove the hash is over the UTF-8 bytes, as the app computes it
const CLEAR_TOKENS = ["eyJhbGciOiJIUzI1NiJ9.refresh-Ж\\x41", "second-token"]

const ORIGINAL_ROWS = `
INSERT INTO countries (name, iso_code) VALUES ('Россия', 'RU'), ('Франция', 'FR');
INSERT INTO cities (name, country_id) VALUES ('Москва', 1), ('Париж', 2);
INSERT INTO hotels (title, city_id, address, postal_code) VALUES ('Гранд Отель Москва', 1, 'ул. Тверская, 1', '125009');
INSERT INTO hotels (title, check_in_time, check_out_time, city_id, address) VALUES ('Le Petit', '15:00', '11:00', 2, 'Rue 2');
INSERT INTO rooms (hotel_id, title, description, price, quantity) VALUES (1, 'Стандартный номер', 'Уютный', 3000, 5), (2, 'Suite', NULL, 0, 0);
INSERT INTO facilities (title) VALUES ('Wi-Fi'), ('Кондиционер');
INSERT INTO rooms_facilities (room_id, facility_id) VALUES (1, 1), (1, 2), (2, 1);
INSERT INTO users (email, hashed_password, first_name, last_name, telegram_id, pachca_id)
  VALUES ('ivan@example.com', '$2b$12$abcdefghijklmnopqrstuuQ7Yx0yYHkHKJ2C2nV4kQ0zN5wV5qK6W', 'Иван', 'Петров', 1234567890123, 42),
         ('anna@example.com', NULL, NULL, NULL, NULL, NULL);
INSERT INTO bookings (room_id, user_id, date_from, date_to, price) VALUES (1, 1, '2030-01-01', '2030-01-03', 6000);
INSERT INTO bookings (room_id, user_id, date_from, date_to, price, created_at) VALUES (2, 2, '2024-05-01', '2024-05-02', 0, '2024-04-01T10:00:00Z');
INSERT INTO images (filename, original_filename, width, height) VALUES ('photo.jpg', 'photo.jpg', 1200, 800);
INSERT INTO hotels_images (hotel_id, image_id) VALUES (1, 1);
INSERT INTO refresh_tokens (user_id, token, expires_at, created_at, is_revoked) VALUES
  (1, $1, '2030-01-01T00:00:00Z', '2024-01-01T00:00:00Z', false),
  (2, $2, '2024-02-01T00:00:00Z', '2024-01-01T00:00:00Z', true);
`

const TABLES = Object.keys(COLUMNS)

const dump = async (client: pg.Client) => {
  const tables: Record<string, Array<Record<string, unknown>>> = {}
  for (const table of TABLES) {
    const { rows } = await client.query<{ row: Record<string, unknown> }>(
      `SELECT to_jsonb(t) AS row FROM ${table} t ORDER BY 1`
    )
    tables[table] = rows.map(({ row }) => row)
  }
  return tables
}

const createOriginal = (name: string) =>
  withClient(name, async (client) => {
    await client.query(ORIGINAL_DDL)
    // multi-statement text with parameters is not allowed: insert the tokens in a second step
    const [first, ...rest] = ORIGINAL_ROWS.split("INSERT INTO refresh_tokens")
    await client.query(first!)
    await client.query(`INSERT INTO refresh_tokens${rest.join("")}`, CLEAR_TOKENS)
  })

const sha256 = (token: string) => createHash("sha256").update(token, "utf8").digest("hex")

describe("Migrations", () => {
  it.scopedLive("a migration skipped by an earlier run (added below one already applied) fails the start, named", () =>
    Effect.gen(function* () {
      const db = yield* freshDatabase
      const all = Object.keys(migrations) as Array<keyof typeof migrations>
      const skipped = all.at(-2)!
      // the database of a build that had the last migration but not the one before it
      yield* migrateOnly(
        db,
        all.filter((id) => id !== skipped)
      )
      const exit = yield* Effect.exit(migrate(db))
      assert.isTrue(Exit.isFailure(exit))
      const message = String(Exit.isFailure(exit) ? exit.cause : "")
      assert.include(message, `migration ${skipped} was never applied to this database`)
      assert.include(message, "delete it (the embedded default's .data/postgres)")
    })
  )

  it.scopedLive("a number applied under another name (reused after a withdrawal) fails the start, named", () =>
    Effect.gen(function* () {
      const db = yield* freshDatabase
      yield* migrate(db)
      const all = Object.keys(migrations)
      const last = all.at(-1)!
      yield* withClient(db.name, (client) =>
        client.query(`UPDATE ${MIGRATIONS_TABLE} SET name = 'something_else' WHERE migration_id = $1`, [
          Number(last.slice(0, 4))
        ])
      )
      const exit = yield* Effect.exit(migrate(db))
      assert.isTrue(Exit.isFailure(exit))
      const message = String(Exit.isFailure(exit) ? exit.cause : "")
      assert.include(message, `migration ${last} was never applied to this database`)
      assert.include(message, `${last.slice(0, 4)}_something_else`)
    })
  )

  it.scopedLive("an empty database migrates to the docs/data.md schema with the DECISIONS changes", () =>
    Effect.gen(function* () {
      const db = yield* freshDatabase
      const applied = yield* migrate(db)
      assert.deepStrictEqual(applied, [
        [1, "baseline"],
        [2, "decisions"],
        [3, "bookings_inventory"],
        [4, "bookings_row_trigger"],
        [5, "images_requeue"],
        [6, "identity"],
        [7, "booking_path"],
        [8, "holds"],
        [9, "outbox_webhooks_audit"],
        [10, "booking_commands"],
        [11, "webhook_leases"],
        [12, "hold_confirm_in_place"],
        [13, "webhook_retention"],
        [14, "session_in_write"],
        [15, "catalogue_version"],
        [16, "audit_log_indexes"],
        [17, "sold_out_without_locks"],
        [18, "holds_session_in_write"],
        [19, "audit_log_combined_indexes"],
        [20, "webhook_claim_index"],
        [21, "room_cards"],
        [22, "stays_lock_room_first"],
        [23, "room_cards_facility_locks"],
        [24, "hold_refused_without_locks"],
        [25, "webhook_queue_heads"],
        [26, "webhook_queue_locks"],
        [27, "write_path_generic_plans"],
        [28, "room_nights_hotel"],
        [29, "webhook_record_in_claim"],
        [30, "bookings_fewer_indexes"],
        [31, "bookings_indexes_back"],
        [32, "room_nights_hotel_written"]
      ])
      const schema = yield* withClient(db.name, snapshot)
      assertFinalSchema(schema)
      assert.isUndefined(schema.indexes.ix_refresh_tokens_token)
      const tables = yield* withClient(db.name, (c) =>
        c.query(`SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1`)
      )
      assert.deepStrictEqual(
        tables.rows.map((r) => r.tablename),
        [...TABLES, ...Object.keys(NEW_COLUMNS), "shum_migrations"].sort()
      )
    })
  )

  it.scopedLive("migrating again is a no-op", () =>
    Effect.gen(function* () {
      const db = yield* freshDatabase
      yield* migrate(db)
      const before = yield* withClient(db.name, snapshot)
      assert.deepStrictEqual(yield* migrate(db), [])
      assert.deepStrictEqual(yield* withClient(db.name, snapshot), before)
    })
  )

  it.scopedLive("server and worker migrating an empty database at once apply it once", () =>
    Effect.gen(function* () {
      const db = yield* freshDatabase
      const results = yield* Effect.all([migrate(db), migrate(db), migrate(db)], { concurrency: "unbounded" })
      assert.strictEqual(results.flat().length, Object.keys(migrations).length)
      assertFinalSchema(yield* withClient(db.name, snapshot))
    })
  )

  it.scopedLive("a database made by the original is adopted without losing anything", () =>
    Effect.gen(function* () {
      const db = yield* freshDatabase
      yield* createOriginal(db.name)
      const before = yield* withClient(db.name, dump)
      yield* migrate(db)
      const after = yield* withClient(db.name, dump)
      const schema = yield* withClient(db.name, snapshot)
      assertFinalSchema(schema)

      for (const table of TABLES) {
        assert.strictEqual(after[table]!.length, before[table]!.length, table)
        assert.isAbove(before[table]!.length, 0, table)
        before[table]!.forEach((row, i) => {
          const { token: _, ...kept } = row
          assert.deepInclude(after[table]![i]!, kept, table)
        })
      }
      assert.deepStrictEqual(
        after.refresh_tokens!.map((r) => r.token_hash),
        before.refresh_tokens!.map((r) => sha256(r.token as string))
      )
      assert.deepStrictEqual(
        before.refresh_tokens!.map((r) => r.token),
        CLEAR_TOKENS
      )
      assert.isTrue(after.users!.every((r) => r.role === "user"))
      assert.isTrue(
        after.images!.every(
          (r) => r.status === "done" && r.attempts === 0 && r.error === null && r.stored_filename === null
        )
      )
      const alembic = yield* withClient(db.name, (c) => c.query(`SELECT version_num FROM alembic_version`))
      assert.deepStrictEqual(alembic.rows, [{ version_num: "386154a05459" }])

      // the adopted database keeps working: serial ids continue, new checks apply to new rows
      yield* withClient(db.name, async (c) => {
        const { rows } = await c.query(`INSERT INTO countries (name, iso_code) VALUES ('Италия', 'IT') RETURNING id`)
        assert.deepStrictEqual(rows, [{ id: 3 }])
        await c.query(`INSERT INTO countries (name, iso_code) VALUES ('италия', 'XX')`).then(
          () => assert.fail("ux_countries_lower_name should refuse a case-insensitive duplicate"),
          (error: { constraint?: string }) => assert.strictEqual(error.constraint, "ux_countries_lower_name")
        )
      })
      assert.deepStrictEqual(yield* migrate(db), [])
    })
  )

  it.scopedLive("legacy data breaking the new rules is kept; those rules are left off with a warning", () =>
    Effect.gen(function* () {
      const db = yield* freshDatabase
      yield* createOriginal(db.name)
      yield* withClient(db.name, (c) =>
        c.query(`
          INSERT INTO countries (name, iso_code) VALUES ('россия', 'R2');
          INSERT INTO cities (name, country_id) VALUES ('Москва', 1);
          INSERT INTO rooms (hotel_id, title, price, quantity) VALUES (1, 'Broken', -1, 1);
          INSERT INTO bookings (room_id, user_id, date_from, date_to, price) VALUES (1, 1, '2030-02-02', '2030-02-02', 0);`)
      )
      yield* migrate(db)
      const schema = yield* withClient(db.name, snapshot)
      assert.isUndefined(schema.indexes.ux_countries_lower_name)
      assert.isUndefined(schema.indexes.ux_cities_country_id_name)
      assert.isFalse(schema.constraints.rooms_price_check!.validated)
      assert.isTrue(schema.constraints.rooms_quantity_check!.validated)
      assert.isFalse(schema.constraints.bookings_dates_check!.validated)
      const counts = yield* withClient(db.name, (c) =>
        c.query(
          `SELECT (SELECT count(*) FROM countries)::int AS countries, (SELECT count(*) FROM bookings)::int AS bookings`
        )
      )
      assert.deepStrictEqual(counts.rows, [{ countries: 3, bookings: 3 }])
      // NOT VALID still guards new rows
      const insert = yield* withClient(db.name, (c) =>
        c.query(`INSERT INTO rooms (hotel_id, title, price, quantity) VALUES (1, 'x', -5, 1)`).then(
          () => "inserted",
          (error: { constraint?: string }) => error.constraint
        )
      )
      assert.strictEqual(insert, "rooms_price_check")
    })
  )

  it.scopedLive("a partial or older schema is refused, untouched", () =>
    Effect.gen(function* () {
      const partial = yield* freshDatabase
      yield* withClient(partial.name, (c) => c.query(`CREATE TABLE countries (id serial PRIMARY KEY)`))
      const exit = yield* Effect.exit(migrate(partial))
      assert.isTrue(Exit.isFailure(exit))
      assert.include(String(Exit.isFailure(exit) ? exit.cause : ""), "only some of the original tables")

      const older = yield* freshDatabase
      yield* createOriginal(older.name)
      yield* withClient(older.name, (c) => c.query(`UPDATE alembic_version SET version_num = 'aaaaaaaaaaaa'`))
      const refused = yield* Effect.exit(migrate(older))
      assert.include(String(Exit.isFailure(refused) ? refused.cause : ""), "expected 386154a05459")
      const columns = yield* withClient(older.name, (c) =>
        c.query(`SELECT 1 FROM information_schema.columns WHERE table_name = 'users' AND column_name = 'role'`)
      )
      assert.strictEqual(columns.rowCount, 0)
    })
  )
})
