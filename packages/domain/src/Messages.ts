/**
 * The original service's error texts (docs/api.md §3), byte for byte — clients compare them.
 * Grammatical oddities (`Страна не найден`, `Город с название …`) are part of the contract. Each text has its
 * code of docs/errors.md, where the texts are catalogued (and checked against these).
 */

export type Entity = "Пользователь" | "Отель" | "Номер" | "Удобство" | "Страна" | "Город"

export const Messages = {
  tokenMissing: "Токен доступа не предоставлен", // E-01
  tokenInvalid: "Токен невалиден или истек", // E-02
  tokenWithoutSubject: "Токен не содержит идентификатор пользователя", // E-03
  tokenBadSubject: "Невалидный идентификатор пользователя в токене", // E-04
  userNotFound: "Пользователь не найден", // E-05, E-13
  emailNotFound: "Пользователь с таким email не найден", // E-06
  wrongPassword: "Неверный пароль", // E-07
  refreshTokenInvalid: "Невалидный или истекший refresh токен", // E-08
  /** E-10: the id only when non-zero. */
  entityNotFound: (entity: Entity, id: number): string =>
    id !== 0 ? `${entity} с ID ${id} не найден` : `${entity} не найден`,
  /** E-11 */
  cityByNameNotFound: (name: string): string =>
    name !== "" ? `Город с название '${name}' не найден` : "Город не найден",
  hotelNotFound: "Отель не найден", // E-12
  countryNotFound: "Страна не найден", // E-14 (sic)
  cityNotFoundNeuter: "Город не найдено", // E-15 (sic)
  facilityNotFound: "Удобство не найдено", // E-16
  roomNotFound: "Номер не найден", // E-17
  roomOfAnotherHotel: "Номер не принадлежит указанному отелю", // E-18
  bookingNotFound: "Бронирование не найдено", // E-19
  imageNotFound: "Изображение не найдено", // E-20
  countryNotFoundFeminine: "Страна не найдена", // E-21
  cityNotFound: "Город не найден", // E-22
  /** E-30 */
  alreadyExists: (entity: string, field: string, value: string): string =>
    `${entity} с ${field} '${value}' уже существует`,
  userEmailTaken: (email: string): string => `Пользователь с email '${email}' уже существует`,
  hotelTitleTaken: (title: string): string => `Отель с название '${title}' уже существует`,
  countryNameTaken: (name: string): string => `Страна с название '${name}' уже существует`,
  countryIsoTaken: (iso: string): string => `Страна с ISO код '${iso.toUpperCase()}' уже существует`,
  cityNameTaken: (name: string): string => `Город с название '${name}' уже существует`,
  periodInvalid: "Дата начала периода должна быть раньше даты окончания", // E-40
  stayInvalid: "Дата заезда должна быть раньше даты выезда", // E-41
  roomSoldOut: "Все номера данного типа уже забронированы на указанные даты", // E-42
  bookingNotYours: "Недостаточно прав для удаления этого бронирования", // E-43
  /** E-44 (new, D2): `date_from` before today (UTC). Not in the original, which had no such rule. */
  stayInPast: "Дата заезда не может быть в прошлом",
  /** E-45 (new, D2): a room's `quantity` lowered below the units already sold on some night from today on. */
  roomQuantityBelowSold: "Нельзя уменьшить количество номеров: на некоторые даты уже забронировано больше",
  /** E-23 (new): an unknown hold, or another user's for a non-admin. */
  holdNotFound: "Удержание не найдено",
  /** E-47 (new): confirming a hold whose `expires_at` has passed (410). */
  holdExpired: "Срок удержания истёк, номер освобождён",
  /** E-48 (new): a new hold while the caller already has `MAX_ACTIVE_HOLDS_PER_USER` active ones. */
  tooManyHolds: (max: number): string => `Слишком много активных удержаний: не более ${max} одновременно`,
  /** E-49 (new): confirming a released hold, or releasing a confirmed one. */
  holdNotActive: "Удержание уже подтверждено или отменено",
  /** E-46 (new, docs/data.md BR-14): cancelling or moving a booking that is already cancelled. */
  bookingCancelled: "Бронирование уже отменено",
  /** E-39 (new, docs/data.md BR-14): a change of dates refused, naming the nights without a free unit. */
  nightsSoldOut: (nights: ReadonlyArray<string>): string =>
    `Все номера данного типа уже забронированы на ночи: ${nights.join(", ")}`,
  /** E-09 (new, D1) */
  forbidden: "Недостаточно прав",
  notAnImage: "Файл должен быть изображением", // E-60
  fileTooLarge: (mb: number): string => `Размер файла превышает допустимый лимит ${mb} МБ`, // E-61
  /** E-50 (new, docs/decisions.md D11): a request body above `MAX_JSON_BODY_KB` (the original had no limit). */
  bodyTooLarge: (kb: number): string => `Размер тела запроса превышает допустимый лимит ${kb} КБ`,
  imageTooNarrow: (width: number): string =>
    `Изображение должно быть не менее 1000px в ширину. Текущая ширина: ${width}px`, // E-62
  uploadFailed: (inner: string): string => `Ошибка при загрузке изображения: ${inner}`, // E-63
  processingFailed: (inner: string): string => `Ошибка при обработке изображения: ${inner}`, // E-64
  imageUploaded: "Изображение загружено и обработано", // E-71
  workersNotResponding: "Celery broker доступен, но workers не отвечают", // E-80
  noActiveWorkers: "Celery broker доступен, но активные workers не найдены", // E-81
  integrityViolation: "Нарушение целостности данных. Возможно, запись уже существует или нарушены ограничения.", // E-90
  databaseUnavailable: "Сервис базы данных временно недоступен. Попробуйте позже.", // E-91
  databaseError: "Внутренняя ошибка сервера при работе с базой данных.", // E-92
  /** E-65 (new): 503 of an upload whose job cannot be queued (Redis unreachable); worded as E-91. */
  imageJobsUnavailable: "Сервис обработки изображений временно недоступен. Попробуйте позже.",
  internalError: "Внутренняя ошибка сервера.", // E-93
  /** E-27 (new, docs/decisions.md D16) */
  webhookNotFound: "Вебхук не найден",
  /** E-28 (new, docs/decisions.md D16) */
  webhookDeliveryNotFound: "Доставка вебхука не найдена",
  notFoundRoute: "Not Found",
  methodNotAllowed: "Method Not Allowed",
  /** Starlette's answer to a `multipart/form-data` body it cannot parse (400). */
  bodyParseError: "There was an error parsing the body",
  rateLimitExceeded: (limit: number): string => `Rate limit exceeded: ${limit} per 1 minute`
} as const
