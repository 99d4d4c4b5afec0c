/**
 * The catalogue part of the availability searches' answers (docs/api.md H2, R2), kept in process memory as
 * encoded JSON fragments and stamped with the catalogue's version (docs/decisions.md D7), so that a search's
 * statement computes only the free units (a few numbers per room type) and the answer is pasted together here
 * from bytes encoded once — instead of PostgreSQL writing the whole 25 KB text of a page of hotels, the server
 * reading, decoding and encoding it again on every search (bench/README.md "Availability searches").
 *
 * Per hotel: its `prefix` (`{"id":…,"title":…,…,"country":…,"rooms":`, the hotel's fields as the searches
 * write them) and, per room type of the hotel, its `head` (`{"id":…,"hotel_id":…,"title":…,"description":…,
 * "price":…,"quantity":`) and `tail` (`,"facilities":[…]}`): a free room type is `head`, its free units,
 * `tail`. The fragments are PostgreSQL's text (`row_to_json`, `room_card_head`, `room_card_facilities`: the
 * very functions that write the room cards, migration 0021) read from the catalogue's tables, every one of
 * which raises `catalogue_version` in the transaction that writes it (migration 0015).
 *
 * Never stale: a search's statement reads `catalogue_version` with the free units, in one snapshot; the kept
 * fragments are used only when they were read under exactly that version, so the answer is the one a single
 * statement would have written at that snapshot. A newer version empties the store; a search whose statement
 * saw an older version than the store's (it started before a catalogue write another search already saw)
 * answers from the full statement instead (`AvailabilitySearch.ts`). Bounded by bytes (least recently used
 * hotels first).
 */

/** A room type's fragments: `head` ends with `"quantity":`, `tail` is `,"facilities":[…]}`. */
export interface RoomFragments {
  readonly head: Buffer
  readonly tail: Buffer
}

/** A hotel's fragments: `prefix` ends with `"rooms":`; every room type of the hotel, by id. */
export interface HotelFragments {
  readonly prefix: Buffer
  readonly rooms: ReadonlyMap<number, RoomFragments>
  readonly bytes: number
}

/** Rough per-hotel and per-room overhead (map slots, objects), added to the fragments' bytes. */
const HOTEL_OVERHEAD = 128
const ROOM_OVERHEAD = 96

/** A hotel's fragments from PostgreSQL's text: the prefix, then `[room id, head, tail]` by room id. */
export const hotelFragments = (
  prefix: string,
  rooms: ReadonlyArray<readonly [number, string, string]>
): HotelFragments => {
  const map = new Map<number, RoomFragments>()
  const encodedPrefix = Buffer.from(prefix, "utf8")
  let bytes = HOTEL_OVERHEAD + encodedPrefix.length
  for (const [id, head, tail] of rooms) {
    const room = { head: Buffer.from(head, "utf8"), tail: Buffer.from(tail, "utf8") }
    bytes += ROOM_OVERHEAD + room.head.length + room.tail.length
    map.set(id, room)
  }
  return { prefix: encodedPrefix, rooms: map, bytes }
}

/**
 * The hotels' fragments of one catalogue version, least recently used first (a `Map` keeps insertion order;
 * a use moves the hotel to the end), at most `maxBytes` of them.
 */
export class FragmentStore {
  private readonly hotels = new Map<number, HotelFragments>()
  private total = 0
  private current: number | undefined

  constructor(private readonly maxBytes: number) {}

  get version(): number | undefined {
    return this.current
  }

  get size() {
    return { hotels: this.hotels.size, bytes: this.total }
  }

  /**
   * A statement read `version`: a newer one than the store's empties it (every kept fragment is older).
   * Whether the store now holds that version (an older one does not change it: `false`).
   */
  at(version: number): boolean {
    if (this.current === undefined || version > this.current) {
      this.clear()
      this.current = version
    }
    return version === this.current
  }

  /** The hotel's fragments of `version`, now the most recently used; `undefined` when not kept. */
  get(version: number, hotelId: number): HotelFragments | undefined {
    if (version !== this.current) return undefined
    const hotel = this.hotels.get(hotelId)
    if (hotel === undefined) return undefined
    this.hotels.delete(hotelId)
    this.hotels.set(hotelId, hotel)
    return hotel
  }

  /** Keeps the hotel's fragments read under `version`, if that is still the store's version. */
  set(version: number, hotelId: number, hotel: HotelFragments): void {
    if (version !== this.current || hotel.bytes > this.maxBytes) return
    const old = this.hotels.get(hotelId)
    if (old !== undefined) {
      this.hotels.delete(hotelId)
      this.total -= old.bytes
    }
    this.hotels.set(hotelId, hotel)
    this.total += hotel.bytes
    for (const [oldest, entry] of this.hotels) {
      if (this.total <= this.maxBytes) break
      this.hotels.delete(oldest)
      this.total -= entry.bytes
    }
  }

