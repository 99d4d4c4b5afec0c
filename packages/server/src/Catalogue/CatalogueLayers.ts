/**
 * The catalogue (docs/api.md §8.2–8.6) assembled: its repositories, its services (which need the repositories,
 * `Availability` and `Metrics`), its read cache, and its HTTP groups.
 */
import { Layer } from "effect"
import { AvailabilitySearch } from "./AvailabilitySearch.js"
import { CatalogueCache } from "./CatalogueCache.js"
import { CitiesRepo } from "./CitiesRepo.js"
import { CitiesService } from "./CitiesService.js"
import { CitiesLive } from "./CitiesHttp.js"
import { CountriesRepo } from "./CountriesRepo.js"
import { CountriesService } from "./CountriesService.js"
import { CountriesLive } from "./CountriesHttp.js"
import { FacilitiesRepo } from "./FacilitiesRepo.js"
import { FacilitiesService } from "./FacilitiesService.js"
import { FacilitiesLive } from "./FacilitiesHttp.js"
import { HotelsService } from "./HotelsService.js"
import { HotelsLive } from "./HotelsHttp.js"
import { HotelsRepo } from "./HotelsRepo.js"
import { RoomsService } from "./RoomsService.js"
import { RoomsLive } from "./RoomsHttp.js"
import { RoomsRepo } from "./RoomsRepo.js"

export const CatalogueRepositoriesLive = Layer.mergeAll(
  CountriesRepo.Default,
  CitiesRepo.Default,
  FacilitiesRepo.Default,
  HotelsRepo.Default,
  RoomsRepo.Default
)

export const CatalogueServicesLive = Layer.mergeAll(
  CountriesService.Default,
  CitiesService.Default,
  FacilitiesService.Default,
  HotelsService.Default,
  RoomsService.Default,
  // the catalogue read cache (docs/decisions.md D7), used by the hotels' and rooms' handlers
  CatalogueCache.Default,
  // the availability searches, with their fragments of the catalogue (docs/decisions.md D7)
  AvailabilitySearch.Default
)

export { CitiesLive, CountriesLive, FacilitiesLive, HotelsLive, RoomsLive }
