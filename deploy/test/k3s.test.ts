/**
 * The K3s manifests, offline: every kustomization renders (kustomize built into kubectl), every object
 * validates against the Kubernetes / cert-manager / prometheus-operator schemas (`kubernetes-models`),
 * type-checks as an object literal of its model's TypeScript interface (which catches misspelled fields,
 * where the JSON schemas allow unknown ones), and follows the rules below; and they agree with the app.
 */
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join, relative } from "node:path"
import ts from "typescript"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { appVariables, parseEnvFile, parseYamlDocuments, readRepoFile, repoPath, ROOT, run } from "./support.js"

type Obj = Record<string, unknown>
type Manifest = Obj & { apiVersion: string; kind: string; metadata: Obj & { name: string; namespace?: string } }

// --- helpers ---------------------------------------------------------------------------------------------

const obj = (value: unknown): Obj => (typeof value === "object" && value !== null ? (value as Obj) : {})
const arr = (value: unknown): Array<Obj> => (Array.isArray(value) ? (value as Array<Obj>) : [])
const at = (value: unknown, ...path: ReadonlyArray<string | number>): unknown =>
  path.reduce<unknown>((v, key) => (typeof v === "object" && v !== null ? (v as Obj)[key] : undefined), value)

const kustomize = (dir: string): Array<Manifest> => {
  const result = run("kubectl", ["kustomize", dir])
  if (result.code !== 0) throw new Error(`kubectl kustomize ${dir} failed:\n${result.stderr}`)
  return parseYamlDocuments(result.stdout) as Array<Manifest>
}

const kustomizationDirs = (): Array<string> => {
  const found: Array<string> = []
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir)) {
      const path = join(dir, entry)
      if (entry === "kustomization.yaml") found.push(relative(ROOT, dir))
      else if (statSync(path).isDirectory() && entry !== "test") walk(path)
    }
  }
  walk(repoPath("deploy"))
  return found.sort()
}

/** Where a kind's model lives: the module and the names of its class and interface. */
const modelOf = (apiVersion: string, kind: string) => {
  const [group, version] = apiVersion.includes("/") ? apiVersion.split("/") : ["", apiVersion]
  const module =
    group === ""
      ? `kubernetes-models/${version}`
      : group === "cert-manager.io"
        ? `@kubernetes-models/cert-manager/${group}/${version}`
        : group === "monitoring.coreos.com"
          ? `@kubernetes-models/prometheus-operator/${group}/${version}`
          : `kubernetes-models/${group}/${version}`
  return { module, className: kind, interfaceName: `I${kind}` }
}

const validateWithModel = async (manifest: Manifest) => {
  const { module, className } = modelOf(manifest.apiVersion, manifest.kind)
  const models = (await import(module)) as Record<string, new (data: unknown) => { validate(): void }>
  const Model = models[className]
  if (Model === undefined) throw new Error(`no model for ${manifest.apiVersion} ${manifest.kind}`)
  new Model(manifest).validate()
}

/** Type-checks each manifest as an object literal typed with its model's interface. */
const typeCheck = (manifests: ReadonlyArray<Manifest>): Array<string> => {
  const fileName = repoPath("deploy/test/__manifests__.ts")
  const imports: Array<string> = []
  const declarations: Array<string> = []
  manifests.forEach((manifest, i) => {
    const { module, interfaceName } = modelOf(manifest.apiVersion, manifest.kind)
    imports.push(`import type { ${interfaceName} as T${i} } from "${module}"`)
    declarations.push(
      `// ${manifest.kind}/${manifest.metadata.name}\nexport const m${i}: T${i} = ${JSON.stringify(manifest, null, 1)}`
    )
  })
  const source = `${imports.join("\n")}\n${declarations.join("\n")}\n`
  const options: ts.CompilerOptions = {
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    strict: true,
    exactOptionalPropertyTypes: true,
    noEmit: true,
    skipLibCheck: true,
    types: []
  }
  const host = ts.createCompilerHost(options)
  const getSourceFile = host.getSourceFile.bind(host)
  host.getSourceFile = (name, languageVersion, ...rest) =>
    name === fileName
      ? ts.createSourceFile(name, source, languageVersion)
      : getSourceFile(name, languageVersion, ...rest)
  const fileExists = host.fileExists.bind(host)
  host.fileExists = (name) => name === fileName || fileExists(name)
  const readFile = host.readFile.bind(host)
  host.readFile = (name) => (name === fileName ? source : readFile(name))
  const program = ts.createProgram([fileName], options, host)
  return ts.getPreEmitDiagnostics(program).map((d) => {
    const where = d.file && d.start !== undefined ? d.file.getLineAndCharacterOfPosition(d.start) : undefined
    const line = where === undefined ? "" : (source.split("\n")[where.line] ?? "")
    const owner =
      where === undefined
        ? ""
        : source
            .split("\n")
            .slice(0, where.line)
            .reverse()
            .find((l) => l.startsWith("// "))
    return `${owner ?? ""}: ${ts.flattenDiagnosticMessageText(d.messageText, "\n")} (at \`${line.trim()}\`)`
  })
}

