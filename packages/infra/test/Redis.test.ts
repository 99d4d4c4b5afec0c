import { assert, describe, it, layer } from "@effect/vitest"
import { createServer, connect, type Server, type Socket } from "node:net"
import { Context, Effect, Layer, Option, Schedule } from "effect"
import { Redis as IORedis } from "ioredis"
import type { RedisConnection } from "../src/Config.js"
import { Redis } from "../src/Redis.js"
import { randomName, REDIS_URL, redisConnection } from "./utils.js"

const prefix = randomName("shum-test:")
const key = (name: string) => `${prefix}:${name}`

const cleanup = Effect.acquireRelease(Effect.void, () =>
  Effect.promise(async () => {
    const client = new IORedis(REDIS_URL)
    const keys = await client.keys(`${prefix}:*`)
    if (keys.length > 0) await client.del(...keys)
    client.disconnect()
  })
)

/** A TCP hop in front of the real Redis that a test can cut, stall and restore. */
const makeProxy = Effect.acquireRelease(
  Effect.promise(async () => {
    const target = new URL(REDIS_URL)
    const sockets = new Set<Socket>()
    let stalled = false
    const listen = (port: number) =>
      new Promise<Server>((done) => {
        const server = createServer((downstream) => {
          const upstream = connect(Number(target.port || 6379), target.hostname)
          for (const socket of [downstream, upstream]) {
            sockets.add(socket)
            socket.on("error", () => socket.destroy())
            socket.on("close", () => sockets.delete(socket))
          }
          downstream.on("data", (chunk) => !stalled && upstream.write(chunk))
          upstream.on("data", (chunk) => !stalled && downstream.write(chunk))
          downstream.on("close", () => upstream.destroy())
          upstream.on("close", () => downstream.destroy())
        })
        server.listen(port, "127.0.0.1", () => done(server))
      })
    let server = await listen(0)
    const port = (server.address() as { port: number }).port
    return {
      port,
      cut: () =>
        new Promise<void>((done) => {
          server.close(() => done())
          for (const socket of sockets) socket.destroy()
        }),
      restore: async () => {
        server = await listen(port)
      },
      stall: (value: boolean) => {
        stalled = value
      },
      close: () => {
        server.close()
        for (const socket of sockets) socket.destroy()
      }
    }
  }),
  (proxy) => Effect.sync(() => proxy.close())
)

const viaPort = (port: number): RedisConnection => ({
  _tag: "Params",
  host: "127.0.0.1",
  port,
  db: 0,
  password: Option.none()
})

const elapsed = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.gen(function* () {
    const started = Date.now()
    const result = yield* effect
    return [result, Date.now() - started] as const
  })

layer(Redis.layer(redisConnection), { excludeTestServices: true })("Redis", (it) => {
  it.scoped("use runs commands", () =>
    Effect.gen(function* () {
      yield* cleanup
      const redis = yield* Redis
      yield* redis.use((c) => c.set(key("greeting"), "привет", "EX", 60))
      assert.strictEqual(yield* redis.use((c) => c.get(key("greeting"))), "привет")
      const error = yield* Effect.flip(redis.use((c) => c.incr(key("greeting"))))
      assert.strictEqual(error._tag, "RedisError")
    })
  )

  it.effect("ping", () => Effect.flatMap(Redis, (redis) => redis.ping))

  it.scoped("recovers after its connection is killed", () =>
    Effect.gen(function* () {
      yield* cleanup
      const redis = yield* Redis
      const id = yield* redis.use((c) => c.client("ID"))
      const killer = yield* redis.dedicated(`${prefix}:killer`)
      assert.strictEqual(yield* Effect.promise(() => killer.client("KILL", "ID", String(id))), 1)
      // the first command after the drop may land on the dead socket; within a couple of seconds all is well
      yield* redis
        .use((c) => c.set(key("after-kill"), "ok"))
        .pipe(Effect.retry({ schedule: Schedule.spaced("100 millis"), times: 20 }))
      assert.strictEqual(yield* redis.use((c) => c.get(key("after-kill"))), "ok")
      assert.notStrictEqual(yield* redis.use((c) => c.client("ID")), id)
    })
  )

  it.scoped("dedicated connections serve blocking commands and close with their scope", () =>
    Effect.gen(function* () {
      yield* cleanup
      const redis = yield* Redis
      const blocking = yield* Effect.scoped(
        Effect.gen(function* () {
          const conn = yield* redis.dedicated(`${prefix}:consumer`)
          const popped = yield* Effect.fork(Effect.promise(() => conn.blpop(key("queue"), 5)))
          yield* Effect.sleep("100 millis")
          yield* redis.use((c) => c.rpush(key("queue"), "job-1"))
          assert.deepStrictEqual(yield* popped.await.pipe(Effect.flatten), [key("queue"), "job-1"])
          return conn
        })
      )
      yield* Effect.sleep("50 millis")
      assert.strictEqual(blocking.status, "end")
    })
  )
})

describe("Redis when it is unreachable", () => {
  it.live("building against a closed port fails fast with RedisError", () =>
    Effect.gen(function* () {
      const proxy = yield* makeProxy
      yield* Effect.promise(() => proxy.cut())
      const [error, ms] = yield* elapsed(Effect.flip(Layer.build(Redis.layer(viaPort(proxy.port)))))
      assert.strictEqual(error._tag, "RedisError")
      assert.isBelow(ms, 2500)
    }).pipe(Effect.scoped)
  )

  it.live("commands fail within ~2 s while Redis is down, and work again once it is back", () =>
    Effect.gen(function* () {
      yield* cleanup
      const proxy = yield* makeProxy
      const redis = yield* Layer.build(Redis.layer(viaPort(proxy.port))).pipe(Effect.map(Context.get(Redis)))
      yield* redis.use((c) => c.set(key("down"), "1"))

      yield* Effect.promise(() => proxy.cut())
      for (let i = 0; i < 3; i++) {
        const [error, ms] = yield* elapsed(Effect.flip(redis.use((c) => c.get(key("down")))))
        assert.strictEqual(error._tag, "RedisError")
        assert.isBelow(ms, 2500)
      }
      const [pingError, pingMs] = yield* elapsed(Effect.flip(redis.ping))
      assert.strictEqual(pingError._tag, "RedisError")
      assert.isBelow(pingMs, 1500)

      yield* Effect.promise(() => proxy.restore())
      const value = yield* redis
        .use((c) => c.get(key("down")))
        .pipe(Effect.retry({ schedule: Schedule.spaced("200 millis"), times: 25 }))
      assert.strictEqual(value, "1")
    }).pipe(Effect.scoped)
  )

  it.live("a command to a Redis that stops answering times out", () =>
    Effect.gen(function* () {
      const proxy = yield* makeProxy
      const redis = yield* Layer.build(Redis.layer(viaPort(proxy.port))).pipe(Effect.map(Context.get(Redis)))
      yield* redis.ping
      proxy.stall(true)
      const [error, ms] = yield* elapsed(Effect.flip(redis.use((c) => c.get(key("stalled")))))
      assert.strictEqual(error._tag, "RedisError")
      assert.isBelow(ms, 2500)
    }).pipe(Effect.scoped)
  )
})
