/**
 * The record of finished webhook attempts as a function, so the dispatcher's claim can make it first in its own
 * statement: one statement and one commit per dispatcher cycle instead of two (docs/decisions.md D16,
 * `WebhookDispatcher.ts`; bench/README.md, Webhooks). The same record as the dispatcher's statement before
 * (0026's lock order included):
 *
 * - the queues' advisory locks of the attempts' deliveries first (`webhook_lock_queues`, in key order), in a
 *   statement of their own, then the record in a second statement, whose snapshot is taken after the locks;
 * - each attempt recorded only while its lease is still ours (its token): delivered, dead, or pending again after
 *   its delay; an attempt row per recorded attempt; `last_success_at` written at most once a second; a
 *   subscription whose dead delivery saw no delivery of it delivered since that one was made is disabled;
 * - the record's triggers (0025, 0026) settle its queues within the function, so they are done — and their row
 *   locks taken — before the claim in the calling statement locks any row: the claim's locks come last and it
 *   waits for none (`SKIP LOCKED`), so a plain `WITH` of the record's `UPDATE` (its statement triggers fire at
 *   the end of the whole statement, after the claim) cannot deadlock with a redelivery on another worker.
 *
 * It returns, per subscription with a recorded attempt, what the calling statement's claim cannot see on its own
 * snapshot (taken before the function ran): `freed`, the recorded attempts whose lease was in flight (counted by
 * the claim's `webhook_leases_by_subscription`, to be subtracted); `disabled`, whether the record disabled it;
 * `released`, the recorded attempts that ended (delivered or dead) with more pending deliveries in their queue —
 * their next, released by the settle, is claimable only by a later statement.
 */
import * as SqlClient from "@effect/sql/SqlClient"
import { Effect } from "effect"

const SQL = `
CREATE FUNCTION webhook_record_attempts(p_attempts jsonb, p_max_attempts integer)
RETURNS TABLE (subscription_id integer, freed integer, disabled boolean, released integer)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
BEGIN
  IF p_attempts IS NULL OR jsonb_array_length(p_attempts) = 0 THEN
    RETURN;
  END IF;
  PERFORM webhook_lock_queues(ARRAY(SELECT (a->>'id')::bigint FROM jsonb_array_elements(p_attempts) a));
  RETURN QUERY
  WITH input AS (
    SELECT * FROM jsonb_to_recordset(p_attempts)
      AS t(id bigint, token uuid, status text, code integer, duration_ms integer, error text, delay float8)
  ),
  updated AS (
    UPDATE webhook_deliveries d SET status = i.status, leased_until = NULL, lease_token = NULL,
      last_response_code = i.code, last_duration_ms = i.duration_ms, last_error = i.error,
      next_attempt_at = CASE WHEN i.status = 'pending' THEN now() + make_interval(secs => i.delay)
                        ELSE d.next_attempt_at END,
      finished_at = CASE WHEN i.status = 'pending' THEN NULL ELSE now() END
    FROM input i JOIN webhook_deliveries o ON o.id = i.id
    WHERE d.id = i.id AND d.lease_token = i.token
    RETURNING d.id, d.subscription_id, d.entity, d.created_at, i.status, i.code, i.duration_ms, i.error,
      o.leased_until >= now() AS in_flight
  ),
  attempt AS (
    INSERT INTO webhook_attempts (delivery_id, response_code, duration_ms, error)
    SELECT u.id, u.code, u.duration_ms, u.error FROM updated u ORDER BY u.id
  ),
  succeeded AS (
    UPDATE webhook_subscriptions s SET last_success_at = now()
    WHERE s.id = ANY (ARRAY(SELECT DISTINCT u.subscription_id FROM updated u WHERE u.status = 'delivered'))
      AND (s.last_success_at IS NULL OR s.last_success_at < now() - interval '1 second')
  ),
  disabling AS (
    UPDATE webhook_subscriptions s SET enabled = false, updated_at = now(),
      disabled_reason = 'deliveries failed for a whole retry schedule (' || p_max_attempts || ' attempts)'
    FROM (SELECT u.subscription_id, min(u.created_at) AS created_at FROM updated u WHERE u.status = 'dead'
          GROUP BY 1) u
    WHERE s.id = u.subscription_id AND s.enabled
      AND NOT EXISTS (SELECT 1 FROM updated x WHERE x.subscription_id = s.id AND x.status = 'delivered')
      AND NOT EXISTS (SELECT 1 FROM webhook_deliveries o
                      WHERE o.subscription_id = s.id AND o.status = 'delivered' AND o.finished_at >= u.created_at)
    RETURNING s.id
  )
  SELECT u.subscription_id, (count(*) FILTER (WHERE u.in_flight))::int,
    EXISTS (SELECT 1 FROM disabling x WHERE x.id = u.subscription_id),
    (count(*) FILTER (WHERE u.status <> 'pending' AND EXISTS (
      SELECT 1 FROM webhook_deliveries n
      WHERE n.subscription_id = u.subscription_id AND n.entity = u.entity AND n.status = 'pending'
        AND n.id <> u.id)))::int
  FROM updated u GROUP BY u.subscription_id;
END $$;
`

export default Effect.flatMap(SqlClient.SqlClient, (sql) => sql.unsafe(SQL))