interface Workload {
  readonly manifest: Manifest
  readonly pod: Obj
  readonly podLabels: Obj
  readonly containers: Array<Obj>
  readonly initContainers: Array<Obj>
}

const workloads = (manifests: ReadonlyArray<Manifest>): Array<Workload> =>
  manifests
    .filter((m) => ["Deployment", "StatefulSet", "Job", "DaemonSet"].includes(m.kind))
    .map((manifest) => {
      const template = obj(at(manifest, "spec", "template"))
      const pod = obj(template["spec"])
      return {
        manifest,
        pod,
        podLabels: obj(at(template, "metadata", "labels")),
        containers: arr(pod["containers"]),
        initContainers: arr(pod["initContainers"])
      }
    })

const find = (manifests: ReadonlyArray<Manifest>, kind: string, name: string): Manifest => {
  const found = manifests.find((m) => m.kind === kind && m.metadata.name === name)
  if (!found) throw new Error(`${kind}/${name} is missing`)
  return found
}

const container = (manifests: ReadonlyArray<Manifest>, kind: string, name: string, containerName = name): Obj => {
  const found = arr(at(find(manifests, kind, name), "spec", "template", "spec", "containers")).find(
    (c) => c["name"] === containerName
  )
  if (!found) throw new Error(`${kind}/${name} has no container ${containerName}`)
  return found
}

const envValue = (c: Obj, name: string): string | undefined =>
  arr(c["env"]).find((e) => e["name"] === name)?.["value"] as string | undefined

const matches = (selector: Obj, labels: Obj) => Object.entries(selector).every(([k, v]) => labels[k] === v)

// --- the rendered manifests ------------------------------------------------------------------------------

const rendered = new Map<string, Array<Manifest>>()
let prod: Array<Manifest>
let all: Array<Manifest>

beforeAll(() => {
  for (const dir of kustomizationDirs()) rendered.set(dir, kustomize(dir))
  prod = rendered.get("deploy/k3s/overlays/prod")!
  all = [...prod, ...rendered.get("deploy/k3s/monitoring")!]
})

describe("kustomize", () => {
  it("renders every kustomization: base, overlays/prod, monitoring and the nginx ConfigMap", () => {
    expect([...rendered.keys()]).toEqual([
      "deploy/k3s/base",
      "deploy/k3s/cert-manager",
      "deploy/k3s/monitoring",
      "deploy/k3s/overlays/prod",
      "deploy/nginx"
    ])
    for (const [dir, manifests] of rendered) expect(manifests.length, dir).toBeGreaterThan(0)
    const kinds = new Set(prod.map((m) => `${m.kind}/${m.metadata.name}`))
    for (const expected of [
      "Namespace/booking",
      "StorageClass/standard",
      "PersistentVolumeClaim/booking-images-pvc",
      "PersistentVolumeClaim/redis-data-pvc",
      "StatefulSet/postgres",
      "Service/postgres-service",
      "Deployment/redis",
      "Service/redis-service",
      "Job/migrate",
      "Deployment/server",
      "Service/server",
      "Deployment/worker",
      "Deployment/nginx",
      "Service/nginx-service",
      "Ingress/booking-ingress",
      "ClusterIssuer/letsencrypt-prod",
      "ClusterIssuer/letsencrypt-staging",
      "HorizontalPodAutoscaler/server",
      "HorizontalPodAutoscaler/worker",
      "PodDisruptionBudget/server",
      "PodDisruptionBudget/worker",
      "NetworkPolicy/default-deny-ingress"
    ]) {
      expect(kinds, expected).toContain(expected)
    }
    expect(prod.some((m) => m.kind === "ConfigMap" && m.metadata.name === "deploy-settings")).toBe(false) // local only
  })

  it("puts every namespaced object in `booking`", () => {
    const clusterScoped = new Set(["Namespace", "StorageClass", "ClusterIssuer"])
    for (const m of all) {
      if (clusterScoped.has(m.kind)) expect(m.metadata.namespace, m.kind).toBeUndefined()
      else expect(m.metadata.namespace, `${m.kind}/${m.metadata.name}`).toBe("booking")
    }
  })
})

