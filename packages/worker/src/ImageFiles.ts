/**
 * Where an image's files live in `IMAGE_DIR` (docs/api.md §9, D5), shared by the upload, the worker, the
 * listing and the delete:
 * - the variants, served under `/static/images/`: `{image_id}_{width}w_{name}` for widths 200, 500, 1000;
 * - the uploaded original until the image is done or failed: `.originals/{image_id}_{name}` (never served
 *   by the server; nginx should refuse `/static/images/.originals/` too);
 * where `name` is the client's file name sanitised (`storedName`).
 */
import { extname, join } from "node:path"

export const VARIANT_WIDTHS = [200, 500, 1000] as const
export const MIN_WIDTH = 1000
/** The original's name when the client sent none (docs/api.md §9). */
export const DEFAULT_NAME = "image.jpg"
export const ORIGINALS_DIR = ".originals"
const MAX_STEM = 150

export type OutputFormat = "jpeg" | "png" | "webp" | "gif" | "tiff" | "avif"

/** The variants are encoded as the file name's extension says, as in the original. */
const FORMAT_BY_EXTENSION: Record<string, OutputFormat> = {
  ".jpg": "jpeg",
  ".jpeg": "jpeg",
  ".jpe": "jpeg",
  ".png": "png",
  ".webp": "webp",
  ".gif": "gif",
  ".tif": "tiff",
  ".tiff": "tiff",
  ".avif": "avif"
}

/** For a name without a usable extension: the decoded format's own, when we can write it. */
const EXTENSION_BY_INPUT_FORMAT: Record<string, string> = {
  jpeg: ".jpg",
  png: ".png",
  webp: ".webp",
  gif: ".gif",
  tiff: ".tif"
}

export const outputFormat = (name: string): OutputFormat => FORMAT_BY_EXTENSION[extname(name).toLowerCase()] ?? "jpeg"

/**
 * The client's file name made safe for the image store: only the base name (no directory, so no
 * traversal), only `[A-Za-z0-9._-]` (other runs become `_`), no leading dot, at most 150 characters
 * before the extension; and an extension we can encode (the decoded format's, else `.jpg`) is appended
 * when the name has none we know. `../../etc/passwd` → `passwd.jpg`.
 */
export const storedName = (clientName: string, inputFormat: string): string => {
  const base = clientName.split(/[/\\]/).pop() ?? ""
  const extension = extname(base)
  const cleanExtension = extension.replace(/[^A-Za-z0-9.]/g, "")
  const stem = base
    .slice(0, base.length - extension.length)
    .replace(/[^A-Za-z0-9._-]+/g, "_")
    .replace(/^[._-]+|[._-]+$/g, "")
    .slice(0, MAX_STEM)
  const known = FORMAT_BY_EXTENSION[cleanExtension.toLowerCase()] !== undefined
  const name = `${stem === "" ? "image" : stem}${known ? cleanExtension : ""}`
  return known ? name : `${name}${EXTENSION_BY_INPUT_FORMAT[inputFormat] ?? ".jpg"}`
}

export const variantName = (imageId: number, width: number, name: string) => `${imageId}_${width}w_${name}`

/** `floor(width × H / W)` as docs/api.md §9 says (1200×800 → 1000×666), at least 1 px. */
export const variantHeight = (originalWidth: number, originalHeight: number, width: number) =>
  Math.max(1, Math.floor((width * originalHeight) / originalWidth))

export const originalPath = (dir: string, imageId: number, name: string) =>
  join(dir, ORIGINALS_DIR, `${imageId}_${name}`)

export const variantPaths = (dir: string, imageId: number, name: string) =>
  VARIANT_WIDTHS.map((width) => join(dir, variantName(imageId, width, name)))

/** Whether `/static/images/<name>` may serve this file: a plain name in the directory, nothing hidden. */
export const isPublicName = (name: string) =>
  name.length > 0 && name.length <= 255 && !name.startsWith(".") && !/[/\\\0]/.test(name)
