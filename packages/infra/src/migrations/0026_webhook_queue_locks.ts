/**
 * The webhook queues' heads (0025, docs/decisions.md D16) under one lock order, settled after a delete, and the
 * claim's count of leases in one scan.
 *
 * - One lock order: a queue's advisory lock before any row lock of its deliveries. 0025's settle waited for row
 *   locks while holding the queue's advisory lock (releasing a held head), and a recorder held its rows' locks
 *   while waiting for that advisory lock (its trigger): two deliveries of one queue recorded by two workers at
 *   once could deadlock, the victim's whole batch of records lost. Now a statement that updates deliveries and
 *   settles their queues takes the queues' locks first (`webhook_lock_queues`, called by the dispatcher's
 *   record and release before their UPDATE), so a settle that waits for a row lock waits only for a claim (one
 *   short statement that waits for nothing) or for a holder of no lock of its queue.
 * - So the settle waits for a former head's row lock instead of skipping it (0025's `SKIP LOCKED` assumed only
 *   an attempt being recorded could lock it, but the claim's lease locks it too and settles nothing: a
 *   redelivery of an earlier event racing a claim left two heads in one queue, both claimable once the lease
 *   lapsed).
 * - A delete of a pending head (an operator dropping a poison delivery) settles its queue: the next was held
 *   for good. Only pending heads are settled, and only while their subscription exists: the retention deletes
 *   ended deliveries and a subscription's deletion takes its queues with it — neither takes a lock.
 * - `webhook_queue_lock_key` in bigint, wrapped into an integer: `subscription * 64` overflowed from subscription
 *   33,554,432 on (every delivery insert of it failed). The same keys below that; above, two queues may share a
 *   lock (they only wait for each other; every statement still takes them in key order).
 * - `webhook_leases_by_subscription`: every subscription's leases in flight in one scan of
 *   `ix_webhook_deliveries_leased` (an index scan whatever the statistics, as 0025's per-subscription
 *   `webhook_leases_in_flight`, called once per subscription by the claim: 32–45 ms a claim with 2,001; it stays
 *   for a dispatcher of the previous version still running during a deploy).
 */
import * as SqlClient from "@effect/sql/SqlClient"
import { Effect } from "effect"

/** The first key of the queues' advisory locks ("whqu", as 0025); the second is `webhook_queue_lock_key`. */
const QUEUE_LOCK = 0x7768_7175

const SQL = `
CREATE OR REPLACE FUNCTION webhook_queue_lock_key(p_subscription integer, p_entity text) RETURNS integer
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT ((p_subscription::bigint * 64 + (hashtext(p_entity) & 63)) % 2147483648)::int $$;

-- the advisory locks of the deliveries' queues, in key order (as the triggers take them): called by a statement
-- before it locks the deliveries' rows; returns how many keys it took
CREATE FUNCTION webhook_lock_queues(p_ids bigint[]) RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
  k integer;
  n integer := 0;
BEGIN
  FOR k IN
    SELECT DISTINCT webhook_queue_lock_key(subscription_id, entity) FROM webhook_deliveries
    WHERE id = ANY (p_ids) ORDER BY 1
  LOOP
    PERFORM pg_advisory_xact_lock(${QUEUE_LOCK}, k);
    n := n + 1;
  END LOOP;
  RETURN n;
END $$;

-- as 0025's, but the former head's row lock waited for (a claim's lease, or a statement holding no lock of its
-- queue) instead of skipped
CREATE OR REPLACE FUNCTION webhook_queue_settle(p_subscription integer, p_entity text, p_changed bigint[])
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
    SELECT id INTO former FROM (
      SELECT id, held FROM webhook_deliveries
      WHERE subscription_id = p_subscription AND entity = p_entity AND status = 'pending'
        AND (event_id, id) > (head.event_id, head.id)
      ORDER BY event_id, id LIMIT cardinality(p_changed)
    ) behind
    WHERE NOT held LIMIT 1;
    IF FOUND THEN
      UPDATE webhook_deliveries SET held = true WHERE id = former.id AND status = 'pending' AND NOT held;
    END IF;
  END IF;
END $$;

CREATE FUNCTION webhook_deliveries_settle_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  q record;
BEGIN
  FOR q IN
    SELECT o.subscription_id, o.entity, webhook_queue_lock_key(o.subscription_id, o.entity) AS key
    FROM deleted_deliveries o
    WHERE o.status = 'pending' AND NOT o.held
      AND EXISTS (SELECT 1 FROM webhook_subscriptions s WHERE s.id = o.subscription_id)
    GROUP BY o.subscription_id, o.entity ORDER BY key, o.entity
  LOOP
    PERFORM pg_advisory_xact_lock(${QUEUE_LOCK}, q.key);
    PERFORM webhook_queue_settle(q.subscription_id, q.entity, '{}');
  END LOOP;
  RETURN NULL;
END $$;

CREATE TRIGGER webhook_deliveries_settle_deleted AFTER DELETE ON webhook_deliveries
  REFERENCING OLD TABLE AS deleted_deliveries
  FOR EACH STATEMENT EXECUTE FUNCTION webhook_deliveries_settle_deleted();

-- every subscription's leases in flight, in one index scan of ix_webhook_deliveries_leased whatever the statistics
-- (see 0025's webhook_leases_in_flight: an index scan marks the entries of ended leases dead as it meets them);
-- estimated at a few rows (the subscriptions with a lease in flight), so that the claim joined to it is estimated
-- as 0025's, a row per subscription: the default 1,000 made the planner read every due head by a bitmap scan
CREATE FUNCTION webhook_leases_by_subscription() RETURNS TABLE (subscription_id integer, busy integer)
LANGUAGE sql STABLE ROWS 10 SET enable_seqscan = off SET enable_bitmapscan = off
AS $$
  SELECT d.subscription_id, count(*)::int FROM webhook_deliveries d WHERE d.leased_until >= now()
  GROUP BY d.subscription_id
$$;
`

export default Effect.flatMap(SqlClient.SqlClient, (sql) => sql.unsafe(SQL))