describe("schemas", () => {
  it("validates every object of every kustomization against its Kubernetes, cert-manager or Prometheus schema", async () => {
    for (const [dir, manifests] of rendered) {
      for (const m of manifests) {
        await expect(validateWithModel(m), `${dir}: ${m.kind}/${m.metadata.name}`).resolves.toBeUndefined()
      }
    }
  })

  it("type-checks every object against its model's interface (misspelled fields fail)", () => {
    expect(typeCheck(all)).toEqual([])
  })

  it("the two checks catch what they are for (controls)", async () => {
    const server = structuredClone(find(prod, "Deployment", "server"))
    const c = arr(at(server, "spec", "template", "spec", "containers"))[0]!
    c["readinesProbe"] = c["readinessProbe"] // misspelled: the schema lets it pass, the type-check does not
    await expect(validateWithModel(server)).resolves.toBeUndefined()
    expect(typeCheck([server]).join("\n")).toContain("readinesProbe")
    const hpa = structuredClone(find(prod, "HorizontalPodAutoscaler", "server"))
    obj(hpa["spec"])["minReplicas"] = "2" // wrong type: both fail
    await expect(validateWithModel(hpa)).rejects.toThrow(/minReplicas/)
  })
})

describe("rules for every workload", () => {
  it("every container has CPU and memory requests and a memory limit", () => {
    for (const w of workloads(all)) {
      for (const c of [...w.containers, ...w.initContainers]) {
        const where = `${w.manifest.kind}/${w.manifest.metadata.name}/${String(c["name"])}`
        expect(at(c, "resources", "requests", "cpu"), where).toBeDefined()
        expect(at(c, "resources", "requests", "memory"), where).toBeDefined()
        expect(at(c, "resources", "limits", "memory"), where).toBeDefined()
      }
    }
  })

  it("every long-running container has readiness and liveness probes (a Job's run to completion)", () => {
    for (const w of workloads(all)) {
      if (w.manifest.kind === "Job") continue
      for (const c of w.containers) {
        const where = `${w.manifest.kind}/${w.manifest.metadata.name}/${String(c["name"])}`
        expect(c["readinessProbe"], where).toBeDefined()
        expect(c["livenessProbe"], where).toBeDefined()
      }
    }
  })

  it("every container runs as a non-root user, without privilege escalation or capabilities", () => {
    for (const w of workloads(all)) {
      const podContext = obj(w.pod["securityContext"])
      expect(at(podContext, "seccompProfile", "type"), w.manifest.metadata.name).toBe("RuntimeDefault")
      for (const c of [...w.containers, ...w.initContainers]) {
        const where = `${w.manifest.kind}/${w.manifest.metadata.name}/${String(c["name"])}`
        const context = obj(c["securityContext"])
        const runAsNonRoot = context["runAsNonRoot"] ?? podContext["runAsNonRoot"]
        const runAsUser = context["runAsUser"] ?? podContext["runAsUser"]
        expect(runAsNonRoot, where).toBe(true)
        expect(typeof runAsUser === "number" && runAsUser > 0, `${where}: numeric non-zero runAsUser`).toBe(true)
        expect(context["allowPrivilegeEscalation"], where).toBe(false)
        expect(at(context, "capabilities", "drop"), where).toEqual(["ALL"])
        expect(context["readOnlyRootFilesystem"], where).toBe(true)
      }
      expect(w.pod["automountServiceAccountToken"], w.manifest.metadata.name).toBe(false)
    }
  })

  it("every volume mount has its volume, and every claim, ConfigMap and Secret it names exists or is made by the deploy", () => {
    const made = new Set(["ConfigMap/booking-config", "Secret/booking-secrets"]) // by k3s-deploy.sh
    for (const w of workloads(all)) {
      const volumes = arr(w.pod["volumes"])
      const names = new Set(volumes.map((v) => v["name"]))
      const claimTemplates = arr(at(w.manifest, "spec", "volumeClaimTemplates")).map((t) => at(t, "metadata", "name"))
      for (const c of w.containers) {
        for (const mount of arr(c["volumeMounts"])) {
          expect(names.has(mount["name"]) || claimTemplates.includes(mount["name"]), String(mount["name"])).toBe(true)
        }
        for (const from of arr(c["envFrom"])) {
          const ref = from["configMapRef"] ? `ConfigMap/${String(at(from, "configMapRef", "name"))}` : undefined
          const secret = from["secretRef"] ? `Secret/${String(at(from, "secretRef", "name"))}` : undefined
          expect(made.has((ref ?? secret)!), ref ?? secret).toBe(true)
        }
      }
      for (const v of volumes) {
        const claim = at(v, "persistentVolumeClaim", "claimName")
        if (claim !== undefined) expect(() => find(prod, "PersistentVolumeClaim", String(claim))).not.toThrow()
        const configMap = at(v, "configMap", "name")
        if (configMap !== undefined) expect(() => find(prod, "ConfigMap", String(configMap))).not.toThrow()
      }
    }
  })

  it("every Service, autoscaler, disruption budget and policy selects pods that exist", () => {
    const pods = workloads(prod)
    for (const s of prod.filter((m) => m.kind === "Service")) {
      const selected = pods.filter((w) => matches(obj(at(s, "spec", "selector")), w.podLabels))
      expect(selected.length, `Service/${s.metadata.name}`).toBe(1)
      const ports = selected[0]!.containers.flatMap((c) => arr(c["ports"]))
      for (const port of arr(at(s, "spec", "ports"))) {
        expect(
          ports.some((p) => p["name"] === port["targetPort"] || p["containerPort"] === port["targetPort"]),
          `Service/${s.metadata.name} → ${String(port["targetPort"])}`
        ).toBe(true)
      }
    }
    for (const m of prod.filter((m) => ["PodDisruptionBudget", "NetworkPolicy"].includes(m.kind))) {
      const selector = obj(at(m, "spec", m.kind === "NetworkPolicy" ? "podSelector" : "selector", "matchLabels"))
      if (Object.keys(selector).length === 0) continue // the namespace-wide default deny
      expect(pods.filter((w) => matches(selector, w.podLabels)).length, `${m.kind}/${m.metadata.name}`).toBeGreaterThan(
        0
      )
    }
    for (const hpa of prod.filter((m) => m.kind === "HorizontalPodAutoscaler")) {
      const target = obj(at(hpa, "spec", "scaleTargetRef"))
      const deployment = find(prod, String(target["kind"]), String(target["name"]))
      expect(at(deployment, "spec", "replicas"), "replicas belong to the autoscaler").toBeUndefined()
      const minReplicas = Number(at(hpa, "spec", "minReplicas"))
      expect(minReplicas).toBeLessThanOrEqual(Number(at(hpa, "spec", "maxReplicas")))
      for (const c of arr(at(deployment, "spec", "template", "spec", "containers"))) {
        expect(at(c, "resources", "requests", "cpu"), "CPU utilisation needs a CPU request").toBeDefined()
      }
    }
  })
})

