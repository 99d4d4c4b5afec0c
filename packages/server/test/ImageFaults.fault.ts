/**
 * The image job path broken on purpose (D5, D6): a server process and image worker processes on a real
 * PostgreSQL and on a `redis-server` of this file's own (a spare port, no persistence), which is flushed,
 * stopped and started again. Each fault asserts: no image lost (every accepted upload ends `done`, each
 * processed once), no 500, a 503 only with `Retry-After`, and recovery without restarting anything.
 *
 * - a worker SIGKILLed mid-job: another takes its job over after the visibility timeout;
 * - Redis flushed (FLUSHALL) under a running worker: the worker creates its consumer group again, logs it,
 *   counts it (`image_jobs_group_recreated_total`) and queues the images left pending at once;
 * - Redis stopped, then started again empty on the same port: the worker's `/ready` is 503 meanwhile and an
 *   upload is a 503 with `Retry-After` that leaves no row and no file; then everything works again;
 * - the PostgreSQL backends of the server and the worker terminated: uploads and processing go on.
 */
import { databaseUrl, randomName, withPgClient } from "@shum/infra/Testing"
import { mkdtemp, readdir, rm } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import pg from "pg"
import sharp from "sharp"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { killQuietly, spawnWorker, type WorkerProcess } from "../../worker/test/WorkerProcess.js"
import { freePort, OwnRedis, type Proc, sleep, startServerProcess, waitFor, waitReady } from "./FaultSupport.js"
import { TEST_SECRET } from "./support.js"

const ADMIN = { email: "faults-admin@example.com", password: "fault-suite-pass" }
const STREAM = "shum:images:jobs"
const GROUP = "image-workers"
/** The advisory lock of the first case's gate. */
const GATE = 4_242_001

const database = randomName("shum_fault_")
const query = <R extends pg.QueryResultRow>(text: string, values: Array<unknown> = []) =>
  withPgClient(databaseUrl(database), (c) => c.query<R>(text, values)).then((r) => r.rows)

// --- this file's own Redis -----------------------------------------------------------------------------

/** Started in `beforeAll` on a spare port (`FaultSupport.ts`). */
let redis: OwnRedis

// --- the server, the workers, uploads ------------------------------------------------------------------

let dir = ""
let server: Proc | undefined
let base = ""
let token = ""
const workers: Array<WorkerProcess & { readonly name: string; readonly port: number }> = []
/** Every answer of the server to an upload, for the no-500 and Retry-After checks. */
const answers: Array<{ status: number; retryAfter: string | null; body: unknown }> = []

const startWorker = async (name: string) => {
  const port = await freePort()
  const worker = spawnWorker({
    DATABASE_URL: databaseUrl(database),
    REDIS_URL: redis.url,
    IMAGE_DIR: dir,
    WORKER_NAME: name,
    WORKER_PORT: String(port),
    IMAGE_WORKER_CONCURRENCY: "1",
    IMAGE_JOB_TIMEOUT_SECONDS: "5",
    IMAGE_JOB_VISIBILITY_TIMEOUT_SECONDS: "6",
    IMAGE_JOB_RETRY_DELAY_SECONDS: "1",
    // far away: what is queued again promptly is the worker's recovery, not the periodic re-queue
    IMAGE_PENDING_REQUEUE_SECONDS: "3600"
  })
  const entry = Object.assign(worker, { name, port })
  workers.push(entry)
  await waitFor(`${name}'s /ready`, () => readyOf(entry).then((status) => status === 200), 60_000).catch(
    (error: unknown) => {
      throw new Error(`${String(error)}\n${worker.output().slice(-3000)}`)
    }
  )
  return entry
}
const readyOf = (worker: { readonly port: number }) =>
  fetch(`http://127.0.0.1:${worker.port}/ready`).then(
    (r) => r.status,
    () => 0
  )
const metricOf = async (worker: { readonly port: number }, name: string) => {
  const text = await (await fetch(`http://127.0.0.1:${worker.port}/metrics`)).text()
  const line = text.split("\n").find((l) => l.startsWith(`${name} `))
  return line === undefined ? undefined : Number(line.split(" ")[1])
}

let hotelId = 0
const photo = sharp({ create: { width: 1600, height: 1200, channels: 3, background: "#446688" } })
  .jpeg({ quality: 85 })
  .toBuffer()

