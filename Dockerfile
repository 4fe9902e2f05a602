# syntax=docker/dockerfile:1
# The compiled batch gateway: one image for the worker and the API, chosen by the command.
#   docker build -t batch-gateway .
#   docker run … batch-gateway                              # the API (node dist/main/api.js)
#   docker run … batch-gateway node dist/main/worker.js     # a worker
# Validated by test/deploy/compose.test.ts and scripts/check-dockerfile.sh (which runs the build
# stage's RUN lines in a scratch copy of the repo); never built here: no Docker engine on that machine.

# Node 24 LTS on Debian (glibc: Temporal's native core bridge ships glibc builds, not musl).
FROM node:24.21.0-trixie-slim AS build
WORKDIR /app
# Dependencies first, so a source change reuses the cached install layer.
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
# tsc to dist/ and the ahead-of-time workflow bundle (dist/workflow-bundle.js).
RUN npm run build
# What the runtime stage copies: production dependencies only.
RUN npm prune --omit=dev --no-audit --no-fund

FROM node:24.21.0-trixie-slim AS runtime
# MALLOC_ARENA_MAX: glibc keeps 2 malloc arenas, not one per native thread (BENCHMARKS.md: −34 MB).
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=8080 \
    DATA_DIR=/data \
    MALLOC_ARENA_MAX=2
WORKDIR /app
# Owned by root and read-only for the app user: the image's code cannot be changed at run time.
COPY --from=build /app/package.json ./package.json
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
# DATA_DIR: the secrets key file and filesystem storage when STORAGE_URL is unset (one host only).
RUN mkdir -p /data && chown node:node /data
# The `node` user (uid 1000) of the official image.
USER node
EXPOSE 8080
# The API's /health (200 once Temporal answers). A worker container overrides this with its
# metrics port: node dist/main/health-probe.js METRICS_PORT /health (see temporal-compose.yml).
HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --retries=3 \
    CMD ["node", "dist/main/health-probe.js", "PORT", "/health"]
CMD ["node", "--max-semi-space-size=2", "dist/main/api.js"]