describe("agreement with the app", () => {
  const scripts = () => (JSON.parse(readRepoFile("package.json")) as { scripts: Record<string, string> }).scripts

  it("server, worker and migration run the commands of package.json, from one image", () => {
    expect(container(prod, "Deployment", "server")["command"]).toEqual(scripts()["start:prod"]!.split(" "))
    expect(container(prod, "Job", "migrate")["command"]).toEqual(scripts()["migrate:prod"]!.split(" "))
    expect(container(prod, "Deployment", "worker")["command"]).toEqual(["node", "packages/worker/dist/main.js"])
    const images = new Set(
      [
        container(prod, "Deployment", "server"),
        container(prod, "Deployment", "worker"),
        container(prod, "Job", "migrate")
      ].map((c) => c["image"])
    )
    expect(images.size).toBe(1)
  })

  it("server on PORT 8000, worker on WORKER_PORT 8001: /ready and /live, uid 1000, writable /tmp and image volume only", () => {
    const ports = { server: ["PORT", 8000], worker: ["WORKER_PORT", 8001] } as const
    for (const name of ["server", "worker"] as const) {
      const c = container(prod, "Deployment", name)
      const [variable, port] = ports[name]
      expect(arr(c["ports"])).toEqual([{ name: "http", containerPort: port }])
      expect(envValue(c, variable)).toBe(String(port))
      // the Service (Prometheus) and the monitoring namespace's network policy reach that port
      expect(arr(at(find(prod, "Service", name), "spec", "ports"))).toEqual([
        { name: "http", port, targetPort: "http" }
      ])
      const policy = find(prod, "NetworkPolicy", name === "server" ? "server-from-nginx" : "worker-from-monitoring")
      const fromMonitoring = arr(at(policy, "spec", "ingress")).find((rule) =>
        JSON.stringify(rule["from"]).includes('"kubernetes.io/metadata.name":"monitoring"')
      )
      expect(fromMonitoring?.["ports"]).toEqual([{ protocol: "TCP", port }])
      expect(at(c, "readinessProbe", "httpGet")).toEqual({ path: "/ready", port: "http" })
      expect(at(c, "livenessProbe", "httpGet")).toEqual({ path: "/live", port: "http" })
      const pod = obj(at(find(prod, "Deployment", name), "spec", "template", "spec"))
      expect(at(pod, "securityContext", "runAsUser")).toBe(1000)
      const mounts = arr(c["volumeMounts"])
      expect(mounts.map((m) => m["mountPath"]).sort()).toEqual(["/app/static/images", "/tmp"])
      expect(envValue(c, "IMAGE_DIR")).toBe("/app/static/images")
      const images = mounts.find((m) => m["mountPath"] === "/app/static/images")!
      const volume = arr(pod["volumes"]).find((v) => v["name"] === images["name"])!
      expect(at(volume, "persistentVolumeClaim", "claimName")).toBe("booking-images-pvc")
      expect(arr(pod["volumes"]).find((v) => v["name"] === "tmp")?.["emptyDir"]).toEqual({})
    }
  })

  it("the grace period outlasts the preStop pause plus SHUTDOWN_DRAIN_SECONDS plus SHUTDOWN_TIMEOUT_SECONDS", () => {
    for (const name of ["server", "worker", "nginx"]) {
      const deployment = find(prod, "Deployment", name)
      const c = container(prod, "Deployment", name)
      const grace = Number(at(deployment, "spec", "template", "spec", "terminationGracePeriodSeconds"))
      const preStop = at(c, "lifecycle", "preStop", "exec", "command") as Array<string> | undefined
      const pause = preStop?.[0] === "sleep" ? Number(preStop[1]) : 0
      const shutdown = Number(envValue(c, "SHUTDOWN_TIMEOUT_SECONDS") ?? (name === "nginx" ? 0 : Number.NaN))
      const drain = Number(envValue(c, "SHUTDOWN_DRAIN_SECONDS") ?? 0)
      expect(grace, name).toBeGreaterThan(pause + drain + shutdown)
    }
    // the server drains past nginx's upstream keep-alive, so nginx never reuses a connection it closes
    const server = container(prod, "Deployment", "server")
    const upstreamKeepalive = /keepalive_timeout (\d+)s;/.exec(
      readRepoFile("deploy/nginx/nginx.conf.template").split("upstream shum_backend")[1]!
    )
    expect(Number(envValue(server, "SHUTDOWN_DRAIN_SECONDS"))).toBeGreaterThan(Number(upstreamKeepalive?.[1]))
    // the server needs the pause (endpoints removal reaches nginx and the ingress before it stops accepting)
    expect(at(container(prod, "Deployment", "server"), "lifecycle", "preStop", "exec", "command")).toEqual([
      "sleep",
      "5"
    ])
  })

  it("nginx: listens where its Service points, proxies to the server Service, serves the image volume read-only", () => {
    const c = container(prod, "Deployment", "nginx")
    expect(c["command"]).toEqual(["/bin/sh", "/etc/shum-nginx/entrypoint.sh"])
    const service = find(prod, "Service", "server")
    const port = arr(at(service, "spec", "ports"))[0]!
    expect(envValue(c, "NGINX_UPSTREAM")).toBe(`${service.metadata.name}:${String(port["port"])}`)
    expect(arr(c["ports"])).toEqual([{ name: "http", containerPort: Number(envValue(c, "NGINX_LISTEN")) }])
    expect(at(c, "readinessProbe", "httpGet", "path")).toBe("/health")
    const mount = arr(c["volumeMounts"]).find((m) => m["mountPath"] === envValue(c, "NGINX_IMAGE_DIR"))
    expect(mount?.["readOnly"]).toBe(true)
    const configMount = arr(c["volumeMounts"]).find((m) => m["mountPath"] === "/etc/shum-nginx")!
    const volume = arr(at(find(prod, "Deployment", "nginx"), "spec", "template", "spec", "volumes")).find(
      (v) => v["name"] === configMount["name"]
    )!
    const configMap = find(prod, "ConfigMap", String(at(volume, "configMap", "name")))
    expect(obj(configMap["data"])["nginx.conf.template"]).toBe(readRepoFile("deploy/nginx/nginx.conf.template"))
    expect(obj(configMap["data"])["entrypoint.sh"]).toBe(readRepoFile("deploy/nginx/entrypoint.sh"))
  })

  it("the server believes X-Forwarded-For only from nginx's pod network (D12), the one nginx trusts too", () => {
    const server = container(prod, "Deployment", "server")
    const nginx = container(prod, "Deployment", "nginx")
    expect(envValue(server, "TRUSTED_PROXIES")).toBe("10.42.0.0/16")
    expect(envValue(server, "TRUSTED_PROXIES")).toBe(envValue(nginx, "NGINX_REAL_IP_FROM"))
  })

  it("the Ingress: TLS booking-tls from a ClusterIssuer that exists, HTTPS redirect, /apps/shum-booking to nginx", () => {
    const ingress = find(prod, "Ingress", "booking-ingress")
    const annotations = obj(ingress.metadata["annotations"])
    expect(() => find(prod, "ClusterIssuer", String(annotations["cert-manager.io/cluster-issuer"]))).not.toThrow()
    expect(annotations["nginx.ingress.kubernetes.io/ssl-redirect"]).toBe("true")
    expect(annotations["nginx.ingress.kubernetes.io/force-ssl-redirect"]).toBe("true")
    expect(annotations["nginx.ingress.kubernetes.io/rewrite-target"]).toBe("/$2")
    const host = at(ingress, "spec", "rules", 0, "host")
    expect(at(ingress, "spec", "tls", 0)).toEqual({ hosts: [host], secretName: "booking-tls" })
    const path = obj(at(ingress, "spec", "rules", 0, "http", "paths", 0))
    expect(path["path"]).toBe("/apps/shum-booking(/|$)(.*)")
    expect(at(path, "backend", "service")).toEqual({ name: "nginx-service", port: { name: "http" } })
    for (const issuer of prod.filter((m) => m.kind === "ClusterIssuer")) {
      expect(at(issuer, "spec", "acme", "server")).toMatch(
        /^https:\/\/acme(-staging)?-v02\.api\.letsencrypt\.org\/directory$/
      )
    }
  })

  it("network policies: only nginx reaches the server; only the app reaches Postgres and Redis", () => {
    const sources = (name: string) => {
      const policies = prod.filter(
        (m) =>
          m.kind === "NetworkPolicy" && at(m, "spec", "podSelector", "matchLabels", "app.kubernetes.io/name") === name
      )
      return policies.flatMap((p) =>
        arr(at(p, "spec", "ingress")).flatMap((rule) =>
          arr(rule["from"]).map((from) =>
            from["podSelector"]
              ? `pod:${String(at(from, "podSelector", "matchLabels", "app.kubernetes.io/name"))}`
              : `namespace:${JSON.stringify(from["namespaceSelector"])}`
          )
        )
      )
    }
    const deny = find(prod, "NetworkPolicy", "default-deny-ingress")
    expect(at(deny, "spec", "podSelector")).toEqual({})
    expect(at(deny, "spec", "ingress")).toBeUndefined()
    expect(sources("server").filter((s) => s.startsWith("pod:"))).toEqual(["pod:nginx"])
    expect(sources("server").filter((s) => s.startsWith("namespace:"))).toEqual([
      'namespace:{"matchLabels":{"kubernetes.io/metadata.name":"monitoring"}}'
    ])
    expect(sources("postgres").sort()).toEqual(["pod:migrate", "pod:server", "pod:worker"])
    expect(sources("redis").sort()).toEqual(["pod:server", "pod:worker"])
  })

  it("the PVCs: images 5Gi shared, Redis 5Gi, Postgres 20Gi", () => {
    expect(
      at(find(prod, "PersistentVolumeClaim", "booking-images-pvc"), "spec", "resources", "requests", "storage")
    ).toBe("5Gi")
    expect(at(find(prod, "PersistentVolumeClaim", "redis-data-pvc"), "spec", "resources", "requests", "storage")).toBe(
      "5Gi"
    )
    const postgres = find(prod, "StatefulSet", "postgres")
    expect(at(postgres, "spec", "volumeClaimTemplates", 0, "spec", "resources", "requests", "storage")).toBe("20Gi")
    expect(at(container(prod, "Deployment", "redis"), "command", 2)).toContain("--appendonly yes")
  })
})

