/**
 * Webhooks from a transactional outbox (docs/decisions.md D16).
 *
 * `outbox_events`: one row per change that matters, written by `Outbox.record` in the transaction of the
 * change itself, so a rolled-back change leaves no event and a committed one always has its event. `entity`
 * (`booking:12`) orders deliveries; `hotel_id` serves the subscriptions' hotel filter; `subscription_id` is
 * set only on a ping, which goes to that subscription alone. The dispatcher turns each event into one
 * `webhook_deliveries` row per matching subscription (`fanned_out_at` marks it done).
 *
 * `webhook_subscriptions.secret` holds the signing secret encrypted (AES-256-GCM, `Webhooks/Secrets.ts`):
 * signing needs the secret itself, so it cannot be hashed. After a rotation the previous one signs too
 * until `previous_secret_expires_at`.
 *
 * `webhook_deliveries`: one event for one subscription — `pending` until a 2xx (`delivered`) or the last
 * attempt (`dead`); `leased_until`/`lease_token` are the claim of the worker that is sending it (a dead
 * worker's claim simply lapses: at least once). `webhook_attempts` keeps each try.
 *
 * `audit_log`: append-only (a trigger refuses UPDATE and DELETE).
 */
import * as SqlClient from "@effect/sql/SqlClient"
import { Effect } from "effect"

const SQL = `
CREATE TABLE outbox_events (
  id bigserial PRIMARY KEY,
  event_id uuid NOT NULL UNIQUE,
  type text NOT NULL,
  entity text NOT NULL,
  hotel_id integer,
  subscription_id integer,
  data jsonb NOT NULL,
  created_at timestamp with time zone NOT NULL DEFAULT now(),
  fanned_out_at timestamp with time zone
);
CREATE INDEX ix_outbox_events_not_fanned_out ON outbox_events (id) WHERE fanned_out_at IS NULL;

CREATE TABLE webhook_subscriptions (
  id serial PRIMARY KEY,
  url text NOT NULL,
  description text,
  events text[] NOT NULL,
  hotel_ids integer[],
  secret text NOT NULL,
  previous_secret text,
  previous_secret_expires_at timestamp with time zone,
  enabled boolean NOT NULL DEFAULT true,
  disabled_reason text,
  last_success_at timestamp with time zone,
  created_at timestamp with time zone NOT NULL DEFAULT now(),
  updated_at timestamp with time zone NOT NULL DEFAULT now()
);

CREATE TABLE webhook_deliveries (
  id bigserial PRIMARY KEY,
  subscription_id integer NOT NULL REFERENCES webhook_subscriptions (id) ON DELETE CASCADE,
  event_id bigint NOT NULL REFERENCES outbox_events (id),
  entity text NOT NULL,
  status text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'delivered', 'dead')),
  attempts integer NOT NULL DEFAULT 0,
  next_attempt_at timestamp with time zone NOT NULL DEFAULT now(),
  leased_until timestamp with time zone,
  lease_token uuid,
  last_response_code integer,
  last_duration_ms integer,
  last_error text,
  created_at timestamp with time zone NOT NULL DEFAULT now(),
  finished_at timestamp with time zone
);
CREATE INDEX ix_webhook_deliveries_pending ON webhook_deliveries (next_attempt_at) WHERE status = 'pending';
CREATE INDEX ix_webhook_deliveries_order ON webhook_deliveries (subscription_id, entity, event_id)
  WHERE status = 'pending';
CREATE INDEX ix_webhook_deliveries_subscription ON webhook_deliveries (subscription_id, id);

CREATE TABLE webhook_attempts (
  id bigserial PRIMARY KEY,
  delivery_id bigint NOT NULL REFERENCES webhook_deliveries (id) ON DELETE CASCADE,
  attempted_at timestamp with time zone NOT NULL DEFAULT now(),
  response_code integer,
  duration_ms integer NOT NULL,
  error text
);
CREATE INDEX ix_webhook_attempts_delivery ON webhook_attempts (delivery_id, id);

CREATE TABLE audit_log (
  id bigserial PRIMARY KEY,
  at timestamp with time zone NOT NULL DEFAULT now(),
  actor_id integer,
  actor_email text,
  action text NOT NULL,
  entity text NOT NULL,
  entity_id text,
  changes jsonb NOT NULL DEFAULT '{}'::jsonb,
  request_id text
);
CREATE INDEX ix_audit_log_entity ON audit_log (entity, entity_id, id);
CREATE INDEX ix_audit_log_actor ON audit_log (actor_id, id);
CREATE INDEX ix_audit_log_at ON audit_log (at);

CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'audit_log is append-only';
END
$$;
CREATE TRIGGER audit_log_no_update BEFORE UPDATE OR DELETE ON audit_log
  FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
  FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only();
`

export default Effect.flatMap(SqlClient.SqlClient, (sql) => sql.unsafe(SQL))
