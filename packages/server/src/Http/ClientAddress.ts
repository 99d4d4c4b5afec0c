/**
 * The real client address (D4): `X-Forwarded-For` / `X-Real-IP` are believed only when the TCP peer is a
 * proxy listed in `TRUSTED_PROXIES` (CIDR ranges). The resolved address replaces the request's
 * `remoteAddress` for everything downstream (`RequestPipeline.ts`): the rate limiter's key, the access log.
 */
import type * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import { Option } from "effect"
import { BlockList, isIP } from "node:net"

/** `::ffff:10.0.0.1` → `10.0.0.1`; anything else unchanged. */
const unmap = (address: string) =>
  // only an address starting with `:` can be one (a test of its first character before the expression: every
  // request's peer goes through here)
  address.charCodeAt(0) === 58 && /^::ffff:\d+\.\d+\.\d+\.\d+$/i.test(address) ? address.slice(7) : address

/** A header item as an address: drops an IPv4 `:port`, IPv6 brackets (`[::1]:80`); `undefined` if not an IP. */
const parseAddress = (raw: string): string | undefined => {
  let value = raw.trim()
  const bracketed = /^\[([^\]]+)\](?::\d+)?$/.exec(value)
  if (bracketed) value = bracketed[1]!
  else if (/^\d+\.\d+\.\d+\.\d+:\d+$/.test(value)) value = value.slice(0, value.lastIndexOf(":"))
  return isIP(value) === 0 ? undefined : unmap(value)
}

export interface TrustedProxies {
  readonly contains: (address: string) => boolean
}

/** `TRUSTED_PROXIES` entries (already validated by the config) as a matcher; IPv4-mapped IPv6 matches IPv4. */
export const trustedProxies = (cidrs: ReadonlyArray<string>): TrustedProxies => {
  const list = new BlockList()
  for (const cidr of cidrs) {
    const [address = "", prefix] = cidr.split("/")
    const type = isIP(address) === 6 ? "ipv6" : "ipv4"
    const bits = prefix === undefined ? (type === "ipv6" ? 128 : 32) : Number(prefix)
    list.addSubnet(address, bits, type)
  }
  // BlockList.check builds a native address object each time: remember the answer per address (bounded)
  const known = new Map<string, boolean>()
  return {
    contains: (address) => {
      const cached = known.get(address)
      if (cached !== undefined) return cached
      const plain = unmap(address)
      const type = isIP(plain)
      const trusted = type !== 0 && list.check(plain, type === 6 ? "ipv6" : "ipv4")
      if (known.size >= 10_000) known.clear()
      known.set(address, trusted)
      return trusted
    }
  }
}

/**
 * The client of a request that reached us from `peer`. From a trusted peer, `X-Forwarded-For` is read
 * right to left, skipping further trusted proxies: the first address not ours is the client (the
 * left-most entries are whatever the client sent, so they are never believed blindly).
 */
export const resolveClientAddress = (
  peer: string | undefined,
  headers: { readonly [name: string]: string | undefined },
  trusted: TrustedProxies
): string | undefined => {
  const direct = peer === undefined ? undefined : unmap(peer)
  if (direct === undefined || !trusted.contains(direct)) return direct
  const forwarded = headers["x-forwarded-for"]
  if (forwarded !== undefined && forwarded.trim() !== "") {
    let client = direct
    const hops = forwarded.split(",").reverse()
    for (const hop of hops) {
      const address = parseAddress(hop)
      if (address === undefined) break
      client = address
      if (!trusted.contains(address)) break
    }
    return client
  }
  const real = headers["x-real-ip"]
  return (real === undefined ? undefined : parseAddress(real)) ?? direct
}

/** The resolved client address of the current request (`unknown` when the socket had none). */
export const clientAddressOf = (request: HttpServerRequest.HttpServerRequest): string =>
  Option.match(request.remoteAddress, { onNone: () => "unknown", onSome: unmap })
