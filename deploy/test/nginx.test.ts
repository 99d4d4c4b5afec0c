/**
 * The nginx edge for real (Debian's nginx): deploy/nginx/entrypoint.sh renders the template from the
 * environment and execs nginx on a loopback port in front of the real server (its own database).
 *
 * Different clients are different loopback source addresses (127.0.0.x), so nginx's per-address limits
 * and the app's per-client limits see them apart. "A client outside the private networks" is made the
 * way production makes it: nginx believes X-Forwarded-For only from NGINX_REAL_IP_FROM (here 127.0.0.8,
 * standing in for the ingress controller), so a request through 127.0.0.8 carrying `X-Forwarded-For:
 * 203.0.113.50` has the public client address 203.0.113.50 as nginx's $remote_addr, and /metrics is
 * checked against the production default allow list (loopback and private ranges), unchanged.
 */
import { spawn } from "node:child_process"
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { gunzipSync } from "node:zlib"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { Child, freePort, repoPath, request, run, startServer, waitFor, type RunningServer } from "./support.js"

const ENTRYPOINT = repoPath("deploy/nginx/entrypoint.sh")
const ROOT_PATH = "/apps/shum-booking"
const APP_LIMIT = 4 // the app's RATE_LIMIT_PER_MINUTE: well below nginx's, so the app's limiter answers first
const EDGE_AUTH_LIMIT = 5 // nginx's (and the app's) RATE_LIMIT_AUTH_PER_MINUTE: burst 2 → 3 pass, then 429
const MAX_MB = 1

/** A world-readable temporary directory: nginx's workers run as www-data. */
const tempDir = (prefix: string) => {
  const dir = mkdtempSync(join(tmpdir(), prefix))
  chmodSync(dir, 0o755)
  return dir
}

const nginxEnv = (runtimeDir: string, extra: Record<string, string> = {}): NodeJS.ProcessEnv => ({
  PATH: process.env["PATH"] ?? "/usr/sbin:/usr/bin:/sbin:/bin",
  NGINX_RUNTIME_DIR: runtimeDir,
  NGINX_USER: "www-data",
  NGINX_WORKER_PROCESSES: "1",
  NGINX_ERROR_LOG: join(runtimeDir, "error.log"),
  NGINX_ACCESS_LOG: join(runtimeDir, "access.log"),
  NGINX_UPSTREAM: "127.0.0.1:9",
  NGINX_LISTEN: "127.0.0.1:8080",
  ...extra
})

