import * as SqlClient from "@effect/sql/SqlClient"
import { Effect } from "effect"

/** The original's tables at its head revision, with the names docs/data.md lists. */
export const ORIGINAL_HEAD = "386154a05459"

export const ORIGINAL_TABLES = [
  "countries",
  "cities",
  "hotels",
  "rooms",
  "facilities",
  "rooms_facilities",
  "users",
  "bookings",
  "images",
  "hotels_images",
  "refresh_tokens"
] as const

const DDL = `
CREATE TABLE countries (
  id serial NOT NULL,
  name varchar(100) NOT NULL,
  iso_code varchar(2) NOT NULL,
  CONSTRAINT countries_pkey PRIMARY KEY (id),
  CONSTRAINT countries_name_key UNIQUE (name),
  CONSTRAINT countries_iso_code_key UNIQUE (iso_code)
);

CREATE TABLE cities (
  id serial NOT NULL,
  name varchar(100) NOT NULL,
  country_id integer NOT NULL,
  CONSTRAINT cities_pkey PRIMARY KEY (id),
  CONSTRAINT cities_country_id_fkey FOREIGN KEY (country_id) REFERENCES countries (id) ON DELETE CASCADE
);
CREATE INDEX ix_cities_country_id ON cities (country_id);

CREATE TABLE hotels (
  id serial NOT NULL,
  title varchar(100) NOT NULL,
  check_in_time time without time zone DEFAULT '14:00:00',
  check_out_time time without time zone DEFAULT '12:00:00',
  city_id integer NOT NULL,
  address text NOT NULL,
  postal_code varchar(20),
  CONSTRAINT hotels_pkey PRIMARY KEY (id),
  CONSTRAINT hotels_title_key UNIQUE (title),
  CONSTRAINT hotels_city_id_fkey FOREIGN KEY (city_id) REFERENCES cities (id) ON DELETE CASCADE
);
CREATE INDEX ix_hotels_city_id ON hotels (city_id);

CREATE TABLE rooms (
  id serial NOT NULL,
  hotel_id integer NOT NULL,
  title varchar(100) NOT NULL,
  description text,
  price integer NOT NULL,
  quantity integer NOT NULL,
  CONSTRAINT rooms_pkey PRIMARY KEY (id),
  CONSTRAINT rooms_hotel_id_fkey FOREIGN KEY (hotel_id) REFERENCES hotels (id) ON DELETE CASCADE
);
CREATE INDEX ix_rooms_hotel_id ON rooms (hotel_id);

CREATE TABLE facilities (
  id serial NOT NULL,
  title varchar(100) NOT NULL,
  CONSTRAINT facilities_pkey PRIMARY KEY (id)
);

CREATE TABLE rooms_facilities (
  room_id integer NOT NULL,
  facility_id integer NOT NULL,
  CONSTRAINT rooms_facilities_pkey PRIMARY KEY (room_id, facility_id),
  CONSTRAINT rooms_facilities_room_id_fkey FOREIGN KEY (room_id) REFERENCES rooms (id) ON DELETE CASCADE,
  CONSTRAINT rooms_facilities_facility_id_fkey FOREIGN KEY (facility_id) REFERENCES facilities (id) ON DELETE CASCADE
);

CREATE TABLE users (
  id serial NOT NULL,
  email varchar(255) NOT NULL,
  hashed_password varchar(255),
  first_name varchar(100),
  last_name varchar(100),
  telegram_id bigint,
  pachca_id bigint,
  CONSTRAINT users_pkey PRIMARY KEY (id),
  CONSTRAINT users_email_key UNIQUE (email)
);
CREATE UNIQUE INDEX ix_users_email ON users (email);

CREATE TABLE bookings (
  id serial NOT NULL,
  room_id integer NOT NULL,
  user_id integer NOT NULL,
  date_from date NOT NULL,
  date_to date NOT NULL,
  price integer NOT NULL,
  created_at timestamp with time zone NOT NULL DEFAULT CURRENT_TIMESTAMP,
  CONSTRAINT bookings_pkey PRIMARY KEY (id),
  CONSTRAINT bookings_room_id_fkey FOREIGN KEY (room_id) REFERENCES rooms (id) ON DELETE CASCADE,
  CONSTRAINT bookings_user_id_fkey FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE
);
CREATE INDEX ix_bookings_room_id ON bookings (room_id);
CREATE INDEX ix_bookings_date_from ON bookings (date_from);
CREATE INDEX ix_bookings_date_to ON bookings (date_to);
CREATE INDEX ix_bookings_room_dates ON bookings (room_id, date_from, date_to);
CREATE INDEX ix_bookings_user_id ON bookings (user_id);

CREATE TABLE images (
  id serial NOT NULL,
  filename varchar(255) NOT NULL,
  original_filename varchar(255) NOT NULL,
  width integer NOT NULL,
  height integer NOT NULL,
  CONSTRAINT images_pkey PRIMARY KEY (id)
);

CREATE TABLE hotels_images (
  hotel_id integer NOT NULL,
  image_id integer NOT NULL,
  CONSTRAINT hotels_images_pkey PRIMARY KEY (hotel_id, image_id),
  CONSTRAINT hotels_images_hotel_id_fkey FOREIGN KEY (hotel_id) REFERENCES hotels (id) ON DELETE CASCADE,
  CONSTRAINT hotels_images_image_id_fkey FOREIGN KEY (image_id) REFERENCES images (id) ON DELETE CASCADE
);

CREATE TABLE refresh_tokens (
  id serial NOT NULL,
  user_id integer NOT NULL,
  token text NOT NULL,
  expires_at timestamp with time zone NOT NULL,
  created_at timestamp with time zone NOT NULL,
  is_revoked boolean NOT NULL DEFAULT false,
  CONSTRAINT refresh_tokens_pkey PRIMARY KEY (id),
  CONSTRAINT refresh_tokens_user_id_fkey FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE
);
CREATE INDEX ix_refresh_tokens_user_id ON refresh_tokens (user_id);
CREATE UNIQUE INDEX ix_refresh_tokens_token ON refresh_tokens (token);
CREATE INDEX ix_refresh_tokens_expires_at ON refresh_tokens (expires_at);
`

