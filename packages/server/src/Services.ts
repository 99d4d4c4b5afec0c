/**
 * The server's services, assembled once. What differs between production and the embedded default is
 * only which Layers back the Redis-shaped services (D10): Redis when configured, in-process otherwise.
 */
import { AppConfig, type RedisConnection } from "@shum/infra/Config"
import { ImageJobsMemoryLive } from "@shum/infra/ImageJobsMemory"
import { ImageJobsRedisLive } from "@shum/infra/ImageJobsRedis"
import { Outbox } from "@shum/infra/Outbox"
import { Redis } from "@shum/infra/Redis"
import { ImageProcessor } from "@shum/worker/ImageProcessor"
import { Effect, Layer, Option } from "effect"
import { AuditService } from "./Audit/AuditService.js"
import { AuditTrail } from "./Audit/AuditTrail.js"
import { FailureCountsMemory, FailureCountsRedis, SignInBursts } from "./Audit/SignInBursts.js"
import { AuthService } from "./Auth/AuthService.js"
import { Passwords } from "./Auth/Passwords.js"
import { RefreshTokens } from "./Auth/RefreshTokens.js"
import { Tokens } from "./Auth/Tokens.js"
import { BookingsServicesLive } from "./Bookings/BookingsService.js"
import { StayLimits } from "./Bookings/StayLimits.js"
import { HoldsService } from "./Holds/HoldsService.js"
import { CatalogueRepositoriesLive, CatalogueServicesLive } from "./Catalogue/CatalogueLayers.js"
import { ImagesRepo } from "./Images/ImagesRepo.js"
import { ImagesService } from "./Images/ImagesService.js"
import { WorkerStatusFromJobs } from "./Images/InProcessImageWorker.js"
import { Lifecycle } from "./Lifecycle.js"
import { MetricsLive } from "./Metrics.js"
import { RateLimiterMemory, RateLimiterRedis } from "./RateLimit/RateLimiter.js"
import { Health, RedisProbe } from "./System/Health.js"
import { WorkerStatusRedis } from "./System/WorkerStatus.js"
import { UsersRepo } from "./Users/UsersRepo.js"
import { UsersService } from "./Users/UsersService.js"
import { WebhooksService } from "./Webhooks/WebhooksService.js"

/**
 * Rate limiter, sign-in failure counts (docs/decisions.md D17), image job stream, worker heartbeats and health
 * probe on one Redis. (Revoked tokens live in
 * PostgreSQL, in both modes: docs/decisions.md D13.)
 */
export const RedisServicesLive = (connection: RedisConnection) =>
  Layer.mergeAll(
    RateLimiterRedis(),
    FailureCountsRedis(),
    ImageJobsRedisLive,
    WorkerStatusRedis,
    Layer.effect(
      RedisProbe,
      Effect.map(Redis, (redis) => ({ ping: redis.ping }))
    )
  ).pipe(Layer.provide(Redis.layer(connection)))

/** The same services in process memory (the embedded default, tests); workers = the in-process one, if running. */
export const InProcessServicesLive = Layer.mergeAll(
  RateLimiterMemory,
  FailureCountsMemory,
  WorkerStatusFromJobs.pipe(Layer.provideMerge(ImageJobsMemoryLive))
)

/** Redis when `REDIS_HOST`/`REDIS_URL` is set, in-process otherwise. */
export const RedisBackedLive = Layer.unwrapEffect(
  Effect.map(AppConfig, (config) =>
    Option.isSome(config.redis) ? RedisServicesLive(config.redis.value) : InProcessServicesLive
  )
)

/**
 * The rules of each slice. Every service brings its own repositories and helpers (`dependencies` of its
 * `Effect.Service`), so it needs only what is shared by the whole process: `SqlClient`, `AppConfig`,
 * `Metrics`, `Lifecycle` and the Redis-backed services.
 */
const SlicesLive = Layer.mergeAll(
  AuthService.Default,
  UsersService.Default,
  Health.Default,
  CatalogueServicesLive,
  BookingsServicesLive,
  HoldsService.Default,
  ImagesService.Default,
  WebhooksService.Default,
  AuditService.Default,
  SignInBursts.Default
)

/**
 * What is used outside the services too: by the security middleware (`Tokens`, `UsersRepo`, `RefreshTokens`),
 * start-up seeding (`UsersRepo`, `Passwords`), the in-process image worker (`ImageProcessor`) and the
 * tests. These are the same Layer
 * values the services depend on, and a Layer is built once per process, so there is one of each.
 */
const SharedLive = Layer.mergeAll(
  UsersRepo.Default,
  RefreshTokens.Default,
  Tokens.Default,
  Passwords.Default,
  StayLimits.Default,
  CatalogueRepositoriesLive,
  ImagesRepo.Default,
  ImageProcessor.Default,
  // the transactional outbox (docs/decisions.md D16): written by the slices' repositories and the tests
  Outbox.Default,
  // the audit trail (docs/decisions.md D17): written by the slices' services in their transactions
  AuditTrail.Default
)

/** One of each per process: the metrics registry and the shutdown state. */
const ProcessLive = Layer.mergeAll(MetricsLive, Lifecycle.Default)

/** Everything the handlers need, given a `SqlClient`, `AppConfig` and the Redis-backed services. */
export const ServicesLive = SlicesLive.pipe(Layer.provideMerge(SharedLive), Layer.provideMerge(ProcessLive))