describe("nginx configuration rendering", () => {
  it("renders and passes `nginx -t` with and without ROOT_PATH, real-IP proxies and an empty /metrics list", () => {
    const variants: ReadonlyArray<Record<string, string>> = [
      {},
      { ROOT_PATH: "/apps/shum-booking/", NGINX_REAL_IP_FROM: "10.42.0.0/16, fd00::/8", RATE_LIMIT_PER_MINUTE: "60" },
      { ROOT_PATH: "/v1.2", NGINX_METRICS_ALLOW: "", MAX_IMAGE_FILE_SIZE_MB: "25", NGINX_LISTEN: "[::1]:8080" }
    ]
    for (const variant of variants) {
      const dir = tempDir("shum-nginx-t-")
      try {
        const result = run("sh", [ENTRYPOINT, "--test"], { env: nginxEnv(dir, variant) })
        expect(result.stderr + result.stdout, JSON.stringify(variant)).toContain("test is successful")
        expect(result.code).toBe(0)
      } finally {
        rmSync(dir, { recursive: true, force: true })
      }
    }
  })

  it("renders the limits, the body size and the prefix from the environment", () => {
    const dir = tempDir("shum-nginx-r-")
    try {
      const env = nginxEnv(dir, {
        RATE_LIMIT_PER_MINUTE: "123",
        RATE_LIMIT_AUTH_PER_MINUTE: "7",
        MAX_IMAGE_FILE_SIZE_MB: "10",
        ROOT_PATH: "/apps/shum-booking"
      })
      const result = run("sh", [ENTRYPOINT, "--render"], { env })
      expect(result.code).toBe(0)
      const conf = readFileSync(result.stdout.trim(), "utf8")
      expect(conf).toContain("zone=api_limit:10m rate=123r/m;")
      expect(conf).toContain("zone=auth_limit:10m rate=7r/m;")
      expect(conf).toContain("client_max_body_size 11m;")
      expect(conf).toContain("rewrite ^/apps/shum-booking(/.*)$ $1 last;")
      expect(conf).toContain("лимит 10 МБ")
      expect(conf).not.toMatch(/\$\{[A-Z_]+\}/) // every placeholder filled in
      // the production default allow list for /metrics: loopback and private ranges, nothing public
      expect(conf).toMatch(
        /127\.0\.0\.0\/8 1; 10\.0\.0\.0\/8 1; 172\.16\.0\.0\/12 1; 192\.168\.0\.0\/16 1; ::1\/128 1; fc00::\/7 1;/
      )
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })

  it("renders one upstream server per NGINX_UPSTREAM entry, each retried elsewhere when it refuses", () => {
    const dir = tempDir("shum-nginx-u-")
    try {
      const result = run("sh", [ENTRYPOINT, "--render"], {
        env: nginxEnv(dir, { NGINX_UPSTREAM: "10.0.0.1:8000, server-b:8000" })
      })
      expect(result.code, result.stderr).toBe(0)
      const conf = readFileSync(result.stdout.trim(), "utf8")
      expect(conf).toContain("server 10.0.0.1:8000 max_fails=3 fail_timeout=10s; server server-b:8000 max_fails=3")
      expect(conf).toContain("proxy_next_upstream error timeout;")
      expect(
        run("sh", [ENTRYPOINT, "--test"], { env: nginxEnv(dir, { NGINX_UPSTREAM: "127.0.0.1:9,127.0.0.1:10" }) }).code
      ).toBe(0)
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })

  it("refuses bad values, naming the variable", () => {
    const cases: ReadonlyArray<[Record<string, string>, string]> = [
      [{ RATE_LIMIT_PER_MINUTE: "ten" }, "RATE_LIMIT_PER_MINUTE"],
      [{ MAX_IMAGE_FILE_SIZE_MB: "0" }, "MAX_IMAGE_FILE_SIZE_MB"],
      [{ ROOT_PATH: "apps;evil" }, "ROOT_PATH"],
      [{ NGINX_METRICS_ALLOW: "10.0.0.0/8,all" }, "NGINX_METRICS_ALLOW"],
      [{ NGINX_REAL_IP_FROM: "10.0.0.0/8; allow all" }, "NGINX_REAL_IP_FROM"],
      [{ NGINX_UPSTREAM: "server" }, "NGINX_UPSTREAM"],
      [{ NGINX_UPSTREAM: "server:8000,other" }, "NGINX_UPSTREAM"],
      [{ NGINX_UPSTREAM: " , " }, "NGINX_UPSTREAM"]
    ]
    for (const [variant, name] of cases) {
      const dir = tempDir("shum-nginx-bad-")
      try {
        const result = run("sh", [ENTRYPOINT, "--render"], { env: nginxEnv(dir, variant) })
        expect(result.code, name).toBe(64)
        expect(result.stderr).toContain(name)
      } finally {
        rmSync(dir, { recursive: true, force: true })
      }
    }
  })
})

describe("nginx in front of the real server", () => {
  let server: RunningServer
  let nginx: Child
  let edge: string
  let runtimeDir: string
  let imageDir: string

  beforeAll(async () => {
    runtimeDir = tempDir("shum-nginx-")
    imageDir = join(runtimeDir, "images")
    mkdirSync(imageDir, { mode: 0o755 })
    server = await startServer({
      ROOT_PATH,
      RATE_LIMIT_ENABLED_IN_TESTS: "true",
      RATE_LIMIT_PER_MINUTE: String(APP_LIMIT),
      RATE_LIMIT_AUTH_PER_MINUTE: "100",
      TRUSTED_PROXIES: "127.0.0.1/32", // only nginx: what a client sends in X-Forwarded-For is not believed
      ENABLE_METRICS_IN_TESTS: "true",
      MAX_IMAGE_FILE_SIZE_MB: String(MAX_MB),
      IMAGE_DIR: imageDir
    })
    const port = await freePort()
    edge = `http://127.0.0.1:${port}`
    nginx = new Child(
      spawn("sh", [ENTRYPOINT], {
        env: nginxEnv(runtimeDir, {
          ROOT_PATH,
          RATE_LIMIT_PER_MINUTE: "600", // 10/s with a burst of 10: far above the app's limit
          RATE_LIMIT_AUTH_PER_MINUTE: String(EDGE_AUTH_LIMIT),
          MAX_IMAGE_FILE_SIZE_MB: String(MAX_MB),
          NGINX_UPSTREAM: `127.0.0.1:${server.port}`,
          NGINX_LISTEN: `127.0.0.1:${port}`,
          NGINX_IMAGE_DIR: imageDir,
          NGINX_REAL_IP_FROM: "127.0.0.8/32"
        }),
        stdio: ["ignore", "pipe", "pipe"]
      })
    )
    await waitFor("nginx", async () => {
      if (nginx.process.exitCode !== null) {
        throw new Error(
          `nginx exited: ${nginx.output.join("\n")} ${readFileSync(join(runtimeDir, "error.log"), "utf8")}`
        )
      }
      return (await request(`${edge}/health`)).status === 200
    })
  })

  afterAll(async () => {
    await nginx?.stop("SIGQUIT")
    await server?.stop()
    if (runtimeDir) rmSync(runtimeDir, { recursive: true, force: true })
  })

  const accessLog = () =>
    readFileSync(join(runtimeDir, "access.log"), "utf8")
      .split("\n")
      .filter((line) => line !== "")
      .map((line) => JSON.parse(line) as Record<string, unknown>)

  const expectSecurityHeaders = (headers: Record<string, unknown>) => {
    expect(headers["x-frame-options"]).toBe("SAMEORIGIN")
    expect(headers["x-content-type-options"]).toBe("nosniff")
    expect(headers["x-xss-protection"]).toBe("1; mode=block")
    // the app's own (D14), once: the edge hides the upstream's copies
    expect(headers["referrer-policy"]).toBe("no-referrer")
  }

  it("answers its own /health (the pod's probe) without the app", async () => {
    const res = await request(`${edge}/health`)
    expect(res.status).toBe(200)
    expect(res.headers["content-type"]).toBe("application/json")
    expect(JSON.parse(res.text)).toEqual({ status: "ok" })
  })

  it("routes prefixed and bare paths to the API, with security headers and a request id", async () => {
    const bare = await request(`${edge}/countries`, { localAddress: "127.0.0.10" })
    // the query string survives the prefix rewrite: per_page=99 is out of range, so both are the app's 422
    const prefixed = await request(`${edge}${ROOT_PATH}/countries?per_page=99`, { localAddress: "127.0.0.10" })
    const bareQuery = await request(`${edge}/countries?per_page=99`, { localAddress: "127.0.0.10" })
    const prefixRoot = await request(`${edge}${ROOT_PATH}/ready`, { localAddress: "127.0.0.10" })
    expect(bare.status).toBe(200)
    expect(prefixed.status).toBe(422)
    expect(prefixed.text).toBe(bareQuery.text)
    expect(prefixRoot.status).toBe(200)
    expect(JSON.parse(prefixRoot.text)).toMatchObject({ ready: true })
    expectSecurityHeaders(bare.headers)
    // nginx made an id, gave it to the app, the app echoed it, and nginx logged the same one
    const id = bare.headers["x-request-id"]
    expect(id).toMatch(/^[0-9a-f]{32}$/)
    await waitFor("the access log line", async () => accessLog().some((l) => l["request_id"] === id))
    const line = accessLog().find((l) => l["request_id"] === id)!
    expect(line).toMatchObject({ request: "GET /countries HTTP/1.1", status: 200, remote_addr: "127.0.0.10" })
    expect(typeof line["request_time"]).toBe("number")
    expect(line["upstream_addr"]).toBe(`127.0.0.1:${server.port}`)
    // a client's own id is kept end to end
    const own = await request(`${edge}/ready`, {
      localAddress: "127.0.0.10",
      headers: { "x-request-id": "edge-test-1" }
    })
    expect(own.headers["x-request-id"]).toBe("edge-test-1")
    // probes are not logged
    expect(accessLog().some((l) => String(l["request"]).includes("/ready"))).toBe(false)
  })

  it("hands the real client address to the app's rate limiter (and the access log)", async () => {
    const fromA = (headers: Record<string, string> = {}) =>
      request(`${edge}/countries`, { localAddress: "127.0.0.2", headers })
    for (let i = 1; i <= APP_LIMIT; i++) {
      const res = await fromA()
      expect(res.status).toBe(200)
      expect(res.headers["ratelimit-limit"]).toBe(String(APP_LIMIT))
      expect(res.headers["ratelimit-remaining"]).toBe(String(APP_LIMIT - i))
    }
    const limited = await fromA()
    expect(limited.status).toBe(429)
    expect(limited.headers["ratelimit-limit"]).toBe(String(APP_LIMIT)) // the app's answer, not nginx's
    expect(JSON.parse(limited.text)).toMatchObject({ detail: `Rate limit exceeded: ${APP_LIMIT} per 1 minute` })
    // a forged X-Forwarded-For does not make client A someone else
    const forged = await fromA({ "x-forwarded-for": "198.51.100.7" })
    expect(forged.status).toBe(429)
    // client B, through the same nginx, has its own quota
    const fromB = await request(`${edge}/countries`, { localAddress: "127.0.0.3" })
    expect(fromB.status).toBe(200)
    expect(fromB.headers["ratelimit-remaining"]).toBe(String(APP_LIMIT - 1))
    // behind a trusted proxy (the ingress stand-in), the client it names is the one the app sees
    const proxied = await request(`${edge}/countries`, {
      localAddress: "127.0.0.8",
      headers: { "x-forwarded-for": "198.51.100.23", "x-request-id": "edge-proxied-1" }
    })
    expect(proxied.status).toBe(200)
    await waitFor("the app's access log line", async () =>
      server.child.jsonLines.some((l) => l["request_id"] === "edge-proxied-1")
    )
    const appLine = server.child.jsonLines.find((l) => l["request_id"] === "edge-proxied-1")!
    expect(appLine["client_ip"]).toBe("198.51.100.23")
    expect(server.child.jsonLines.some((l) => l["client_ip"] === "127.0.0.3" && l["path"] === "/countries")).toBe(true)
  })

  it("answers 429 itself from limit_req on the auth endpoints", async () => {
    const login = () =>
      request(`${edge}/auth/login`, {
        method: "POST",
        localAddress: "127.0.0.4",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ email: "nobody@example.com", password: "wrong-password" })
      })
    const statuses: Array<number> = []
    for (let i = 0; i < 3; i++) statuses.push((await login()).status) // rate + burst 2, all reach the app
    expect(statuses.every((s) => s !== 429)).toBe(true)
    const refused = await login()
    expect(refused.status).toBe(429)
    expect(refused.headers["ratelimit-limit"]).toBeUndefined() // nginx's answer: the app never saw it
    expect(refused.headers["content-type"]).toBe("application/problem+json")
    expect(refused.headers["retry-after"]).toBe("60")
    expectSecurityHeaders(refused.headers)
    const detail = `Rate limit exceeded: ${EDGE_AUTH_LIMIT} per 1 minute`
    expect(JSON.parse(refused.text)).toEqual({
      type: "/problems/rate-limited",
      title: "Too Many Requests",
      status: 429,
      error: detail,
      detail
    })
    // another spelling of the same endpoint is the same location, not a way around the limit
    const other = (path: string) =>
      request(`${edge}${path}`, {
        method: "POST",
        localAddress: "127.0.0.13",
        headers: { "content-type": "application/json" },
        body: "{}"
      })
    const spelled: Array<number> = []
    for (const path of ["/AUTH/LOGIN", "//auth/login", "/Auth/%4Cogin"]) spelled.push((await other(path)).status)
    expect(spelled.every((s) => s !== 429)).toBe(true)
    const spelledRefused = await other("/auth/LOGIN")
    expect(spelledRefused.status).toBe(429)
    expect(spelledRefused.headers["ratelimit-limit"]).toBeUndefined()
    // another client is not affected
    const unaffected = await request(`${edge}/auth/login`, {
      method: "POST",
      localAddress: "127.0.0.5",
      headers: { "content-type": "application/json" },
      body: "{}"
    })
    expect(unaffected.status).not.toBe(429)
  })

  it("serves images from the shared volume with cache headers, and leaves missing ones to the app", async () => {
    const bytes = Buffer.from("\xff\xd8\xff\xe0 not really a jpeg", "latin1")
    writeFileSync(join(imageDir, "7_200w_hotel.jpg"), bytes, { mode: 0o644 })
    for (const path of ["/static/images/7_200w_hotel.jpg", `${ROOT_PATH}/static/images/7_200w_hotel.jpg`]) {
      const res = await request(`${edge}${path}`, { localAddress: "127.0.0.11" })
      expect(res.status, path).toBe(200)
      expect(res.body.equals(bytes)).toBe(true)
      expect(res.headers["content-type"]).toBe("image/jpeg")
      expect(res.headers["cache-control"]).toBe("public, max-age=2592000, immutable")
      expectSecurityHeaders(res.headers)
      expect(res.headers["x-request-id"]).toBeUndefined() // from disk, not from the app
    }
    const missing = await request(`${edge}/static/images/404_200w_none.jpg`, { localAddress: "127.0.0.11" })
    expect(missing.status).toBe(404)
    expect(missing.headers["x-request-id"]).toBeDefined() // the app answered
    expect(missing.headers["cache-control"]).not.toBe("public, max-age=2592000, immutable")
    expect(accessLog().some((l) => String(l["request"]).includes("7_200w_hotel.jpg"))).toBe(false)
  })

  it("never serves the hidden folder of uploaded originals", async () => {
    mkdirSync(join(imageDir, ".originals"), { recursive: true, mode: 0o755 })
    writeFileSync(join(imageDir, ".originals", "8_hotel.jpg"), "original with GPS metadata", { mode: 0o644 })
    for (const path of ["/static/images/.originals/8_hotel.jpg", "/static/images/.originals/"]) {
      const res = await request(`${edge}${path}`, { localAddress: "127.0.0.11" })
      expect(res.status, path).toBe(404)
      expect(res.body.toString()).not.toContain("GPS")
    }
  })

  it("serves /metrics to private addresses only", async () => {
    const direct = await request(`${edge}/metrics`, { localAddress: "127.0.0.5" }) // loopback: private
    expect(direct.status).toBe(200)
    expect(direct.text).toContain("api_requests_total")
    const internal = await request(`${edge}/metrics`, {
      localAddress: "127.0.0.8",
      headers: { "x-forwarded-for": "10.20.30.40" }
    })
    expect(internal.status).toBe(200)
    for (const path of ["/metrics", `${ROOT_PATH}/metrics`, "/%6Detrics"]) {
      const outside = await request(`${edge}${path}`, {
        localAddress: "127.0.0.8",
        headers: { "x-forwarded-for": "203.0.113.50" }
      })
      expect(outside.status, path).toBe(403)
      expect(outside.headers["content-type"]).toBe("application/problem+json")
      expect(outside.text).not.toContain("api_requests_total")
    }
    // every other spelling of the internal-only location: nginx checks its normalised URI without regard
    // to case, with or without the prefix, before the app (which routes some of these to /metrics) sees it
    const spellings = [
      "/METRICS",
      "/Metrics",
      "/mEtRiCs",
      "//metrics",
      "///METRICS",
      "/%6Detrics",
      "/%4D%45TRICS",
      "/%2Fmetrics",
      "/%2fMetrics",
      "/./metrics",
      "/%2e/METRICS",
      "/.%2FMetrics",
      "/x/../metrics",
      "/x/%2e%2e/Metrics",
      "/x/..%2FMETRICS",
      "/live/../Metrics",
      "/static/images/..%2F..%2FMetrics",
      "/static/images/%2e%2e/%2E%2E/metrics",
      "/metrics/",
      "/metrics.",
      "/METRICS.",
      "/Metrics..",
      "/metrics;x",
      "/METRICS;x",
      "/Metrics?format=text",
      "/metrics%2F",
      "/METRICS%20"
    ]
    const prefixes = ["", ROOT_PATH, ROOT_PATH.toUpperCase(), `${ROOT_PATH}/`, ROOT_PATH.replace("/shum", "//shum")]
    for (const prefix of prefixes) {
      for (const spelling of spellings) {
        const path = `${prefix}${spelling}`
        const outside = await request(`${edge}${path}`, {
          localAddress: "127.0.0.8",
          headers: { "x-forwarded-for": "203.0.113.51" }
        })
        expect(outside.status, path).toBe(403)
        expect(outside.headers["content-type"], path).toBe("application/problem+json")
        expect(outside.text, path).not.toContain("api_requests_total")
      }
    }
    // a NUL is refused by nginx itself; it never reaches the app either
    const nul = await request(`${edge}/METRICS%00`, {
      localAddress: "127.0.0.8",
      headers: { "x-forwarded-for": "203.0.113.51" }
    })
    expect(nul.status).toBe(400)
    expect(nul.text).not.toContain("api_requests_total")
    // the internal network still reads it, bare and under the prefix
    for (const path of ["/metrics", `${ROOT_PATH}/metrics`]) {
      const inside = await request(`${edge}${path}`, { localAddress: "127.0.0.5" })
      expect(inside.status, path).toBe(200)
      expect(inside.text).toContain("api_requests_total")
    }
    // a public client cannot pose as a private one: the trusted proxy appends the real address last
    const spoofed = await request(`${edge}/metrics`, {
      localAddress: "127.0.0.8",
      headers: { "x-forwarded-for": "10.0.0.1, 203.0.113.50" }
    })
    expect(spoofed.status).toBe(403)
  })

  it("refuses an oversized upload with 413 and lets one under the limit through to the app", async () => {
    const tooLarge = await request(`${edge}/images/upload/1`, {
      method: "POST",
      localAddress: "127.0.0.6",
      headers: { "content-type": "application/octet-stream" },
      body: Buffer.alloc((MAX_MB + 2) * 1024 * 1024)
    })
    expect(tooLarge.status).toBe(413)
    expect(tooLarge.headers["content-type"]).toBe("application/problem+json")
    expect(JSON.parse(tooLarge.text)).toEqual({
      type: "/problems/payload-too-large",
      title: "Payload Too Large",
      status: 413,
      detail: `Размер файла превышает допустимый лимит ${MAX_MB} МБ`
    })
    const fits = await request(`${edge}/images/upload/1`, {
      method: "POST",
      localAddress: "127.0.0.7",
      // an upload is multipart: the app bounds it by MAX_IMAGE_FILE_SIZE_MB, not by MAX_JSON_BODY_KB
      headers: { "content-type": "multipart/form-data; boundary=x" },
      body: Buffer.alloc(Math.floor(MAX_MB * 1.5 * 1024 * 1024))
    })
    expect(fits.status).not.toBe(413)
    expect(fits.headers["x-request-id"]).toBeDefined() // the app's answer (no credentials: 401)
  })

  it("compresses JSON", async () => {
    const res = await request(`${edge}/openapi.json`, {
      localAddress: "127.0.0.12",
      headers: { "accept-encoding": "gzip" }
    })
    expect(res.status).toBe(200)
    expect(res.headers["content-encoding"]).toBe("gzip")
    expect(res.headers["vary"]).toContain("Accept-Encoding")
    expect(JSON.parse(gunzipSync(res.body).toString("utf8"))).toHaveProperty("openapi")
  })

  it("writes one JSON object per access-log line", () => {
    const lines = accessLog()
    expect(lines.length).toBeGreaterThan(5)
    for (const line of lines) {
      expect(Object.keys(line)).toEqual(
        expect.arrayContaining(["time_local", "remote_addr", "request", "status", "request_time", "request_id"])
      )
    }
    expect(lines.some((l) => l["remote_addr"] === "203.0.113.50" && l["status"] === 403)).toBe(true)
  })
})
