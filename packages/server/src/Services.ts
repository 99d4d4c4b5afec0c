/**
 * The server's services, assembled once. What differs between production and the embedded default is
 * only which Layers back the Redis-shaped services (D10): Redis when configured, in-process otherwise.
 */
import { AppConfig } from "@shum/infra/Config"
import { Redis } from "@shum/infra/Redis"
import { Effect, Layer, Option } from "effect"
import { AuthService } from "./Auth/Service.js"
import { Passwords } from "./Auth/Passwords.js"
import { RefreshTokens } from "./Auth/RefreshTokens.js"
import { TokenStoreMemory, TokenStoreRedis } from "./Auth/TokenStore.js"
import { Tokens } from "./Auth/Tokens.js"
import { Lifecycle } from "./Lifecycle.js"
import { Metrics } from "./Metrics.js"
import { Health, RedisProbe } from "./System/Health.js"
import { WorkerStatusNone } from "./System/WorkerStatus.js"
import { UsersRepo } from "./Users/Repo.js"
import { UsersService } from "./Users/Service.js"

/** Token store and health probe: Redis when `REDIS_HOST`/`REDIS_URL` is set, in-process otherwise. */
export const RedisBackedLive = Layer.unwrapEffect(
  Effect.map(AppConfig, (config) =>
    Option.isSome(config.redis)
      ? Layer.mergeAll(
          TokenStoreRedis,
          Layer.effect(
            RedisProbe,
            Effect.map(Redis, (redis) => ({ ping: redis.ping }))
          )
        ).pipe(Layer.provide(Redis.layer(config.redis.value)))
      : TokenStoreMemory
  )
)

const RepositoriesLive = Layer.mergeAll(UsersRepo.Default, RefreshTokens.Default)

/** Everything the handlers need, given a `SqlClient`, `AppConfig` and the Redis-backed services. */
export const ServicesLive = Layer.mergeAll(AuthService.Default, UsersService.Default, Health.Default).pipe(
  Layer.provideMerge(
    Layer.mergeAll(Tokens.Default, Passwords.Default, Metrics.Default, Lifecycle.Default, WorkerStatusNone)
  ),
  Layer.provideMerge(RepositoriesLive)
)
