import { assert, describe, it } from "@effect/vitest"
import {
  isPublicName,
  originalPath,
  outputFormat,
  storedName,
  variantHeight,
  variantName,
  variantPaths
} from "../src/ImageFiles.js"

describe("image file names (docs/api.md §9, D5)", () => {
  it("sanitises: only the base name, only [A-Za-z0-9._-], never a traversal", () => {
    assert.strictEqual(storedName("../../etc/passwd", "jpeg"), "passwd.jpg")
    assert.strictEqual(storedName("..\\..\\windows\\win.ini", "png"), "win.png")
    assert.strictEqual(storedName("photo.jpg", "jpeg"), "photo.jpg")
    assert.strictEqual(storedName("My Photo (1).JPG", "jpeg"), "My_Photo_1.JPG")
    assert.strictEqual(storedName("фото отеля.png", "png"), "image.png")
    assert.strictEqual(storedName(".bashrc", "jpeg"), "bashrc.jpg")
    assert.strictEqual(storedName("..", "jpeg"), "image.jpg")
    assert.strictEqual(storedName("", "webp"), "image.webp")
    assert.strictEqual(storedName("a\u0000b.gif", "gif"), "a_b.gif")
    assert.strictEqual(storedName("x".repeat(400) + ".jpg", "jpeg").length, 154)
    for (const name of ["../../etc/passwd", "/abs/path.png", "a/../../b.jpg", "..", "\u0000"]) {
      const safe = storedName(name, "jpeg")
      assert.match(safe, /^[A-Za-z0-9][A-Za-z0-9._-]*$/, name)
      assert.isTrue(isPublicName(safe))
    }
  })

  it("keeps an extension it can encode, else appends the decoded format's (or .jpg)", () => {
    assert.strictEqual(storedName("scan.bmp", "jpeg"), "scan.jpg")
    assert.strictEqual(storedName("photo.heic", "heif"), "photo.jpg")
    assert.strictEqual(storedName("noext", "png"), "noext.png")
    assert.strictEqual(outputFormat("a.JPEG"), "jpeg")
    assert.strictEqual(outputFormat("a.png"), "png")
    assert.strictEqual(outputFormat("a.tif"), "tiff")
    assert.strictEqual(outputFormat("a.webp"), "webp")
  })

  it("variants: `{id}_{width}w_{name}`, height = floor(w × H / W)", () => {
    assert.strictEqual(variantName(101, 500, "photo.jpg"), "101_500w_photo.jpg")
    assert.deepStrictEqual(
      [200, 500, 1000].map((w) => variantHeight(1200, 800, w)),
      [133, 333, 666]
    )
    assert.strictEqual(variantHeight(5000, 1, 200), 1, "never 0 px high")
    assert.deepStrictEqual(variantPaths("/store", 7, "a.png"), [
      "/store/7_200w_a.png",
      "/store/7_500w_a.png",
      "/store/7_1000w_a.png"
    ])
    assert.strictEqual(originalPath("/store", 7, "a.png"), "/store/.originals/7_a.png")
  })

  it("serves plain names only", () => {
    assert.isTrue(isPublicName("7_200w_a.png"))
    for (const name of ["", ".originals", ".tmp-x", "../x", "a/b", "a\\b", "a\u0000"])
      assert.isFalse(isPublicName(name), name)
  })
})
