/**
 * Countries and cities (docs/api.md §2, §8.2, §8.3; docs/data.md §1.1–1.2).
 */
import { Schema } from "effect"
import { LaxInt32, maxChars, minChars, modelDoc, Text } from "./Common.js"

const Name = Text.pipe(maxChars(100))
/**
 * Exactly two characters, any characters; the server stores it upper-cased (BR-1), so the upper-cased value
 * must be two characters too (`ß` becomes `SS`: the column would refuse it, which was a 500).
 */
const IsoCode = Text.pipe(
  minChars(2),
  maxChars(2),
  Schema.filter((s) => [...s.toUpperCase()].length === 2, {
    message: () => "Value error, the code must stay two characters when upper-cased",
    jsonSchema: {} // documented by the description below
  })
).annotations({
  description: "Two characters (stored upper-cased)",
  examples: ["RU"]
})

// --- responses -------------------------------------------------------------------------------------

const countryFields = { id: Schema.Int, name: Schema.String, iso_code: Schema.String }
export class Country extends Schema.Class<Country>("Country")(
  countryFields,
  modelDoc(countryFields, "A country; `iso_code` is two upper-case characters.", {
    id: 1,
    name: "Россия",
    iso_code: "RU"
  })
) {}

const cityFields = { id: Schema.Int, name: Schema.String, country: Schema.NullOr(Country) }
export class City extends Schema.Class<City>("City")(
  cityFields,
  modelDoc(cityFields, "A city with its country (always populated in practice).", {
    id: 1,
    name: "Москва",
    country: new Country({ id: 1, name: "Россия", iso_code: "RU" })
  })
) {}

// --- request bodies --------------------------------------------------------------------------------

const countryInFields = { name: Name, iso_code: IsoCode }
export class CountryIn extends Schema.Class<CountryIn>("CountryIn")(
  countryInFields,
  modelDoc(
    countryInFields,
    "A country to create or replace. Names are unique case-insensitively, ISO codes after upper-casing.",
    { name: "Россия", iso_code: "RU" }
  )
) {}

// docs/api.md C5: `null` is the same as an absent field here, as in the original.
const countryPatchFields = {
  name: Schema.optional(Schema.NullOr(Name)),
  iso_code: Schema.optional(Schema.NullOr(IsoCode))
}
export class CountryPatch extends Schema.Class<CountryPatch>("CountryPatch")(
  countryPatchFields,
  modelDoc(countryPatchFields, "Partial update of a country; `null` or an absent field keeps the stored value.", {
    iso_code: "RU"
  })
) {}

const cityInFields = { name: Name, country_id: LaxInt32 }
export class CityIn extends Schema.Class<CityIn>("CityIn")(
  cityInFields,
  modelDoc(cityInFields, "A city to create or replace; its name is unique within its country.", {
    name: "Москва",
    country_id: 1
  })
) {}

// docs/api.md Y5: `null` is the same as an absent field here, as in the original.
const cityPatchFields = {
  name: Schema.optional(Schema.NullOr(Name)),
  country_id: Schema.optional(Schema.NullOr(LaxInt32))
}
export class CityPatch extends Schema.Class<CityPatch>("CityPatch")(
  cityPatchFields,
  modelDoc(cityPatchFields, "Partial update of a city; `null` or an absent field keeps the stored value.", {
    name: "Санкт-Петербург"
  })
) {}
