# syntax=docker/dockerfile:1
# Stevedore gateway (STEVEDORE_TARGET=gateway). Build from the repository root:
#   docker build -f deploy/docker/gateway.Dockerfile -t stevedore/gateway:dev .
# Generated from one template (see deploy/README.md); deploy/test/dockerfiles.spec.ts keeps the five in step.

# deps: production node_modules only (@swc/core and @swc-node/register are production dependencies:
# the runtime compiles the TypeScript sources on load and resolves @stevedore/* from tsconfig paths).
FROM node:20-slim AS deps
WORKDIR /app
COPY package.json package-lock.json ./
# --ignore-scripts: the root postinstall builds the web UI and the CLI bundle from sources this stage
# does not have (and an install without dev dependencies has no Vite or esbuild to build them with).
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm cache clean --force

# runtime: sources of the libs and of this app only, owned by root and read-only to the process.
FROM node:20-slim AS runtime
ENV NODE_ENV=production \
    STEVEDORE_TARGET=gateway \
    HOST=0.0.0.0 \
    PORT=5000
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY package.json tsconfig.json tsconfig.base.json .swcrc ./
COPY libs ./libs
COPY apps/gateway/src ./apps/gateway/src
# The image's unprivileged user (uid 1000); Kubernetes also enforces runAsNonRoot.
USER node
EXPOSE 5000
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || '5000') + '/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
CMD ["node", "-r", "@swc-node/register", "apps/gateway/src/main.ts"]
