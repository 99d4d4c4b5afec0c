/**
 * A partial fake: the methods a test needs, type-checked against the real service's shape; any other method
 * dies with a message naming the fake and the method, so a service that starts using one more repository
 * method fails loudly here instead of calling something that silently does nothing.
 */
import { Effect } from "effect"

export const partial = <Service extends object>(name: string, implemented: Partial<Service>): Service =>
  new Proxy(implemented, {
    get: (target, property, receiver) =>
      property in target || typeof property === "symbol"
        ? Reflect.get(target, property, receiver)
        : () => Effect.dieMessage(`the in-memory ${name} does not implement ${String(property)}`)
  }) as Service
