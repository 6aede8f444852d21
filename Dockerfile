# syntax=docker/dockerfile:1

# Node.js 26, the active LTS line (end of life April 2029): the newest line the service is tested on
# in CI with the whole suite. 24 (maintenance LTS) works too: swap the tag on both stages.

# ---- build: compile TypeScript to dist/ ----
FROM node:26-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci
COPY . .
RUN npm run build

# ---- runtime: production dependencies and dist/ only ----
FROM node:26-bookworm-slim AS runtime
ENV NODE_ENV=production \
    PORT=8080
WORKDIR /app
# Production talks to MongoDB through MONGO_URI, so the embedded jongodb binary
# (an optional dependency, for trying out and tests) is left out.
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --omit=optional && npm cache clean --force
COPY --from=build /app/dist ./dist
# The chat page's static files (GET /); its client module is built into dist/client.
COPY --from=build /app/public ./public
# DEAD_LETTER_FILE defaults to dead-letter/messages.jsonl under the working directory: the
# non-root user must be able to create it there. Mount a volume here to keep it across containers.
RUN mkdir -p /app/dead-letter && chown node:node /app/dead-letter
USER node
EXPOSE 8080
# Slim images have no curl: use Node's built-in fetch.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 8080) + '/health').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
CMD ["node", "--max-semi-space-size=64", "dist/server.js"]