const upload = async (name: string) => {
  const form = new FormData()
  form.append("file", new Blob([await photo], { type: "image/jpeg" }), name)
  const response = await fetch(`${base}/images/upload/${hotelId}`, {
    method: "POST",
    headers: { authorization: `Bearer ${token}` },
    body: form
  })
  const body = (await response.json()) as { image_id?: number }
  answers.push({ status: response.status, retryAfter: response.headers.get("retry-after"), body })
  return { status: response.status, retryAfter: response.headers.get("retry-after"), id: body.image_id }
}

/**
 * Uploads that must be accepted: 202 (the server does not wait for the worker here), or 200 when a worker
 * was quick enough to finish the image before the server's one look at its row.
 */
const uploadAll = async (prefix: string, n: number) => {
  const ids: Array<number> = []
  for (let i = 0; i < n; i++) {
    const answer = await upload(`${prefix}-${i}.jpg`)
    expect([200, 202], JSON.stringify(answers.at(-1))).toContain(answer.status)
    ids.push(answer.id!)
  }
  return ids
}

const statuses = (ids: ReadonlyArray<number>) =>
  query<{ id: number; status: string }>(`SELECT id, status FROM images WHERE id = ANY($1::int[]) ORDER BY id`, [ids])

const allDone = (ids: ReadonlyArray<number>, ms = 45_000) =>
  waitFor(
    `images ${ids.join(", ")} done`,
    async () => (await statuses(ids)).filter((r) => r.status === "done").length === ids.length,
    ms
  ).catch(async (error: unknown) => {
    const tail = workers.map((w) => `--- ${w.name}\n${w.output().slice(-2500)}`).join("\n")
    throw new Error(`${String(error)}: ${JSON.stringify(await statuses(ids))}\n${tail}`)
  })

/** How many times each image was processed, from every worker's log ("image processed in … ms"). */
const processedCounts = () => {
  const counts = new Map<number, number>()
  for (const worker of workers) {
    for (const line of worker.output().split("\n")) {
      if (!line.startsWith("{") || !line.includes('"image processed in')) continue
      const id = (JSON.parse(line) as { image_id: number }).image_id
      counts.set(id, (counts.get(id) ?? 0) + 1)
    }
  }
  return counts
}

/** Ends every connection to the test's database (but the caller's): how many there were. */
const terminateBackends = () =>
  withPgClient(databaseUrl("postgres"), (c) =>
    c.query(
      `WITH victims AS MATERIALIZED (
         SELECT pid FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()
       )
       SELECT pid FROM victims WHERE pg_terminate_backend(pid)`,
      [database]
    )
  ).then((r) => r.rowCount ?? 0)

const celeryWorkers = async () => {
  const health = (await (await fetch(`${base}/health/detailed`)).json()) as { celery: { workers?: Array<string> } }
  return health.celery.workers ?? []
}

const expectProcessedOnce = async (ids: ReadonlyArray<number>, options: { readonly atMost?: boolean } = {}) => {
  const counts = processedCounts()
  const seen = ids.map((id) => [id, counts.get(id) ?? 0])
  if (options.atMost)
    expect(
      seen.filter(([, n]) => n! > 1),
      "no image processed twice"
    ).toEqual([])
  else expect(seen, "each image processed exactly once").toEqual(ids.map((id) => [id, 1]))
  const files = await readdir(dir)
  for (const id of ids) {
    expect(files.filter((f) => f.startsWith(`${id}_`)).length, `the three variants of ${id}`).toBe(3)
  }
  // a redelivery of a job whose worker died after marking the image done tidies its original: wait for it
  const leftOriginals = async () =>
    (await readdir(join(dir, ".originals"))).filter((f) => ids.some((id) => f.startsWith(`${id}_`)))
  await waitFor("the originals removed", async () => (await leftOriginals()).length === 0, 20_000).catch(
    () => undefined
  )
  expect(await leftOriginals()).toEqual([])
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "shum-image-faults-"))
  redis = new OwnRedis(await freePort())
  await redis.start()
  await withPgClient(databaseUrl("postgres"), (c) => c.query(`CREATE DATABASE ${database}`))
  const port = await freePort()
  base = `http://127.0.0.1:${port}`
  server = startServerProcess({
    APP_ENV: "test",
    JWT_SECRET_KEY: TEST_SECRET,
    DATABASE_URL: databaseUrl(database),
    REDIS_URL: redis.url,
    HOST: "127.0.0.1",
    PORT: String(port),
    IMAGE_DIR: dir,
    IMAGE_UPLOAD_WAIT_SECONDS: "0",
    ADMIN_EMAIL: ADMIN.email,
    ADMIN_PASSWORD: ADMIN.password,
    LOG_LEVEL: "WARNING"
  })
  await waitReady(server, base)
  const login = await fetch(`${base}/auth/login`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(ADMIN)
  })
  token = ((await login.json()) as { access_token: string }).access_token
  const [country] = await query<{ id: number }>(
    `INSERT INTO countries (name, iso_code) VALUES ('Сбой', 'XF') RETURNING id`
  )
  const [city] = await query<{ id: number }>(
    `INSERT INTO cities (name, country_id) VALUES ('Сбойск', $1) RETURNING id`,
    [country!.id]
  )
  const [hotel] = await query<{ id: number }>(
    `INSERT INTO hotels (title, city_id, address) VALUES ('Отель Сбой', $1, 'ул. Хрупкая, 1') RETURNING id`,
    [city!.id]
  )
  hotelId = hotel!.id
}, 120_000)

