/**
 * Each webhook queue's head made explicit (docs/decisions.md D16, `WebhookDispatcher.ts`): a subscription's
 * deliveries of one entity are sent in event order, so only the first pending one of each (subscription,
 * entity) may be claimed. The claim found it with an anti-join (`NOT EXISTS` an earlier pending delivery),
 * whose plan depended on the table's statistics — a new database, analysed while near-empty, scanned the
 * subscription's whole backlog for every candidate (15–110 ms per claim in the bench) — and which read and
 * skipped every due delivery behind a pending head on every claim (one entity's deep queue: quadratic to drain).
 *
 * Now `held` marks the pending deliveries that have an earlier pending delivery (by event, then id) of their
 * subscription and entity, and the claim reads only the others, from `ix_webhook_deliveries_heads` in its own
 * order (subscription, next attempt, id): no anti-join, nothing read behind a head, the same plan whatever the
 * statistics say. Triggers keep `held` true exactly for those deliveries, whoever writes the table (the
 * fan-out, a ping, a redelivery, the record of an attempt, a test):
 *
 * - after an INSERT, and after an UPDATE that changes a delivery's status or ends its lease while it stays
 *   pending (a retry recorded, a lease given back), each (subscription, entity) touched is settled: its first
 *   pending delivery is released (`held` false), the statement's other pending deliveries of it are held, and a
 *   former head the statement's delivery went ahead of (a redelivery of an earlier event) is held — unless its
 *   row is locked by an attempt being recorded, whose own settle holds it after;
 * - each settle runs under a transaction-scoped advisory lock of its queue (one of 64 per subscription, by a
 *   hash of the entity), taken in the keys' order by every statement (no two writers wait for each other's
 *   locks in a cycle), and reads with a snapshot taken
 *   after the lock (read committed; plpgsql takes one per statement): a fan-out that added a delivery behind a
 *   head being recorded at the same moment has committed before the record's settle reads the queue, or waits
 *   for it and then sees the head gone.
 *
 * The settle reads a queue from `ix_webhook_deliveries_queue` (subscription, entity, event, id; pending), in
 * the queue's order: its first row, a few more only after a redelivery. It replaces 0009's
 * `ix_webhook_deliveries_order` (no id: a tie between two deliveries of one event was sorted). A delete is not
 * settled: only a subscription's own deletion deletes pending deliveries, and it takes all of its queues with it.
 */
import * as SqlClient from "@effect/sql/SqlClient"
import { Effect } from "effect"

/** The first key of the queues' advisory locks ("whqu"); the second is `webhook_queue_lock_key`. */
const QUEUE_LOCK = 0x7768_7175

