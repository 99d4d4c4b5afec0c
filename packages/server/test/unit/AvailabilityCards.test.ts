/**
 * The availability searches' fragments (`Catalogue/AvailabilityCards.ts`): the free units' text parsed, an
 * answer pasted together byte for byte as the full statement writes it (`JSON.stringify` of the same values,
 * Cyrillic and escapes included), and the store: a newer version empties it, an older one is refused (the
 * search then answers by the full statement), least recently used hotels go first beyond its bytes.
 * The real-database comparison is `test/AvailabilitySearch.test.ts`.
 */
import "./fakes/NoNetwork.js"
import { assert, describe, it } from "@effect/vitest"
import {
  assembleHotels,
  assembleRooms,
  FragmentStore,
  hotelFragments,
  parseFreeHotels,
  parseFreeRooms
} from "../../src/Catalogue/AvailabilityCards.js"

const room = (
  id: number,
  hotel_id: number,
  title: string,
  facilities: ReadonlyArray<{ id: number; title: string }>
) => ({
  id,
  hotel_id,
  title,
  description: id % 2 === 0 ? null : `Описание "${title}"\n`,
  price: 1000 + id,
  facilities
})

/** As the fragments' SQL writes them: the fields before `quantity`, and `,"facilities":…}`. */
const fragmentsOf = (value: ReturnType<typeof room>) => {
  const { facilities, ...head } = value
  return [
    value.id,
    `${JSON.stringify(head).slice(0, -1)},"quantity":`,
    `,"facilities":${JSON.stringify(facilities)}}`
  ] as const
}

const hotel = { id: 7, title: "Отель «Звезда» \u2028", address: "ул. Ленина, 1", postal_code: null, city: "Москва" }
const rooms = [
  room(70, 7, "Люкс", [{ id: 1, title: "Wi-Fi \\ 5 ГГц" }]),
  room(71, 7, "Стандарт 😀", []),
  room(72, 7, "Эконом </script>", [
    { id: 2, title: "Ванна" },
    { id: 3, title: "\t" }
  ])
]
const fragments = hotelFragments(`${JSON.stringify(hotel).slice(0, -1)},"rooms":`, rooms.map(fragmentsOf))
const free = (id: number, quantity: number) => {
  const { facilities, ...head } = rooms.find((r) => r.id === id)!
  return { ...head, quantity, facilities }
}

describe("availability fragments", () => {
  it("parses the free units' text", () => {
    assert.deepStrictEqual(parseFreeRooms(""), [])
    assert.deepStrictEqual(parseFreeRooms("12=3,15=1000000"), [
      [12, "3"],
      [15, "1000000"]
    ])
    assert.deepStrictEqual(parseFreeHotels(null), [])
    assert.deepStrictEqual(parseFreeHotels("1:12=3,15=1;2:;3:30=2"), [
      {
        hotelId: 1,
        rooms: [
          [12, "3"],
          [15, "1"]
        ]
      },
      { hotelId: 2, rooms: [] },
      { hotelId: 3, rooms: [[30, "2"]] }
    ])
  })

  it("pastes R2's and H2's answers as JSON.stringify writes the same values", () => {
    const text = (bytes: Uint8Array | undefined) => Buffer.from(bytes!).toString("utf8")
    assert.strictEqual(text(assembleRooms(fragments, [])), "[]")
    assert.strictEqual(
      text(
        assembleRooms(fragments, [
          [70, "2"],
          [72, "10"]
        ])
      ),
      JSON.stringify([free(70, 2), free(72, 10)])
    )
    assert.strictEqual(text(assembleHotels([], [])), "[]")
    const page = parseFreeHotels("7:71=1;7:")
    assert.strictEqual(
      text(assembleHotels(page, [fragments, fragments])),
      JSON.stringify([
        { ...hotel, rooms: [free(71, 1)] },
        { ...hotel, rooms: [] }
      ])
    )
    // a free room the fragments do not know: no answer (the search falls back to the full statement)
    assert.isUndefined(assembleRooms(fragments, [[99, "1"]]))
    assert.isUndefined(assembleHotels(parseFreeHotels("7:70=1,99=1"), [fragments]))
  })

  it("the store: one version at a time, never an older one, least recently used first beyond its bytes", () => {
    const store = new FragmentStore(fragments.bytes * 2)
    assert.isTrue(store.at(5))
    store.set(5, 1, fragments)
    store.set(5, 2, fragments)
    assert.strictEqual(store.get(5, 1), fragments)
    // an older version than the store's: refused, and it keeps what it has
    assert.isFalse(store.at(4))
    assert.isUndefined(store.get(4, 1))
    store.set(4, 3, fragments)
    assert.deepStrictEqual(store.size, { hotels: 2, bytes: fragments.bytes * 2 })
    // over its bytes: hotel 2 (used least recently) goes
    store.set(5, 3, fragments)
    assert.isUndefined(store.get(5, 2))
    assert.strictEqual(store.get(5, 1), fragments)
    assert.strictEqual(store.get(5, 3), fragments)
    // a newer version empties it; what was read under the old one is not kept any more
    assert.isTrue(store.at(6))
    assert.deepStrictEqual(store.size, { hotels: 0, bytes: 0 })
    assert.isUndefined(store.get(6, 1))
    store.set(5, 1, fragments)
    assert.isUndefined(store.get(6, 1))
    assert.strictEqual(store.version, 6)
  })
})
