/**
 * docs/decisions.md D12 and D13.
 *
 * E-mails unique without regard to letter case: a unique index on `lower(email)`. A database that already
 * holds case twins (`Case@x.com` beside `case@x.com`, which the original let through) is adopted without
 * failing and without losing anyone: every twin but the oldest of its group is marked `email_case_twin`,
 * the index leaves the marked rows out, so each twin keeps signing in with its exact address while a new
 * twin of any of them is refused (it collides with the unmarked one). A marked row that changes its
 * e-mail loses the mark (trigger) and is held to the index like any other. The twins are reported at
 * start-up and by `npm run admin:duplicates`.
 *
 * Sessions: `users.token_version` is bumped by a password change or a role change; access tokens carry
 * the version they were issued under and refresh tokens store it, so every earlier token is refused at
 * once, checked by the user lookup each authenticated request makes. `revoked_access_tokens` holds the
 * `jti`s revoked by logout until they would have expired, in PostgreSQL, so a revocation survives the
 * loss of Redis.
 */
import * as SqlClient from "@effect/sql/SqlClient"
import { Effect } from "effect"

const SQL = `
ALTER TABLE users
  ADD COLUMN email_case_twin boolean NOT NULL DEFAULT false,
  ADD COLUMN token_version integer NOT NULL DEFAULT 0;
UPDATE users u SET email_case_twin = true
  WHERE EXISTS (SELECT 1 FROM users o WHERE lower(o.email) = lower(u.email) AND o.id < u.id);
CREATE UNIQUE INDEX ux_users_lower_email ON users (lower(email)) WHERE NOT email_case_twin;

CREATE FUNCTION users_email_case_twin_cleared() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  NEW.email_case_twin := false;
  RETURN NEW;
END
$$;
CREATE TRIGGER users_new_email_not_a_twin BEFORE INSERT ON users
  FOR EACH ROW WHEN (NEW.email_case_twin) EXECUTE FUNCTION users_email_case_twin_cleared();
CREATE TRIGGER users_changed_email_not_a_twin BEFORE UPDATE OF email ON users
  FOR EACH ROW WHEN (NEW.email IS DISTINCT FROM OLD.email AND NEW.email_case_twin)
  EXECUTE FUNCTION users_email_case_twin_cleared();

-- the oldest marked twin stands for its group once the unmarked one is deleted or takes another address,
-- so a group never lacks the row the index holds (else a new twin could be made)
CREATE FUNCTION users_email_case_twin_promoted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  UPDATE users SET email_case_twin = false WHERE id = (
    SELECT id FROM users WHERE lower(email) = lower(OLD.email) AND email_case_twin ORDER BY id LIMIT 1);
  RETURN NULL;
END
$$;
CREATE TRIGGER users_deleted_twin_promoted AFTER DELETE ON users
  FOR EACH ROW WHEN (NOT OLD.email_case_twin) EXECUTE FUNCTION users_email_case_twin_promoted();
CREATE TRIGGER users_moved_twin_promoted AFTER UPDATE OF email ON users
  FOR EACH ROW WHEN (NOT OLD.email_case_twin AND lower(NEW.email) <> lower(OLD.email))
  EXECUTE FUNCTION users_email_case_twin_promoted();

ALTER TABLE refresh_tokens ADD COLUMN token_version integer NOT NULL DEFAULT 0;

CREATE TABLE revoked_access_tokens (
  jti text PRIMARY KEY,
  expires_at timestamp with time zone NOT NULL
);
CREATE INDEX ix_revoked_access_tokens_expires_at ON revoked_access_tokens (expires_at);
`

export default Effect.gen(function* () {
  const sql = yield* SqlClient.SqlClient
  yield* sql.unsafe(SQL)
  const [twins] = yield* sql<{ n: number }>`SELECT count(*)::int AS n FROM users WHERE email_case_twin`
  if (twins !== undefined && twins.n > 0) {
    yield* Effect.logWarning(
      `users: ${twins.n} e-mail address(es) differ from an older account's only in letter case; each still ` +
        "signs in with its exact address and no new twin can be made. List them: npm run admin:duplicates"
    )
  }
})
