# syntax=docker/dockerfile:1
#
# The worker image. `docker build -t atlassian-audit-worker .`, then run it with the operator-contract environment
# (docker-compose.yml, or `docker run --env-file examples/temporal-cloud.env ...` for Temporal Cloud).
#
# The worker runs its TypeScript through tsx, as `npm run worker` does: one entry point for the image, the tests and
# a developer, and tsx's start-up cost is paid once per process. The expensive step, webpack-bundling the
# workflows, happens here at build time instead (worker/build-workflow-bundle.ts).

ARG NODE_IMAGE=node:20.20.2-bookworm-slim

FROM ${NODE_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json ./
# The product's folders only: dev/ (stand-ins, demo, benchmarks) and test/ never enter the image.
COPY workflows ./workflows
COPY activities ./activities
COPY worker ./worker
COPY client ./client
COPY codec ./codec
COPY shared ./shared
RUN npx tsx worker/build-workflow-bundle.ts lib/workflow-bundle.js

FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force
COPY tsconfig.json ./
COPY bin ./bin
COPY --from=build /app/workflows ./workflows
COPY --from=build /app/activities ./activities
COPY --from=build /app/worker ./worker
COPY --from=build /app/client ./client
COPY --from=build /app/codec ./codec
COPY --from=build /app/shared ./shared
# Built above with the same locked @temporalio/worker that runs it, as the SDK requires.
COPY --from=build /app/lib/workflow-bundle.js ./lib/workflow-bundle.js
# The one place the worker writes: dead letters (logs Datadog kept refusing), owned by the unprivileged user and
# meant to be a mounted volume (docker-compose.yml) so they outlive the container.
RUN mkdir -p /var/lib/atlassian-audit/dead-letters && chown node:node /var/lib/atlassian-audit/dead-letters
ENV AUDIT_WORKFLOW_BUNDLE=/app/lib/workflow-bundle.js \
    AUDIT_METRICS_ADDRESS=0.0.0.0:9464 \
    AUDIT_DEAD_LETTER_DIR=/var/lib/atlassian-audit/dead-letters
# The official image's unprivileged user; the app files stay root-owned and read-only to it.
USER node
EXPOSE 9464
# One node process, no wrapper: SIGTERM reaches the Temporal Runtime, which drains the worker.
CMD ["node", "--import", "tsx", "worker/main.ts"]
