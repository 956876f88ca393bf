# Vellum image: builds the TypeScript sources and both native modules (better-sqlite3 and the
# digest-verification addon) in a build stage, then runs them unprivileged on the same Node LTS
# base, so the compiled modules match the runtime's ABI.
FROM node:22-bookworm-slim AS build
RUN apt-get update && apt-get install -y --no-install-recommends python3 make g++ && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY package.json package-lock.json ./
COPY native ./native
# The npm bundled with the base may predate `allowScripts`, so no dependency script runs here
# except the two native builds, done explicitly (the README's install section says why each
# other install script is denied).
RUN npm ci --no-audit --no-fund --ignore-scripts \
  && npm rebuild better-sqlite3 \
  && npm run build:native
COPY . .
RUN npm run build && npm prune --omit=dev --ignore-scripts

FROM node:22-bookworm-slim
WORKDIR /app
ENV NODE_ENV=production HOST=0.0.0.0 PORT=3000 DATA_DIR=/data
# Application files stay owned by root (read-only to the server); the `node` user (uid 1000)
# of the base image owns only the data volume. A named volume mounted on /data starts with
# this directory's ownership.
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY --from=build /app/native/build ./native/build
COPY --from=build /app/package.json ./package.json
RUN mkdir -p /data && chown node:node /data && chmod 700 /data
USER node
VOLUME ["/data"]
EXPOSE 3000
HEALTHCHECK --interval=10s --timeout=3s --retries=3 CMD node -e "fetch('http://127.0.0.1:'+(process.env.PORT||3000)+'/health').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"
ENTRYPOINT ["node", "dist/src/cli/main.js"]
CMD ["serve"]