describe("overlays/prod takes its values from deploy.env", () => {
  let work: string
  beforeAll(() => {
    work = mkdtempSync(join(tmpdir(), "shum-k3s-"))
    cpSync(repoPath("deploy/k3s"), join(work, "k3s"), { recursive: true })
    cpSync(repoPath("deploy/nginx"), join(work, "nginx"), { recursive: true })
  })
  afterAll(() => rmSync(work, { recursive: true, force: true }))

  it("every key lands at every field its replacement names, and nothing is left unreplaced", () => {
    const overlay = join(work, "k3s/overlays/prod")
    const entries = parseEnvFile(readFileSync(join(overlay, "deploy.env"), "utf8"))
    // distinct values of the right shape, so each one can be traced to where it went
    const sentinel = (key: string, i: number): string | number =>
      /REPLICAS|HEALTH_CHECK/.test(key)
        ? 40 + i
        : /MEMORY|STORAGE_SIZE/.test(key)
          ? `${100 + i}Mi`
          : /CPU/.test(key)
            ? `${100 + i}m`
            : key === "NGINX_REAL_IP_FROM" || key === "TRUSTED_PROXIES"
              ? `10.${i}.0.0/16`
              : key === "DOMAIN"
                ? `host-${i}.example.org`
                : key === "LETSENCRYPT_EMAIL"
                  ? `ops-${i}@example.org`
                  : key.endsWith("IMAGE_TAG") || key === "APP_IMAGE"
                    ? `registry.example.org/image-${i}:tag`
                    : `value-${i}`
    const values = new Map(entries.map((e, i) => [e.key, sentinel(e.key, i)]))
    writeFileSync(join(overlay, "deploy.env"), [...values].map(([k, v]) => `${k}=${v}`).join("\n") + "\n")
    const manifests = kustomize(overlay)
    const kustomization = parseYamlDocuments(readFileSync(join(overlay, "kustomization.yaml"), "utf8"))[0]!
    const replacements = arr(kustomization["replacements"])
    const replaced = new Set<string>()
    for (const r of replacements) {
      const key = String(at(r, "source", "fieldPath")).replace(/^data\./, "")
      replaced.add(key)
      for (const target of arr(r["targets"])) {
        const m = find(manifests, String(at(target, "select", "kind")), String(at(target, "select", "name")))
        for (const fieldPath of at(target, "fieldPaths") as Array<string>) {
          // a.b.[name=x].c / a.0.c / a.b/c (annotation keys)
          let node: unknown = m
          for (const part of fieldPath.split(/\.(?![^[]*\])/)) {
            const select = /^\[(.+)=(.+)\]$/.exec(part)
            const quoted = /^\[(.+)\]$/.exec(part)
            node = select
              ? arr(node).find((item) => item[select[1]!] === select[2])
              : quoted
                ? obj(node)[quoted[1]!]
                : /^\d+$/.test(part)
                  ? arr(node)[Number(part)]
                  : obj(node)[part]
          }
          expect(node, `${key} → ${m.kind}/${m.metadata.name} ${fieldPath}`).toBe(values.get(key))
        }
      }
    }
    expect([...replaced].sort()).toEqual([...values.keys()].sort())
    expect(typeCheck(manifests)).toEqual([])
  })

  it("its defaults are .prod.env.template's", () => {
    const template = new Map(parseEnvFile(readRepoFile(".prod.env.template")).map((e) => [e.key, e.value]))
    const derived = new Set(["APP_IMAGE", "CLUSTER_ISSUER", "CONFIG_HASH"]) // computed by k3s-deploy.sh
    for (const { key, value } of parseEnvFile(readRepoFile("deploy/k3s/overlays/prod/deploy.env"))) {
      if (derived.has(key)) continue
      expect(template.get(key), key).toBe(value)
    }
  })
})

