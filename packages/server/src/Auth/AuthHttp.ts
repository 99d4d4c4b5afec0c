import { closedGroup } from "../Http/ClosedGroup.js"
import * as HttpApp from "@effect/platform/HttpApp"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import { ShumApi } from "@shum/domain/Api"
import { Message } from "@shum/domain/Common"
import { CurrentUser } from "@shum/domain/Security"
import { Clock, Duration, Effect } from "effect"
import { SignInBursts } from "../Audit/SignInBursts.js"
import { clientAddressOf } from "../Http/ClientAddress.js"
import { locateCreated } from "../Http/Location.js"
import { AuthService } from "./AuthService.js"

/** Sets or deletes the `access_token` cookie on the response (docs/api.md §4.1, §4.3). */
const withCookie = (value: string, maxAgeSeconds: number, secure: boolean) =>
  Effect.flatMap(Clock.currentTimeMillis, (now) =>
    HttpApp.appendPreResponseHandler((_request, response) =>
      Effect.orDie(
        HttpServerResponse.setCookie(response, "access_token", value, {
          httpOnly: true,
          maxAge: Duration.seconds(maxAgeSeconds),
          path: "/",
          sameSite: "lax",
          secure,
          ...(maxAgeSeconds === 0 ? { expires: new Date(now) } : {})
        })
      )
    )
  )

export const AuthLive = closedGroup(ShumApi, "auth", (handlers) =>
  Effect.gen(function* () {
    const auth = yield* AuthService
    const bursts = yield* SignInBursts
    const locate = yield* locateCreated
    const setAccessCookie = (token: string) => withCookie(token, auth.accessTtlSeconds, auth.cookieSecure)
    return handlers
      .handle("register", ({ payload }) => Effect.tap(auth.register(payload), (user) => locate(`/users/${user.id}`)))
      .handle("login", ({ payload, request }) =>
        auth.login(payload).pipe(
          Effect.tap((token) => setAccessCookie(token.access_token)),
          // a burst of failures makes one audit row (docs/decisions.md D17)
          Effect.tapErrorTag("InvalidCredentials", () => bursts.failed(payload.email, clientAddressOf(request)))
        )
      )
      .handle("refresh", ({ payload }) =>
        auth.refresh(payload.refresh_token).pipe(Effect.tap((token) => setAccessCookie(token.access_token)))
      )
      .handle("me", () => Effect.flatMap(CurrentUser, auth.me))
      .handle("logout", () =>
        Effect.flatMap(CurrentUser, auth.logout).pipe(
          Effect.zipRight(withCookie("", 0, auth.cookieSecure)),
          Effect.as(Message.ok)
        )
      )
  })
)
