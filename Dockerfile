# syntax=docker/dockerfile:1
# nest-tenancy API: build with the dev dependencies, run with the production ones only, as a
# non-root user. PostgreSQL comes from DATABASE_URL (see docker-compose.yml).

# ---- build: compile TypeScript, then drop the dev dependencies ----
FROM node:20-bookworm-slim AS build
WORKDIR /app
# The lockfile first, so the dependency layer is cached until it changes.
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json nest-cli.json ./
COPY libs ./libs
COPY src ./src
# tsconfig.build.json: outDir dist, rootDir . -> src/main.ts becomes dist/src/main.js.
RUN npm run build \
 && npm prune --omit=dev --no-audit --no-fund

# ---- runtime ----
FROM node:20-bookworm-slim AS runtime
ENV NODE_ENV=production \
    PORT=3000
WORKDIR /app
COPY --from=build /app/package.json /app/package-lock.json ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY config ./config
# `node` (uid 1000) comes with the image. It owns nothing but .data/, where the embedded
# PostgreSQL would keep its data if the container is started without DATABASE_URL.
RUN mkdir -p /app/.data && chown node:node /app/.data
USER node
EXPOSE 3000
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 3000) + '/health').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# Exec form: node is PID 1 and gets SIGTERM itself (main.ts closes the pools, then exits).
CMD ["node", "dist/src/main.js"]
