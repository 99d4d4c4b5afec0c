/**
 * Prometheus metrics (API.md §12) in a registry of our own (the global one breaks when two servers
 * are built in one process, as tests do). Node's default collectors provide the process metrics.
 */
import { Effect } from "effect"
import { Counter, Gauge, Registry, collectDefaultMetrics } from "prom-client"

const startedAt = Date.now()

export class Metrics extends Effect.Service<Metrics>()("server/Metrics", {
  sync: () => {
    const registry = new Registry()
    collectDefaultMetrics({ register: registry })
    const registers = [registry]
    const appInfo = new Gauge({ name: "app_info", help: "Application information", labelNames: ["version"], registers })
    appInfo.set({ version: "1.0.0" }, 1)
    new Gauge({
      name: "app_uptime_seconds",
      help: "Seconds since the process started",
      registers,
      collect() {
        this.set((Date.now() - startedAt) / 1000)
      }
    })
    const counters = {
      authRegistrations: new Counter({ name: "auth_registrations_total", help: "Successful registrations", registers }),
      authLogins: new Counter({
        name: "auth_logins_total",
        help: "Login attempts that reached the handler",
        labelNames: ["status"] as const,
        registers
      }),
      authFailedAttempts: new Counter({
        name: "auth_failed_attempts_total",
        help: "Failed logins by reason",
        labelNames: ["reason"] as const,
        registers
      }),
      authRefreshTokens: new Counter({
        name: "auth_refresh_tokens_total",
        help: "Token refreshes",
        labelNames: ["status"] as const,
        registers
      }),
      bookingsCreated: new Counter({ name: "bookings_created_total", help: "Bookings created", registers }),
      hotelsCreated: new Counter({ name: "hotels_created_total", help: "Hotels created", registers })
    }
    return {
      registry,
      counters,
      exposition: Effect.promise(() => registry.metrics())
    } as const
  }
}) {}