  clear(): void {
    this.hotels.clear()
    this.total = 0
  }
}

/** A hotel of a search's page and its free room types: `[room id, free units as decimal digits]`, by id. */
export interface FreeRooms {
  readonly hotelId: number
  readonly rooms: ReadonlyArray<readonly [number, string]>
}

/** `12=3,15=1` (the free units statement's text for one hotel; `` when none) → `[[12, "3"], [15, "1"]]`. */
export const parseFreeRooms = (text: string): Array<readonly [number, string]> => {
  const rooms: Array<readonly [number, string]> = []
  let start = 0
  while (start < text.length) {
    let end = text.indexOf(",", start)
    if (end === -1) end = text.length
    const equals = text.indexOf("=", start)
    rooms.push([Number(text.slice(start, equals)), text.slice(equals + 1, end)])
    start = end + 1
  }
  return rooms
}

/** `1:12=3,15=1;2:` (hotels by `;`, each `id:` and its free rooms) → the page's hotels in that order. */
export const parseFreeHotels = (text: string | null): Array<FreeRooms> => {
  if (text === null || text === "") return []
  return text.split(";").map((hotel) => {
    const colon = hotel.indexOf(":")
    return { hotelId: Number(hotel.slice(0, colon)), rooms: parseFreeRooms(hotel.slice(colon + 1)) }
  })
}

const OPEN = 0x5b // [
const CLOSE = 0x5d // ]
const COMMA = 0x2c // ,
const BRACE = 0x7d // }

/** Bytes of `[room, room, …]` for these free rooms of `hotel`; `undefined` when a room has no fragments. */
const roomsLength = (hotel: HotelFragments, rooms: ReadonlyArray<readonly [number, string]>) => {
  let length = 2 + Math.max(rooms.length - 1, 0)
  for (const [id, free] of rooms) {
    const room = hotel.rooms.get(id)
    if (room === undefined) return undefined
    length += room.head.length + free.length + room.tail.length
  }
  return length
}

/** `bytes` into `out` at `at` (`TypedArray.set`: a memory copy; a byte loop costs 4 times as much here). */
const put = (out: Buffer, at: number, bytes: Buffer): number => {
  out.set(bytes, at)
  return at + bytes.length
}

const writeRooms = (
  out: Buffer,
  at: number,
  hotel: HotelFragments,
  rooms: ReadonlyArray<readonly [number, string]>
): number => {
  out[at++] = OPEN
  for (let i = 0; i < rooms.length; i++) {
    if (i > 0) out[at++] = COMMA
    const [id, free] = rooms[i]!
    const room = hotel.rooms.get(id)!
    at = put(out, at, room.head)
    // decimal digits: one byte each
    for (let d = 0; d < free.length; d++) out[at++] = free.charCodeAt(d)
    at = put(out, at, room.tail)
  }
  out[at++] = CLOSE
  return at
}

/** R2's answer: the free rooms of `hotel` as a JSON array; `undefined` when a room has no fragments. */
export const assembleRooms = (
  hotel: HotelFragments,
  rooms: ReadonlyArray<readonly [number, string]>
): Buffer | undefined => {
  const length = roomsLength(hotel, rooms)
  if (length === undefined) return undefined
  const out = Buffer.allocUnsafe(length)
  writeRooms(out, 0, hotel, rooms)
  return out
}

/**
 * H2's answer: the page's hotels (`fragments[i]` those of `page[i]`), each with its free rooms, as a JSON
 * array; `undefined` when a room has no fragments.
 */
export const assembleHotels = (
  page: ReadonlyArray<FreeRooms>,
  fragments: ReadonlyArray<HotelFragments>
): Buffer | undefined => {
  let length = 2 + Math.max(page.length - 1, 0)
  for (let i = 0; i < page.length; i++) {
    const rooms = roomsLength(fragments[i]!, page[i]!.rooms)
    if (rooms === undefined) return undefined
    length += fragments[i]!.prefix.length + rooms + 1
  }
  const out = Buffer.allocUnsafe(length)
  let at = 0
  out[at++] = OPEN
  for (let i = 0; i < page.length; i++) {
    if (i > 0) out[at++] = COMMA
    const hotel = fragments[i]!
    at = put(out, at, hotel.prefix)
    at = writeRooms(out, at, hotel, page[i]!.rooms)
    out[at++] = BRACE
  }
  out[at++] = CLOSE
  return out
}
