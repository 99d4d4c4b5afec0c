/**
 * docs/decisions.md D13, the session checked in the write, for holds as `0014` did for bookings: `POST /holds`
 * and `POST /holds/{id}/confirm` check the caller's session as the first step of their own statement.
 *
 * - `hold_place_in_session(jti, version, <hold_place's arguments>)`: `session_refusal` (0014) first — refused,
 *   that outcome and nothing else done (no key claimed, no room read, no hold) — then exactly `hold_place`.
 * - `hold_confirm_in_session(jti, version, hold, user)`: the same, then `hold_confirm` with the user's role
 *   read from the same `users` row the check read (D1: an admin may confirm anyone's hold), as the middleware
 *   hands the role it read to the handler.
 *
 * The wrapped functions keep their signatures; whatever later replaces their bodies is what these call.
 */
import * as SqlClient from "@effect/sql/SqlClient"
import { Effect } from "effect"

const SQL = `
CREATE FUNCTION hold_place_in_session(
  p_jti text, p_version bigint,
  p_room integer, p_user integer, p_from date, p_to date, p_today date, p_ttl_seconds integer,
  p_max_active integer, p_key varchar DEFAULT NULL, p_hash text DEFAULT NULL, p_key_ttl interval DEFAULT '24 hours'
) RETURNS TABLE (outcome text, answer jsonb, full_nights date[])
LANGUAGE plpgsql AS $$
DECLARE
  v_refusal text := session_refusal(p_user, p_jti, p_version);
BEGIN
  IF v_refusal IS NOT NULL THEN
    RETURN QUERY SELECT v_refusal, NULL::jsonb, NULL::date[];
    RETURN;
  END IF;
  RETURN QUERY SELECT * FROM hold_place(p_room, p_user, p_from, p_to, p_today, p_ttl_seconds, p_max_active,
                                        p_key, p_hash, p_key_ttl);
END $$;

COMMENT ON FUNCTION hold_place_in_session(text, bigint, integer, integer, date, date, date, integer, integer, varchar, text, interval) IS
'POST /holds with the caller''s session checked first, in the same statement (docs/decisions.md D13): '
'session_refusal -> no_user | token_invalid, having done nothing else; otherwise hold_place''s answer.';

CREATE FUNCTION hold_confirm_in_session(p_jti text, p_version bigint, p_hold integer, p_user integer)
RETURNS TABLE (outcome text, answer jsonb)
LANGUAGE plpgsql AS $$
DECLARE
  v_refusal text := session_refusal(p_user, p_jti, p_version);
  v_admin boolean;
BEGIN
  IF v_refusal IS NOT NULL THEN
    RETURN QUERY SELECT v_refusal, NULL::jsonb;
    RETURN;
  END IF;
  SELECT u.role = 'admin' INTO v_admin FROM users u WHERE u.id = p_user;
  RETURN QUERY SELECT * FROM hold_confirm(p_hold, p_user, COALESCE(v_admin, false));
END $$;

COMMENT ON FUNCTION hold_confirm_in_session(text, bigint, integer, integer) IS
'POST /holds/{id}/confirm with the caller''s session checked first, in the same statement (docs/decisions.md '
'D13): session_refusal -> no_user | token_invalid, having done nothing else; otherwise hold_confirm''s answer, '
'p_admin being the user''s role read here.';
`

export default Effect.flatMap(SqlClient.SqlClient, (sql) => sql.unsafe(SQL))