const SQL = `
ALTER TABLE webhook_deliveries ADD COLUMN held boolean NOT NULL DEFAULT false;

-- the deliveries already queued behind an earlier pending one of their subscription and entity
UPDATE webhook_deliveries d SET held = true
FROM (
  SELECT id, row_number() OVER (PARTITION BY subscription_id, entity ORDER BY event_id, id) AS n
  FROM webhook_deliveries WHERE status = 'pending'
) q
WHERE q.id = d.id AND q.n > 1;

CREATE INDEX ix_webhook_deliveries_heads ON webhook_deliveries (subscription_id, next_attempt_at, id)
  WHERE status = 'pending' AND NOT held;
DROP INDEX ix_webhook_deliveries_claim;
CREATE INDEX ix_webhook_deliveries_queue ON webhook_deliveries (subscription_id, entity, event_id, id)
  WHERE status = 'pending';
DROP INDEX ix_webhook_deliveries_order;

-- the advisory lock of a queue: one of 64 per subscription (a fan-out of 500 events takes at most 64 per
-- subscription, not one per entity: the lock table is shared), in the order every statement takes them
CREATE FUNCTION webhook_queue_lock_key(p_subscription integer, p_entity text) RETURNS integer
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$ SELECT p_subscription * 64 + (hashtext(p_entity) & 63) $$;

-- one queue (subscription, entity), its lock held: its first pending delivery released; the pending deliveries
-- the statement wrote (p_changed, in the queue's order) held when behind it; and when the first is one of them,
-- the one it went ahead of held (a former head: the first delivery behind it that the statement did not write)
-- Its reads must walk the queue index, whatever the statistics say: with one subscription and entity in the
-- statistics, the planner may read the deliveries by event (ix_webhook_deliveries_event, then a sort by id) from
-- the oldest ended one; without a sort, a scan or a bitmap, the queue index is the only way left to its order.
CREATE FUNCTION webhook_queue_settle(p_subscription integer, p_entity text, p_changed bigint[])
RETURNS void LANGUAGE plpgsql
SET enable_sort = off SET enable_incremental_sort = off SET enable_seqscan = off SET enable_bitmapscan = off
AS $$
DECLARE
  head record;
  former record;
BEGIN
  SELECT id, event_id, held INTO head FROM webhook_deliveries
  WHERE subscription_id = p_subscription AND entity = p_entity AND status = 'pending'
  ORDER BY event_id, id LIMIT 1;
  IF NOT FOUND THEN
    RETURN;
  END IF;
  IF head.held THEN
    UPDATE webhook_deliveries SET held = false WHERE id = head.id;
  END IF;
  IF cardinality(p_changed) > 1 OR p_changed[1] <> head.id THEN
    UPDATE webhook_deliveries SET held = true
    WHERE id = ANY (p_changed) AND id <> head.id AND status = 'pending' AND NOT held;
  END IF;
  IF p_changed[1] = head.id THEN
    -- the statement's other deliveries are held now, so a delivery behind the head that is not is the former
    -- head; it was the first before the statement, so at most the statement's others come before it
    SELECT id INTO former FROM (
      SELECT id, held FROM webhook_deliveries
      WHERE subscription_id = p_subscription AND entity = p_entity AND status = 'pending'
        AND (event_id, id) > (head.event_id, head.id)
      ORDER BY event_id, id LIMIT cardinality(p_changed)
    ) behind
    WHERE NOT held LIMIT 1;
    IF FOUND THEN
      UPDATE webhook_deliveries SET held = true
      WHERE id = (SELECT id FROM webhook_deliveries WHERE id = former.id AND NOT held FOR UPDATE SKIP LOCKED);
    END IF;
  END IF;
END $$;

-- The claim's count of a subscription's leases in flight, from ix_webhook_deliveries_leased by an index scan
-- whatever the statistics say: every lease leaves an entry there when it ends (until vacuum), which an index scan
-- marks dead the first time it meets it; a sequential scan reads the table, and a bitmap scan never marks them,
-- so it reads them all again at every claim.
CREATE FUNCTION webhook_leases_in_flight(p_subscription integer) RETURNS integer LANGUAGE sql STABLE
SET enable_seqscan = off SET enable_bitmapscan = off
AS $$ SELECT count(*)::int FROM webhook_deliveries WHERE subscription_id = p_subscription AND leased_until >= now() $$;

CREATE FUNCTION webhook_deliveries_settle_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  q record;
BEGIN
  FOR q IN
    SELECT subscription_id, entity, webhook_queue_lock_key(subscription_id, entity) AS key,
      array_agg(id ORDER BY event_id, id) AS ids
    FROM inserted_deliveries WHERE status = 'pending' GROUP BY subscription_id, entity ORDER BY key, entity
  LOOP
    PERFORM pg_advisory_xact_lock(${QUEUE_LOCK}, q.key);
    PERFORM webhook_queue_settle(q.subscription_id, q.entity, q.ids);
  END LOOP;
  RETURN NULL;
END $$;

CREATE FUNCTION webhook_deliveries_settle_updated() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  q record;
BEGIN
  -- the settle's own writes (held only) need no settling
  IF pg_trigger_depth() > 1 THEN
    RETURN NULL;
  END IF;
  FOR q IN
    SELECT n.subscription_id, n.entity, webhook_queue_lock_key(n.subscription_id, n.entity) AS key,
      COALESCE(array_agg(n.id ORDER BY n.event_id, n.id) FILTER (WHERE n.status = 'pending'), '{}') AS ids
    FROM updated_after n JOIN updated_before o ON o.id = n.id
    WHERE o.status <> n.status OR (n.status = 'pending' AND o.leased_until IS NOT NULL AND n.leased_until IS NULL)
    GROUP BY n.subscription_id, n.entity ORDER BY key, n.entity
  LOOP
    PERFORM pg_advisory_xact_lock(${QUEUE_LOCK}, q.key);
    PERFORM webhook_queue_settle(q.subscription_id, q.entity, q.ids);
  END LOOP;
  RETURN NULL;
END $$;

CREATE TRIGGER webhook_deliveries_settle_inserted AFTER INSERT ON webhook_deliveries
  REFERENCING NEW TABLE AS inserted_deliveries
  FOR EACH STATEMENT EXECUTE FUNCTION webhook_deliveries_settle_inserted();
CREATE TRIGGER webhook_deliveries_settle_updated AFTER UPDATE ON webhook_deliveries
  REFERENCING OLD TABLE AS updated_before NEW TABLE AS updated_after
  FOR EACH STATEMENT EXECUTE FUNCTION webhook_deliveries_settle_updated();
`

export default Effect.flatMap(SqlClient.SqlClient, (sql) => sql.unsafe(SQL))
