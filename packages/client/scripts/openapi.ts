/**
 * `npm run openapi:lint` (first half): writes the OpenAPI document the server serves at `/openapi.json`
 * (without `ROOT_PATH`; its `servers` is then `/`) to the file named by the first argument.
 */
import { mkdir, writeFile } from "node:fs/promises"
import { dirname, resolve } from "node:path"
import { fileURLToPath } from "node:url"
import { servedDocument } from "./generate.js"

export const writeDocument = async (path: string) => {
  await mkdir(dirname(path), { recursive: true })
  await writeFile(path, `${JSON.stringify(servedDocument(), null, 2)}\n`)
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  const path = resolve(process.argv[2] ?? "test-results/openapi.json")
  await writeDocument(path)
  console.log(`wrote ${path}`)
}