describe("deploy/scripts/k3s-deploy.sh", () => {
  let out: string
  beforeAll(() => {
    out = mkdtempSync(join(tmpdir(), "shum-deploy-"))
    const result = run("bash", [repoPath("deploy/scripts/k3s-deploy.sh"), "--render-only", out], {
      env: {
        ...process.env,
        PROD_ENV_FILE: repoPath(".prod.env.template"),
        APP_IMAGE: "ghcr.io/acme/shum-booking:0123abc"
      }
    })
    if (result.code !== 0) throw new Error(result.stderr)
  })
  afterAll(() => rmSync(out, { recursive: true, force: true }))

  const script = () => readRepoFile("deploy/scripts/k3s-deploy.sh")

  it("splits .prod.env into the ConfigMap and the Secret: every app variable, secrets only in the Secret", () => {
    const config = parseEnvFile(readFileSync(join(out, "config.env"), "utf8")).map((e) => e.key)
    const secret = parseEnvFile(readFileSync(join(out, "secret.env"), "utf8")).map((e) => e.key)
    const listed = (name: string) =>
      new RegExp(`${name}=\\(([^)]*)\\)`)
        .exec(script())![1]!
        .split(/\s+/)
        .filter((s) => s !== "")
    const configKeys = listed("config_keys")
    const secretKeys = listed("secret_keys")
    expect([...configKeys, ...secretKeys].sort()).toEqual([...appVariables()])
    expect(configKeys.filter((k) => secretKeys.includes(k))).toEqual([])
    for (const key of ["DB_PASSWORD", "JWT_SECRET_KEY", "DB_USERNAME", "REDIS_PASSWORD"]) expect(secret).toContain(key)
    for (const key of secretKeys) expect(config).not.toContain(key)
    // what the pods read by key exists on the right side
    for (const m of prod) {
      for (const c of workloads([m]).flatMap((w) => w.containers)) {
        for (const e of arr(c["env"])) {
          const configKey = at(e, "valueFrom", "configMapKeyRef")
          const secretKey = at(e, "valueFrom", "secretKeyRef")
          if (configKey) expect(configKeys, String(at(configKey, "key"))).toContain(at(configKey, "key"))
          if (secretKey) expect(secretKeys, String(at(secretKey, "key"))).toContain(at(secretKey, "key"))
        }
      }
    }
  })

  it("renders the overlay with the image it is given and the .prod.env values", () => {
    const manifests = parseYamlDocuments(readFileSync(join(out, "rendered.yaml"), "utf8")) as Array<Manifest>
    expect(container(manifests, "Deployment", "server")["image"]).toBe("ghcr.io/acme/shum-booking:0123abc")
    expect(container(manifests, "Job", "migrate")["image"]).toBe("ghcr.io/acme/shum-booking:0123abc")
    expect(at(find(manifests, "Ingress", "booking-ingress"), "spec", "rules", 0, "host")).toBe("async-black.ru")
    const hash = at(find(manifests, "Deployment", "server"), "spec", "template", "metadata", "annotations")
    expect(obj(hash)["shum-booking/config-hash"]).toMatch(/^[0-9a-f]{16}$/)
  })

  it("applies in three groups that cover every object once: infra, then the migration Job, then the app", () => {
    const selector = (name: string) => new RegExp(`${name}='([^']+)'`).exec(script())![1]!
    const evaluate = (expression: string, labels: Obj) => {
      const m = /^(\S+)\s+(in|notin)\s+\(([^)]*)\)$/.exec(expression) ?? /^(\S+)(=)(\S+)$/.exec(expression)!
      const [, key, op, list] = m
      const value = labels[key!] as string | undefined
      const values = list!.split(",").map((s) => s.trim())
      return op === "=" ? value === list : op === "in" ? values.includes(value!) : !values.includes(value!)
    }
    const groups = ["infra_selector", "migrate_selector", "app_selector"].map(selector)
    const manifests = parseYamlDocuments(readFileSync(join(out, "rendered.yaml"), "utf8")) as Array<Manifest>
    const groupOf = (m: Manifest) => {
      const labels = obj(m.metadata["labels"])
      const hits = groups.filter((g) => evaluate(g, labels))
      expect(hits.length, `${m.kind}/${m.metadata.name}`).toBe(1)
      return groups.indexOf(hits[0]!)
    }
    const names = (group: number) =>
      manifests.filter((m) => groupOf(m) === group).map((m) => `${m.kind}/${m.metadata.name}`)
    expect(names(1)).toEqual(["Job/migrate"])
    expect(names(0)).toEqual(expect.arrayContaining(["Namespace/booking", "StatefulSet/postgres", "Deployment/redis"]))
    expect(names(2)).toEqual(
      expect.arrayContaining(["Deployment/server", "Deployment/worker", "Deployment/nginx", "Ingress/booking-ingress"])
    )
  })

  it("refuses to deploy without the required secrets", () => {
    const dir = mkdtempSync(join(tmpdir(), "shum-deploy-bad-"))
    try {
      const env = join(dir, "prod.env")
      writeFileSync(env, "DOMAIN=example.org\nLETSENCRYPT_EMAIL=a@example.org\nDB_PASSWORD=x\n")
      const result = run("bash", [repoPath("deploy/scripts/k3s-deploy.sh"), "--render-only", join(dir, "out")], {
        env: { ...process.env, PROD_ENV_FILE: env, APP_IMAGE: "x:y" }
      })
      expect(result.code).toBe(1)
      expect(result.stderr).toContain("JWT_SECRET_KEY must be set")
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })
})
