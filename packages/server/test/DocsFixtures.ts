/**
 * For the documentation and generated-client tests: the test server's address, and a hotel with a room
 * created through the API by an admin (the internal typed client), as an operator would.
 */
import { HttpServer } from "@effect/platform"
import { randomName } from "@shum/infra/Testing"
import { Effect } from "effect"
import { day } from "./BookingsFixtures.js"
import { clientWithToken, signIn } from "./support.js"

/** `http://127.0.0.1:<port>` of the server under test. */
export const serverUrl = Effect.map(HttpServer.HttpServer, (server) => {
  const address = server.address as HttpServer.TcpAddress
  return `http://127.0.0.1:${address.port}`
})

let countries = 0

export const seedHotel = (room: { readonly price: number; readonly quantity: number }) =>
  Effect.gen(function* () {
    const admin = yield* clientWithToken((yield* signIn("admin")).token)
    const tag = randomName("")
    const n = countries++
    const countryName = `Страна ${tag}`
    // letters only: the catalogue fixtures' codes are digits
    const isoCode = `${String.fromCharCode(65 + Math.floor(n / 26))}${String.fromCharCode(65 + (n % 26))}`
    yield* admin.countries.create({ payload: { name: countryName, iso_code: isoCode } })
    const [country] = yield* admin.countries.list({ urlParams: { name: countryName } })
    const cityName = `Город ${tag}`
    yield* admin.cities.create({ payload: { name: cityName, country_id: country!.id } })
    const title = `Гранд Отель ${tag}`
    yield* admin.hotels.create({ payload: { title, city: cityName, address: "ул. Тверская, 3" } })
    const [hotel] = yield* admin.hotels.list({ urlParams: { title } })
    yield* admin.rooms.create({
      path: { hotel_id: hotel!.id },
      payload: { title: "Стандартный номер", price: room.price, quantity: room.quantity }
    })
    const [created] = yield* admin.rooms.list({ path: { hotel_id: hotel!.id }, urlParams: {} })
    return { hotel: hotel!, room: created!, city: cityName, stay: { date_from: day(30), date_to: day(33) } }
  })
