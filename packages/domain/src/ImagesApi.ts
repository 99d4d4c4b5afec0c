/**
 * Hotel images: upload, list, delete (docs/api.md §8.8, §9; docs/decisions.md D1, D5).
 */
import * as HttpApiEndpoint from "@effect/platform/HttpApiEndpoint"
import * as HttpApiGroup from "@effect/platform/HttpApiGroup"
import * as HttpApiSchema from "@effect/platform/HttpApiSchema"
import * as Multipart from "@effect/platform/Multipart"
import * as OpenApi from "@effect/platform/OpenApi"
import { Schema } from "effect"
import { Message } from "./Common.js"
import { BadRequest, NotFound, PayloadTooLarge, RateLimited, ValidationError } from "./Errors.js"
import { Image, ImageProcessing, ImageUpload } from "./Images.js"
import { HotelIdPath, ImageIdPath } from "./Params.js"
import { AdminAuthentication } from "./Security.js"

/**
 * One part named `file`. The size limit (`MAX_IMAGE_FILE_SIZE_MB`) is configuration, so the server applies
 * it while the body streams in; it is deliberately not fixed here.
 */
const ImageUploadForm = HttpApiSchema.Multipart(
  Schema.Struct({
    file: Multipart.SingleFileSchema.annotations({
      jsonSchema: { type: "string", format: "binary", description: "The image file" }
    })
  })
)

const ADMIN_ONLY = "Admin only (D1; the original let anyone write)."

export class ImagesApi extends HttpApiGroup.make("images")
  .add(
    HttpApiEndpoint.post("upload", "/images/upload/:hotel_id")
      .setPath(HotelIdPath)
      .setPayload(ImageUploadForm)
      .addSuccess(ImageUpload)
      .addSuccess(ImageProcessing, { status: 202 })
      .addError(BadRequest)
      .addError(NotFound)
      .addError(PayloadTooLarge)
      .addError(ValidationError)
      .middleware(AdminAuthentication)
      .annotate(OpenApi.Identifier, "uploadHotelImage")
      .annotate(OpenApi.Summary, "Upload a hotel image")
      .annotate(
        OpenApi.Description,
        `${ADMIN_ONLY} \`multipart/form-data\` with one file part named \`file\` (JPEG, PNG, WebP, GIF, TIFF; ` +
          "at least 1000 px wide).\n\n" +
          "Order: 401/403 → file larger than `MAX_IMAGE_FILE_SIZE_MB` → 413 `Размер файла превышает допустимый " +
          "лимит {N} МБ` (checked while the body streams in) → no `file` part → 422 → declared type not " +
          "`image/*` → 400 `Файл должен быть изображением` → unknown hotel → 404 `Отель с ID {id} не найден` → " +
          "not decodable → 400 `Файл должен быть изображением` → narrower than 1000 px → 400 `Изображение должно " +
          "быть не менее 1000px в ширину. Текущая ширина: {w}px`.\n\n" +
          "Then the original is stored, the image row is created with status `pending` and linked to the hotel, " +
          "and a job is queued for the worker, which writes the 200, 500 and 1000 px wide variants. The request " +
          "waits up to `IMAGE_UPLOAD_WAIT_SECONDS`: done → 200 `ImageUpload`; still running → 202 " +
          "`ImageProcessing`; failed → 400 with the reason.\n\n" +
          "Differs from the original (D5): undecodable data is a 400 (was a 500), processing runs in the worker " +
          "with retries instead of failing the request after 30 s, file names are sanitised, metadata stripped."
      )
  )
  .add(
    HttpApiEndpoint.get("listByHotel", "/images/hotel/:hotel_id")
      .setPath(HotelIdPath)
      .addSuccess(Schema.Array(Image))
      .addError(NotFound)
      .addError(ValidationError)
      .annotate(OpenApi.Identifier, "listHotelImages")
      .annotate(OpenApi.Summary, "List a hotel's images")
      .annotate(
        OpenApi.Description,
        "The hotel's images, by id, not paginated; `width`/`height` are the original's. Unknown hotel → 404 " +
          "`Отель с ID {id} не найден`.\n\nNew (D5): each image has its processing `status` and its `variants`."
      )
  )
  .add(
    HttpApiEndpoint.del("delete", "/images/:image_id")
      .setPath(ImageIdPath)
      .addSuccess(Message)
      .addError(NotFound)
      .addError(ValidationError)
      .middleware(AdminAuthentication)
      .annotate(OpenApi.Identifier, "deleteImage")
      .annotate(OpenApi.Summary, "Delete an image")
      .annotate(
        OpenApi.Description,
        `${ADMIN_ONLY} Unknown id → 404 \`Изображение не найдено\`. Deletes the row, its hotel links and its ` +
          "files (the original looked in the wrong directory and left the files behind)."
      )
  )
  .addError(RateLimited)
  .annotate(OpenApi.Title, "Изображения отелей")
  .annotate(
    OpenApi.Description,
    "Hotel photos. Uploads are processed by the image worker into 200, 500 and 1000 px wide variants, served " +
      "under `/static/images/`. Listing is public; upload and delete are for admins."
  ) {}
