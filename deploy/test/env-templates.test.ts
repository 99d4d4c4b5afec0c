/**
 * The env templates: each lists every variable the app reads (packages/infra/src/Config.ts is the source
 * of truth), each variable with a comment above it, no unknown or repeated names (a typo would be a
 * variable nobody reads), and .prod.env also every deployment variable of docs/operations.md §2.2.
 */
import { settings } from "@shum/infra/Config"
import { ConfigProvider, Effect, Option } from "effect"
import { describe, expect, it } from "vitest"
import { appVariables, parseEnvFile, readRepoFile } from "./support.js"

/** docs/operations.md §2.2 (and the additions of deploy/k3s/overlays/prod/deploy.env), read by the deploy, not the app. */
const DEPLOYMENT_VARIABLES = [
  "DOMAIN",
  "LETSENCRYPT_EMAIL",
  "LETSENCRYPT_SERVER",
  "FASTAPI_REPLICAS",
  "CELERY_REPLICAS",
  "NGINX_REPLICAS",
  "POSTGRES_REPLICAS",
  "REDIS_REPLICAS",
  "SERVER_MAX_REPLICAS",
  "WORKER_MAX_REPLICAS",
  "FASTAPI_MEMORY_REQUEST",
  "FASTAPI_CPU_REQUEST",
  "FASTAPI_MEMORY_LIMIT",
  "CELERY_MEMORY_REQUEST",
  "CELERY_CPU_REQUEST",
  "CELERY_MEMORY_LIMIT",
  "NGINX_MEMORY_REQUEST",
  "NGINX_CPU_REQUEST",
  "NGINX_MEMORY_LIMIT",
  "NGINX_CPU_LIMIT",
  "POSTGRES_MEMORY_REQUEST",
  "POSTGRES_CPU_REQUEST",
  "POSTGRES_MEMORY_LIMIT",
  "POSTGRES_CPU_LIMIT",
  "REDIS_MEMORY_REQUEST",
  "REDIS_CPU_REQUEST",
  "REDIS_MEMORY_LIMIT",
  "REDIS_CPU_LIMIT",
  "POSTGRES_STORAGE_SIZE",
  "REDIS_STORAGE_SIZE",
  "IMAGES_STORAGE_SIZE",
  "POSTGRES_IMAGE_TAG",
  "REDIS_IMAGE_TAG",
  "NGINX_IMAGE_TAG",
  "INGRESS_PROXY_BODY_SIZE",
  "NGINX_REAL_IP_FROM",
  "HEALTH_CHECK_INITIAL_DELAY",
  "HEALTH_CHECK_PERIOD",
  "HEALTH_CHECK_TIMEOUT",
  "HEALTH_CHECK_FAILURE_THRESHOLD",
  "HEALTH_CHECK_READINESS_INITIAL_DELAY",
  "HEALTH_CHECK_READINESS_PERIOD",
  "ACTIVE_CI_PROVIDER",
  "K3S_SERVER_IP",
  "K3S_SSH_USER",
  "K3S_SSH_KEY_BASE64",
  "KUBE_NAMESPACE",
  "CI_REGISTRY",
  "CI_REGISTRY_IMAGE",
  "CI_REGISTRY_USER",
  "CI_REGISTRY_PASSWORD",
  "CI_REGISTRY_EMAIL",
  "IMAGE_PULL_SECRET_NAME",
  "GITLAB_REPOSITORY_URL",
  "GITLAB_REPOSITORY_PATH",
  "GITLAB_PERSONAL_ACCESS_TOKEN",
  "GITLAB_TOKEN_EXPIRATION_DAY",
  "GITHUB_REPOSITORY_URL",
  "GITHUB_REPOSITORY_PATH",
  "GITHUB_PERSONAL_ACCESS_TOKEN",
  "GITHUB_TOKEN_EXPIRATION_DAY"
]
/** docs/operations.md §2.2, for the API test suite and end-to-end runs. */
const TEST_SUITE_VARIABLES = ["TEST_PASSWORD", "TEST_EXAMPLE_EMAIL_DOMAIN", "E2E_BASE_URL", "E2E_REQUEST_DELAY"]
/** docs/operations.md §2.1's Python runtime flag: listed for compatibility, ignored by Node. */
const COMPATIBILITY_VARIABLES = ["PYTHONUNBUFFERED"]

const templates = {
  ".local.env.template": { extra: [] as Array<string>, APP_ENV: "local" },
  ".test.env.template": { extra: TEST_SUITE_VARIABLES, APP_ENV: "test" },
  ".prod.env.template": { extra: DEPLOYMENT_VARIABLES, APP_ENV: "production" }
}

describe("env templates", () => {
  it("the app's variables are read from Config.ts (sanity: the list is the README's)", () => {
    const variables = appVariables()
    expect(variables.length).toBeGreaterThan(30)
    for (const name of ["APP_ENV", "DATABASE_URL", "LOG_LEVEL", "TRUSTED_PROXIES", "SHUTDOWN_TIMEOUT_SECONDS"]) {
      expect(variables).toContain(name)
    }
  })

  for (const [file, { extra, APP_ENV }] of Object.entries(templates)) {
    describe(file, () => {
      const entries = () => parseEnvFile(readRepoFile(file))

      it("lists every variable the app reads, and only known ones, each once", () => {
        const keys = entries().map((e) => e.key)
        const expected = [...appVariables(), ...extra, ...COMPATIBILITY_VARIABLES].sort()
        expect([...keys].sort()).toEqual(expected)
      })

      it("documents every variable with a comment line right above it", () => {
        const undocumented = entries().filter((e) => !e.documented)
        expect(undocumented.map((e) => e.key)).toEqual([])
      })

      it(`sets APP_ENV=${APP_ENV}, and every value passes the app's own configuration parsing`, async () => {
        expect(entries().find((e) => e.key === "APP_ENV")?.value).toBe(APP_ENV)
        const provider = ConfigProvider.fromMap(new Map(entries().map((e) => [e.key, e.value])))
        const parsed = await Effect.runPromise(Effect.either(Effect.withConfigProvider(settings, provider)))
        expect(parsed._tag === "Left" ? String(parsed.left) : "ok").toBe("ok")
        if (parsed._tag === "Right") {
          expect(parsed.right.env).toBe(APP_ENV)
          expect(Option.isSome(parsed.right.database)).toBe(true) // never the embedded default
          expect(Option.isSome(parsed.right.redis)).toBe(true)
        }
      })
    })
  }

  it("the production template points at the K3s Services and keeps the Ingress body size in step", () => {
    const prod = new Map(parseEnvFile(readRepoFile(".prod.env.template")).map((e) => [e.key, e.value]))
    expect(prod.get("JWT_COOKIE_SECURE")).toBe("true")
    expect(prod.get("LOG_FORMAT_JSON")).toBe("true")
    expect(prod.get("ROOT_PATH")).toBe("/apps/shum-booking")
    expect(prod.get("DB_HOST")).toBe("postgres-service") // the Services in deploy/k3s
    expect(prod.get("REDIS_HOST")).toBe("redis-service")
    expect(Number(prod.get("INGRESS_PROXY_BODY_SIZE")!.replace("m", ""))).toBe(
      Number(prod.get("MAX_IMAGE_FILE_SIZE_MB")) + 1
    )
  })
})
