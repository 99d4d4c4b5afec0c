/**
 * docs/decisions.md D13, the session checked in the write: an endpoint that opts in (`DeferredAuthentication`)
 * lets its write statement check the caller's session as its first step, in the same round trip, instead of a
 * separate lookup before it (docs/data.md BR-7).
 *
 * - `session_refusal(user, jti, version)`: the check the authentication middleware makes with
 *   `UsersRepo.findSession`, as SQL — `no_user` (no such user: deleted), `token_invalid` (the token's `jti`
 *   logged out, or its version not the user's current one: a password or role change since), or NULL (the
 *   session stands). Read committed, unlocked, as the middleware's own lookup reads.
 * - `book_stay_in_session(jti, version, <book_stay's arguments>)`: `session_refusal` first — refused, it
 *   answers that outcome and does nothing else (no key claimed, no room read, nothing written, so a replay
 *   after a logout is refused too) — then exactly `book_stay`.
 */
import * as SqlClient from "@effect/sql/SqlClient"
import { Effect } from "effect"

const SQL = `
CREATE FUNCTION session_refusal(p_user integer, p_jti text, p_version bigint) RETURNS text
LANGUAGE sql STABLE AS $$
  SELECT CASE
    WHEN u.id IS NULL THEN 'no_user'
    WHEN u.token_version <> p_version
      OR EXISTS (SELECT 1 FROM revoked_access_tokens t WHERE t.jti = p_jti) THEN 'token_invalid'
  END
  FROM (SELECT 1) AS one LEFT JOIN users u ON u.id = p_user
$$;

COMMENT ON FUNCTION session_refusal(integer, text, bigint) IS
'The session check of an authenticated request (docs/decisions.md D13), as the middleware''s user lookup '
'makes it: no_user (no user p_user), token_invalid (p_jti logged out, or p_version is not the user''s '
'token_version), NULL when the session stands.';

CREATE FUNCTION book_stay_in_session(
  p_jti text, p_version bigint,
  p_room integer, p_user integer, p_from date, p_to date, p_today date,
  p_key varchar DEFAULT NULL, p_hash text DEFAULT NULL, p_key_ttl interval DEFAULT '24 hours'
) RETURNS TABLE (outcome text, answer jsonb, kept_booking_id integer, full_nights date[])
LANGUAGE plpgsql AS $$
DECLARE
  v_refusal text := session_refusal(p_user, p_jti, p_version);
BEGIN
  IF v_refusal IS NOT NULL THEN
    RETURN QUERY SELECT v_refusal, NULL::jsonb, NULL::integer, NULL::date[];
    RETURN;
  END IF;
  RETURN QUERY SELECT * FROM book_stay(p_room, p_user, p_from, p_to, p_today, p_key, p_hash, p_key_ttl);
END $$;

COMMENT ON FUNCTION book_stay_in_session(text, bigint, integer, integer, date, date, date, varchar, text, interval) IS
'POST /bookings with the caller''s session checked first, in the same statement (docs/decisions.md D13): '
'session_refusal -> no_user | token_invalid, having done nothing else; otherwise book_stay''s answer.';
`

export default Effect.flatMap(SqlClient.SqlClient, (sql) => sql.unsafe(SQL))
