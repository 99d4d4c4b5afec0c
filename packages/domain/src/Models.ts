/**
 * Every response model and request body of the API (docs/api.md §2), one module per area.
 */
export * from "./Bookings.js"
export * from "./Email.js"
export * from "./Geo.js"
export * from "./Hotels.js"
export * from "./Images.js"
export * from "./Rooms.js"
export * from "./Users.js"
