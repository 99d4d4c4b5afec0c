/**
 * Where a webhook may be sent (docs/decisions.md D16): `https` only, or `http` to a host named in
 * `WEBHOOK_ALLOWED_HOSTS`; and never to a loopback, private, link-local (cloud metadata included) or
 * otherwise reserved address unless the host is so named. URLs are checked when a subscription is written;
 * the addresses a name resolves to are checked again at every delivery, on the address actually connected to
 * (a name that resolved publicly once and privately later is refused).
 */
import { BlockList, isIP } from "node:net"

type Kind = "loopback" | "private" | "link-local" | "metadata" | "reserved"

const ranges: ReadonlyArray<readonly [Kind, "ipv4" | "ipv6", string, number]> = [
  ["metadata", "ipv4", "169.254.169.254", 32],
  ["metadata", "ipv6", "fd00:ec2::254", 128],
  ["loopback", "ipv4", "127.0.0.0", 8],
  ["loopback", "ipv6", "::1", 128],
  ["private", "ipv4", "10.0.0.0", 8],
  ["private", "ipv4", "172.16.0.0", 12],
  ["private", "ipv4", "192.168.0.0", 16],
  ["private", "ipv4", "100.64.0.0", 10],
  ["private", "ipv6", "fc00::", 7],
  ["link-local", "ipv4", "169.254.0.0", 16],
  ["link-local", "ipv6", "fe80::", 10],
  ["reserved", "ipv4", "0.0.0.0", 8],
  ["reserved", "ipv4", "192.0.0.0", 24],
  ["reserved", "ipv4", "192.0.2.0", 24],
  ["reserved", "ipv4", "198.18.0.0", 15],
  ["reserved", "ipv4", "198.51.100.0", 24],
  ["reserved", "ipv4", "203.0.113.0", 24],
  ["reserved", "ipv4", "224.0.0.0", 4],
  ["reserved", "ipv4", "240.0.0.0", 4],
  ["reserved", "ipv6", "::", 128],
  ["reserved", "ipv6", "ff00::", 8],
  ["reserved", "ipv6", "2001:db8::", 32],
  ["reserved", "ipv6", "64:ff9b::", 96],
  // IPv6 spellings that carry an IPv4 address (which may be a private one): IPv4-compatible (`::127.0.0.1`),
  // mapped forms `unmapped` does not read, SIIT (`::ffff:0:a.b.c.d`), local NAT64, 6to4 and Teredo
  ["reserved", "ipv6", "::", 96],
  ["reserved", "ipv6", "::ffff:0:0", 96],
  ["reserved", "ipv6", "::ffff:0:0:0", 96],
  ["reserved", "ipv6", "64:ff9b:1::", 48],
  ["reserved", "ipv6", "2002::", 16],
  ["reserved", "ipv6", "2001::", 32],
  ["reserved", "ipv6", "100::", 64]
]

const lists = ranges.map(([kind, type, network, prefix]) => {
  const list = new BlockList()
  list.addSubnet(network, prefix, type)
  return { kind, type, list }
})

/** `::ffff:10.0.0.1` (or `::ffff:a00:1`, as URLs write it) is IPv4 `10.0.0.1`, and checked as such. */
const unmapped = (address: string): string => {
  const dotted = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address)
  if (dotted?.[1] !== undefined) return dotted[1]
  const hex = /^::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/i.exec(address)
  if (hex?.[1] === undefined || hex[2] === undefined) return address
  const high = parseInt(hex[1], 16)
  const low = parseInt(hex[2], 16)
  return [high >> 8, high & 255, low >> 8, low & 255].join(".")
}

/** Why this address may not be reached, or `undefined` when it is a public one. */
export const refusedKind = (address: string): Kind | undefined => {
  const plain = unmapped(address)
  const version = isIP(plain)
  if (version === 0) return "reserved"
  const type = version === 4 ? "ipv4" : "ipv6"
  return lists.find((entry) => entry.type === type && entry.list.check(plain, type))?.kind
}

/** The URL's host as compared with `WEBHOOK_ALLOWED_HOSTS`: lower case, IPv6 without brackets. */
export const hostOf = (url: URL): string => url.hostname.toLowerCase().replace(/^\[(.*)\]$/, "$1")

export const isAllowedHost = (allowedHosts: ReadonlyArray<string>, host: string): boolean =>
  allowedHosts.includes(host.toLowerCase())

/** Why a subscription's URL is refused (before any address is resolved), or `undefined`. */
export const urlProblem = (raw: string, allowedHosts: ReadonlyArray<string>): string | undefined => {
  let url: URL
  try {
    url = new URL(raw)
  } catch {
    return "not an absolute URL"
  }
  const host = hostOf(url)
  const allowed = isAllowedHost(allowedHosts, host)
  if (url.protocol !== "https:" && !(url.protocol === "http:" && allowed)) {
    return url.protocol === "http:"
      ? "http is accepted only for hosts in WEBHOOK_ALLOWED_HOSTS; use https"
      : "only https URLs are accepted"
  }
  if (url.username !== "" || url.password !== "") return "credentials in the URL are not accepted"
  if (url.hash !== "") return "a fragment is not accepted"
  if (isIP(host) !== 0 && !allowed) {
    const kind = refusedKind(host)
    if (kind !== undefined) return `the address ${host} is ${kind}`
  }
  return undefined
}
