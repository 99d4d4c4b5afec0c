# One image for the server, the worker and migrations:
#   docker build -t shum-booking .
#   docker run shum-booking                    # server (default)
#   docker run shum-booking npm run migrate:prod
# Runs as the non-root `node` user (uid 1000), listens on 8000.

FROM node:20-bookworm-slim AS deps
WORKDIR /app
COPY package.json package-lock.json ./
COPY packages/domain/package.json packages/domain/
COPY packages/infra/package.json packages/infra/
COPY packages/server/package.json packages/server/
COPY packages/worker/package.json packages/worker/
RUN npm ci --no-audit --no-fund

FROM deps AS build
COPY tsconfig.base.json tsconfig.build.json ./
COPY packages packages
RUN npm run build

FROM node:20-bookworm-slim AS runtime
ENV NODE_ENV=production APP_ENV=production PORT=8000 IMAGE_DIR=/app/static/images
WORKDIR /app
COPY package.json package-lock.json ./
COPY packages/domain/package.json packages/domain/
COPY packages/infra/package.json packages/infra/
COPY packages/server/package.json packages/server/
COPY packages/worker/package.json packages/worker/
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force
COPY --from=build /app/packages/domain/dist packages/domain/dist
COPY --from=build /app/packages/infra/dist packages/infra/dist
COPY --from=build /app/packages/server/dist packages/server/dist
RUN mkdir -p /app/static/images && chown -R node:node /app/static
USER node
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=10s --start-period=40s --retries=3 \
  CMD node -e "fetch('http://127.0.0.1:8000/health').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"
CMD ["node", "packages/server/dist/main.js"]