/**
 * Creates the original schema on an empty database, or adopts one the original made: when its tables
 * are all there (at alembic head, if alembic_version exists) nothing is created and nothing is lost.
 * A partial or older schema is refused rather than guessed at.
 */
export default Effect.gen(function* () {
  const sql = yield* SqlClient.SqlClient
  const present = yield* sql<{ name: string }>`
    SELECT c.relname AS name FROM pg_class c
    WHERE c.relkind IN ('r', 'p') AND c.relnamespace = current_schema()::regnamespace
      AND c.relname IN ${sql.in([...ORIGINAL_TABLES, "alembic_version"])}`
  const names = new Set(present.map((row) => row.name))
  if (names.has("alembic_version")) {
    const versions = yield* sql<{ version: string }>`SELECT version_num AS version FROM alembic_version`
    const version = versions.map((row) => row.version).join(", ")
    if (version !== ORIGINAL_HEAD) {
      return yield* Effect.dieMessage(
        `alembic_version is "${version}", expected ${ORIGINAL_HEAD}: upgrade with the original's migrations first`
      )
    }
  }
  const found = ORIGINAL_TABLES.filter((table) => names.has(table))
  if (found.length === ORIGINAL_TABLES.length) {
    return yield* Effect.logInfo("baseline: adopting the existing schema of the original")
  }
  if (found.length > 0) {
    return yield* Effect.dieMessage(`baseline: found only some of the original tables (${found.join(", ")})`)
  }
  yield* sql.unsafe(DDL)
})