afterAll(async () => {
  workers.forEach(killQuietly)
  if (server !== undefined) await server.kill()
  await redis.stop()
  await withPgClient(databaseUrl("postgres"), (c) => c.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`))
  await rm(dir, { recursive: true, force: true })
})

describe("the image job path under faults", () => {
  it("a worker SIGKILLed mid-job: another takes its job over; every image done, each processed once", async () => {
    // The doomed worker, alone, is held inside its first job: a trigger of this test makes the job's first
    // statement (`attempts` set) wait for an advisory lock the test holds. So the kill lands mid-job every
    // time, however fast or loaded the machine (watching XPENDING for a job in hand raced the processing).
    const gate = new pg.Client({ connectionString: databaseUrl(database) })
    await gate.connect()
    await gate.query(`SELECT pg_advisory_lock($1)`, [GATE])
    await query(`CREATE FUNCTION fault_gate() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN PERFORM pg_advisory_lock_shared(${GATE}); PERFORM pg_advisory_unlock_shared(${GATE}); RETURN NEW; END $$`)
    await query(
      `CREATE TRIGGER fault_gate BEFORE UPDATE OF attempts ON images FOR EACH ROW EXECUTE FUNCTION fault_gate()`
    )
    let doomed: (typeof workers)[number] | undefined
    let ids: Array<number> = []
    try {
      doomed = await startWorker(randomName("doomed-"))
      ids = await uploadAll("kill", 4)
      await waitFor("the doomed worker to hold a job", async () =>
        (await redis.cli("XPENDING", STREAM, GROUP, "-", "+", "10")).includes(`${doomed!.name}/0`)
      )
      await waitFor("the doomed worker inside its job (waiting at the gate)", async () => {
        const [row] = await query<{ n: string }>(
          `SELECT count(*) AS n FROM pg_locks WHERE locktype = 'advisory' AND objid = $1 AND NOT granted`,
          [GATE]
        )
        return row!.n === "1"
      })
      doomed.child.kill("SIGKILL")
      expect((await doomed.exited).signal).toBe("SIGKILL")
    } finally {
      if (doomed !== undefined) killQuietly(doomed)
      // its backend, still waiting at the gate, goes with it; then the gate goes
      await query(
        `SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory' AND objid = $1 AND NOT granted`,
        [GATE]
      )
      await gate.end()
      await query(`DROP TRIGGER fault_gate ON images`)
      await query(`DROP FUNCTION fault_gate()`)
    }
    await startWorker(randomName("rescuer-"))
    await allDone(ids)
    // the doomed worker never got past the gate: each image processed exactly once, all by the rescuer
    await expectProcessedOnce(ids)
  })

  it("Redis flushed under a running worker: the group is created again, logged, counted; pending images done", async () => {
    const worker = workers.at(-1)!
    expect(await metricOf(worker, "image_jobs_group_recreated_total")).toBe(0)
    // the worker paused while uploads queue their jobs; then Redis loses everything
    worker.child.kill("SIGSTOP")
    let ids: Array<number> = []
    try {
      ids = await uploadAll("flush", 3)
      expect(await redis.cli("FLUSHALL")).toBe("OK")
      expect(await redis.cli("EXISTS", STREAM)).toBe("0")
    } finally {
      worker.child.kill("SIGCONT")
    }
    await allDone(ids, 30_000)
    await expectProcessedOnce(ids)
    expect(await metricOf(worker, "image_jobs_group_recreated_total")).toBe(1)
    const warnings = worker
      .output()
      .split("\n")
      .filter((l) => l.includes('"WARNING"') && l.includes("had lost its consumer group"))
    expect(warnings.length, worker.output().slice(-2000)).toBe(1)
    const requeued = worker
      .output()
      .split("\n")
      .filter((l) => l.includes("whose jobs were lost with the stream"))
      .map((l) => (JSON.parse(l) as { message: string }).message)
    // 3, or 2 when the paused worker's blocked read had already been handed the first job (then in hand)
    expect(requeued).toHaveLength(1)
    expect(requeued[0]).toMatch(/^queued again [23] pending image\(s\) whose jobs were lost with the stream$/)
    expect(await readyOf(worker)).toBe(200)
    // the server's health lists the worker again (its heartbeat went with the flush)
    await waitFor("the worker in /health/detailed", async () => {
      const health = (await (await fetch(`${base}/health/detailed`)).json()) as {
        celery: { status: string; workers?: Array<string> }
      }
      return health.celery.status === "ok" && (health.celery.workers ?? []).includes(worker.name)
    })
  })

  it("Redis stopped, then back empty: worker /ready 503 and uploads 503 + Retry-After, nothing left; then it all works", async () => {
    const worker = workers.at(-1)!
    const rowsBefore = await query<{ n: string }>(`SELECT count(*) AS n FROM images`)
    await redis.stop()
    await waitFor("the worker's /ready to turn 503", async () => (await readyOf(worker)) === 503, 20_000)
    const refused = await upload("outage.jpg")
    expect(refused.status).toBe(503)
    expect(refused.retryAfter).toMatch(/^[1-9]\d*$/)
    expect(await query(`SELECT count(*) AS n FROM images`)).toEqual(rowsBefore)
    expect((await readdir(join(dir, ".originals"))).filter((f) => f.includes("outage"))).toEqual([])
    // while it is down the server's health says what is missing
    const health = (await (await fetch(`${base}/health/detailed`)).json()) as { status: string }
    expect(health.status).not.toBe("ok")

    await redis.start()
    await waitFor("the worker's /ready back to 200", async () => (await readyOf(worker)) === 200, 30_000)
    const ids = await uploadAll("after", 2)
    await allDone(ids, 30_000)
    await expectProcessedOnce(ids)
    expect(await metricOf(worker, "image_jobs_group_recreated_total")).toBe(2)
    expect(worker.child.exitCode, "the worker was not restarted").toBeNull()
  })

  it("the PostgreSQL backends of the server and the worker terminated: uploads and processing go on", async () => {
    // an upload that meets a dead connection may be refused (503 + Retry-After): the client sends it again
    const accepted = async (name: string) => {
      for (let attempt = 0; attempt < 5; attempt++) {
        const answer = await upload(name)
        if (answer.status === 202) return answer.id!
        expect(answer.status).toBe(503)
        await sleep(Number(answer.retryAfter) * 100)
      }
      throw new Error(`${name} never accepted: ${JSON.stringify(answers.slice(-5))}`)
    }
    const ids: Array<number> = []
    for (let round = 0; round < 4; round++) {
      if (round > 0) {
        // both pools have just been used (an upload, its processing): their connections are ended under them
        expect(await terminateBackends(), "the server's and the worker's connections").toBeGreaterThanOrEqual(2)
      }
      const id = await accepted(`pg-${round}.jpg`)
      ids.push(id)
      await allDone([id], 30_000)
    }
    await expectProcessedOnce(ids)
  })

  it("its database refusing connections: the worker is not ready and drops out of /health/detailed; back after", async () => {
    const worker = workers.at(-1)!
    const allow = (on: boolean) =>
      withPgClient(databaseUrl("postgres"), (c) => c.query(`ALTER DATABASE ${database} ALLOW_CONNECTIONS ${on}`))
    await allow(false)
    try {
      await terminateBackends()
      await waitFor("the worker's /ready to turn 503", async () => (await readyOf(worker)) === 503, 20_000)
      await waitFor("/health/detailed without the worker", async () => !(await celeryWorkers()).includes(worker.name))
    } finally {
      await allow(true)
    }
    await waitFor("the worker's /ready back to 200", async () => (await readyOf(worker)) === 200, 30_000)
    await waitFor("/health/detailed with the worker", async () => (await celeryWorkers()).includes(worker.name))
    const ids = await uploadAll("db-back", 1)
    await allDone(ids, 30_000)
    await expectProcessedOnce(ids)
  })

  it("throughout: no 500, and every 503 carried Retry-After", () => {
    expect(answers.filter((a) => a.status >= 500 && a.status !== 503)).toEqual([])
    expect(answers.filter((a) => a.status === 503 && a.retryAfter === null)).toEqual([])
    expect(answers.length).toBeGreaterThan(10)
  })
})
