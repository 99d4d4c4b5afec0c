// A webhook receiver for Shum Booking (docs/api.md §14, docs/decisions.md D16): plain Node, no packages.
//
//   WEBHOOK_SECRET=whsec_... PORT=9000 node docs/examples/webhook-receiver.mjs
//
// It accepts a message only when one of the `v1,` signatures in `webhook-signature` is the HMAC-SHA256,
// keyed with the base64-decoded part of the secret after `whsec_`, of `{webhook-id}.{webhook-timestamp}.{body}`
// (compared in constant time), and the timestamp is within 5 minutes of now (older messages are replays).
// A verified message is processed once per `webhook-id` (deliveries are at least once) and answered 204;
// anything else 400. Each outcome is printed as one JSON line.
import { Buffer } from "node:buffer"
import { createHmac, timingSafeEqual } from "node:crypto"
import { createServer } from "node:http"

const secret = process.env.WEBHOOK_SECRET ?? ""
const port = Number(process.env.PORT ?? 9000)
const TOLERANCE_SECONDS = 5 * 60

const key = Buffer.from(secret.replace(/^whsec_/, ""), "base64")
const processed = new Set()

const verified = (headers, body) => {
  const id = headers["webhook-id"]
  const timestamp = headers["webhook-timestamp"]
  const signatures = headers["webhook-signature"]
  if (!id || !timestamp || !signatures) return false
  if (Math.abs(Date.now() / 1000 - Number(timestamp)) > TOLERANCE_SECONDS) return false
  const expected = Buffer.from("v1," + createHmac("sha256", key).update(`${id}.${timestamp}.${body}`).digest("base64"))
  return signatures.split(" ").some((candidate) => {
    const given = Buffer.from(candidate)
    return given.length === expected.length && timingSafeEqual(given, expected)
  })
}

const server = createServer((request, response) => {
  const chunks = []
  request.on("data", (chunk) => chunks.push(chunk))
  request.on("end", () => {
    const body = Buffer.concat(chunks).toString("utf8")
    if (request.method !== "POST" || !verified(request.headers, body)) {
      console.log(JSON.stringify({ outcome: "refused", id: request.headers["webhook-id"] ?? null }))
      response.writeHead(400).end()
      return
    }
    const id = request.headers["webhook-id"]
    if (processed.has(id)) {
      console.log(JSON.stringify({ outcome: "duplicate", id }))
    } else {
      processed.add(id)
      const event = JSON.parse(body)
      console.log(JSON.stringify({ outcome: "processed", id, type: event.type, data: event.data }))
    }
    response.writeHead(204).end()
  })
})

server.listen(port, "127.0.0.1", () => console.log(JSON.stringify({ listening: server.address().port })))
