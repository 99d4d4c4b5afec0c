/**
 * Hotel images (docs/api.md §2, §8.8, §9; docs/decisions.md D5). The worker writes 200/500/1000 px wide
 * variants; `width`/`height` are the original's.
 */
import { Schema } from "effect"
import { Messages } from "./Messages.js"
import { modelDoc } from "./Common.js"

/** D5: `pending` until the worker has written the variants, then `done`, or `failed` after the last attempt. */
export const ImageStatus = Schema.Literal("pending", "done", "failed").annotations({ identifier: "ImageStatus" })
export type ImageStatus = typeof ImageStatus.Type

const variantFields = { width: Schema.Int, height: Schema.Int, url: Schema.String }
export class ImageVariant extends Schema.Class<ImageVariant>("ImageVariant")(
  variantFields,
  modelDoc(variantFields, "A resized copy, served at `<ROOT_PATH>/static/images/<file name>`.", {
    width: 1000,
    height: 666,
    url: "/apps/shum-booking/static/images/101_1000w_photo.jpg"
  })
) {}

const imageFields = {
  id: Schema.Int,
  filename: Schema.String,
  original_filename: Schema.String,
  width: Schema.Int,
  height: Schema.Int,
  status: ImageStatus,
  variants: Schema.Array(ImageVariant)
}
export class Image extends Schema.Class<Image>("Image")(
  imageFields,
  modelDoc(
    imageFields,
    "An image of a hotel: its file name as stored (the client's name sanitised: no directories, only " +
      "`[A-Za-z0-9._-]`; D14), the original's size, and (new, D5) the processing status and the variants " +
      "written so far.",
    {
      id: 101,
      filename: "photo.jpg",
      original_filename: "photo.jpg",
      width: 1200,
      height: 800,
      status: "done",
      variants: [200, 500, 1000].map(
        (width) =>
          new ImageVariant({
            width,
            height: Math.floor((width * 800) / 1200),
            url: `/apps/shum-booking/static/images/101_${width}w_photo.jpg`
          })
      )
    }
  )
) {}

const uploadFields = { status: Schema.Literal("OK"), image_id: Schema.Int, message: Schema.String }
export class ImageUpload extends Schema.Class<ImageUpload>("ImageUpload")(
  uploadFields,
  modelDoc(uploadFields, "200: the image is stored and its variants are written.", {
    status: "OK",
    image_id: 101,
    message: Messages.imageUploaded
  })
) {}

const processingFields = { status: Schema.Literal("PROCESSING"), image_id: Schema.Int }
export class ImageProcessing extends Schema.Class<ImageProcessing>("ImageProcessing")(
  processingFields,
  modelDoc(
    processingFields,
    "202: the image is stored and queued, but the worker had not finished within `IMAGE_UPLOAD_WAIT_SECONDS`; " +
      "poll `GET /images/hotel/{hotel_id}` for its `status`.",
    { status: "PROCESSING", image_id: 101 }
  )
) {}
