/**
 * The unit tests' promise: no PostgreSQL, no Redis, no network. Imported first by every unit test file (and
 * installed by `vitest.unit.config.ts`), it makes any outgoing connection — TCP, TLS or a Unix socket — throw
 * at once with a message naming the test suite, instead of waiting on a server that may or may not be up.
 */
import net from "node:net"

const REFUSED = "unit tests must not open a socket (no PostgreSQL, no Redis): swap the Layer for an in-memory fake"

const marker = Symbol.for("shum/test/NoNetwork")
const patched = net.Socket.prototype as net.Socket & { [marker]?: true }

if (patched[marker] !== true) {
  patched[marker] = true
  net.Socket.prototype.connect = function connect(): never {
    throw new Error(REFUSED)
  }
}

export const NO_NETWORK_MESSAGE = REFUSED
