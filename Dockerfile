# The kustomate operator image: Node.js 24, kubectl built from lab/cluster/go.mod (the version the tests run
# against), the compiled package with its production dependencies, the kustomize bases and the CRDs. It runs as
# uid 65532 on a read-only root filesystem (only /tmp is written: work dirs and kubectl's cache), with tini as
# PID 1: it forwards signals to kustomate and reaps orphaned children.
#
# `docker build .` works anywhere with the public base images below. `npm run image` builds this same file with
# buildah from local equivalents of them (a Debian bookworm rootfs from mmdebstrap, Node.js from the npm registry's
# `node` package, the machine's Go), passed as build arguments.
ARG GO_IMAGE=docker.io/library/golang:1.26-bookworm
ARG NODE_IMAGE=docker.io/library/node:24-bookworm-slim
ARG BASE_IMAGE=docker.io/library/debian:bookworm-slim

# kubectl from the same pinned Kubernetes module as the local control plane. Its version string comes from go.mod
# (`go list -m`), with the flags lab/cluster/build.ts gives it, so `kubectl version` names the real release.
FROM ${GO_IMAGE} AS kubectl
WORKDIR /src
COPY lab/cluster/go.mod lab/cluster/go.sum ./
RUN set -eu; \
    version="$(go list -m -f '{{.Version}}' k8s.io/kubernetes)"; \
    release="${version#v}"; major="${release%%.*}"; rest="${release#*.}"; minor="${rest%%.*}"; \
    flags="-s -w"; \
    for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do \
      flags="$flags -X $p.gitVersion=$version -X $p.gitMajor=$major -X $p.gitMinor=$minor -X $p.gitTreeState=clean -X $p.buildDate=1970-01-01T00:00:00Z"; \
    done; \
    CGO_ENABLED=0 go build -trimpath -buildvcs=false -ldflags "$flags" -o /out/kubectl k8s.io/kubernetes/cmd/kubectl; \
    /out/kubectl version --client

# The package, compiled; then only its production dependencies are kept.
FROM ${NODE_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json ./
# --prefer-offline: what the npm cache holds (a build mount, with `npm run image`) is used without asking the registry.
RUN npm ci --prefer-offline --ignore-scripts --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN node_modules/.bin/tsc -p tsconfig.build.json && npm prune --omit=dev --ignore-scripts --no-audit --no-fund

FROM ${BASE_IMAGE}
# tini as PID 1 (https://github.com/krallin/tini): a base that has it already (the local one) needs no package index.
RUN command -v tini >/dev/null || { apt-get update && apt-get install -y --no-install-recommends tini && rm -rf /var/lib/apt/lists/*; }
COPY --from=build /usr/local/bin/node /usr/local/bin/node
COPY --from=kubectl /out/kubectl /usr/local/bin/kubectl
WORKDIR /app
COPY package.json ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY kustomize ./kustomize
COPY crds ./crds
# kubectl keeps its discovery cache under $HOME/.kube: /tmp, the one writable place. V8 sizes its young generation
# at start-up: a small one keeps the operator's resident memory low (https://nodejs.org/api/cli.html#node_optionsoptions).
ENV HOME=/tmp NODE_ENV=production NODE_OPTIONS=--max-semi-space-size=1
USER 65532:65532
EXPOSE 8080
# No -g: only kustomate gets SIGTERM; it lets its running kubectl commands finish (--grace-period), then stops them.
ENTRYPOINT ["/usr/bin/tini", "--", "/usr/local/bin/node", "/app/dist/cli/main.js"]
CMD ["run", "--all-namespaces", "--health-host=0.0.0.0"]
