import { assert, layer } from "@effect/vitest"
import { Effect } from "effect"
import { ifNoneMatchHits, strongEtag } from "../src/Http/Etag.js"
import { day } from "./BookingsFixtures.js"
import { callers, insertCity, insertFacility, insertHotel, insertRoom, raw } from "./CatalogueFixtures.js"
import { TestServer } from "./support.js"

const STRONG = /^"[A-Za-z0-9_-]{27}"$/

layer(TestServer, { excludeTestServices: true, timeout: "60 seconds" })("ETag and 304 (D7)", (it) => {
  it.effect("every catalogue read carries a strong ETag of its body and Cache-Control: no-cache", () =>
    Effect.gen(function* () {
      const city = yield* insertCity()
      const hotel = yield* insertHotel(city.id)
      const room = yield* insertRoom(hotel.id)
      const facility = yield* insertFacility()
      const reads = [
        "/countries",
        `/countries/${city.countryId}`,
        "/cities?per_page=20",
        `/cities/${city.id}`,
        "/facilities",
        `/facilities/${facility.id}`,
        "/hotels?sort_by=city",
        `/hotels/${hotel.id}`,
        `/hotels/${hotel.id}/rooms`,
        `/hotels/${hotel.id}/rooms/${room.id}`
      ]
      for (const url of reads) {
        const response = yield* raw("GET", url)
        assert.strictEqual(response.status, 200, url)
        assert.match(response.headers["etag"] ?? "", STRONG, url)
        assert.strictEqual(response.headers["etag"], strongEtag(new TextEncoder().encode(response.text)), url)
        assert.strictEqual(response.headers["cache-control"], "no-cache", url)
        assert.strictEqual((yield* raw("GET", url)).headers["etag"], response.headers["etag"], url)
      }
    })
  )

  it.effect("a matching If-None-Match (exact, weak, in a list, or *) → 304 with an empty body", () =>
    Effect.gen(function* () {
      const hotel = yield* insertHotel()
      const url = `/hotels/${hotel.id}`
      const tag = (yield* raw("GET", url)).headers["etag"]!
      for (const header of [tag, `W/${tag}`, `"nope", ${tag}`, "*"]) {
        const response = yield* raw("GET", url, { headers: { "if-none-match": header } })
        assert.strictEqual(response.status, 304, header)
        assert.strictEqual(response.text, "", header)
        assert.strictEqual(response.headers["etag"], tag, header)
        assert.isDefined(response.headers["x-request-id"])
      }
      const miss = yield* raw("GET", url, { headers: { "if-none-match": '"something-else"' } })
      assert.strictEqual(miss.status, 200)
      assert.strictEqual((miss.json as { id: number }).id, hotel.id)
    })
  )

  it.effect("reads are always fresh: a write changes the body, so the old tag no longer matches", () =>
    Effect.gen(function* () {
      const { admin } = yield* callers
      const city = yield* insertCity()
      const hotel = yield* insertHotel(city.id)
      const url = `/hotels/${hotel.id}`
      const before = (yield* raw("GET", url)).headers["etag"]!
      // a city rename shows in the hotel's body at once (no cache to invalidate)
      yield* admin.cities.patch({ path: { city_id: city.id }, payload: { name: `${city.name}-новый` } })
      const after = yield* raw("GET", url, { headers: { "if-none-match": before } })
      assert.strictEqual(after.status, 200)
      assert.strictEqual((after.json as { city: string }).city, `${city.name}-новый`)
      assert.notStrictEqual(after.headers["etag"], before)
    })
  )

  it.effect("no ETag on errors, writes, availability or other groups", () =>
    Effect.gen(function* () {
      const hotel = yield* insertHotel()
      const responses = [
        yield* raw("GET", "/hotels/999999"),
        yield* raw("GET", "/hotels?per_page=99"),
        yield* raw("GET", `/hotels/${hotel.id}/rooms/available?date_from=${day(30)}&date_to=${day(31)}`),
        yield* raw("GET", `/hotels/rooms/available?date_from=${day(30)}&date_to=${day(31)}`),
        yield* raw("PATCH", `/hotels/${hotel.id}`, { admin: true, body: {} }),
        yield* raw("GET", "/health")
      ]
      assert.deepStrictEqual(
        responses.map((response) => response.status),
        [404, 422, 200, 200, 200, 200]
      )
      for (const response of responses) assert.isUndefined(response.headers["etag"])
    })
  )

  it("If-None-Match parsing (RFC 9110 §13.1.2)", () => {
    assert.isTrue(ifNoneMatchHits(' "a", W/"b" ', '"b"'))
    assert.isTrue(ifNoneMatchHits("*", '"b"'))
    assert.isFalse(ifNoneMatchHits(undefined, '"b"'))
    assert.isFalse(ifNoneMatchHits('"ab"', '"b"'))
    assert.isFalse(ifNoneMatchHits("b", '"b"'))
  })
})
