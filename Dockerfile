# kustomate operator image (first draft, issue #3): Node.js 24 LTS, kubectl built from the same pinned
# Kubernetes module as lab/cluster, the kustomize bases and CRDs; runs as a non-root user.

# kubectl from lab/cluster/go.mod, so the image's client matches the tested server version.
FROM golang:1.26-bookworm AS kubectl
WORKDIR /src
COPY lab/cluster/go.mod lab/cluster/go.sum ./
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X k8s.io/component-base/version.gitVersion=v1.36.3 -X k8s.io/client-go/pkg/version.gitVersion=v1.36.3" \
      -o /out/kubectl k8s.io/kubernetes/cmd/kubectl

FROM node:24-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm ci --ignore-scripts && npx tsc -p tsconfig.build.json && npm prune --omit=dev --ignore-scripts

FROM node:24-bookworm-slim
WORKDIR /app
COPY --from=kubectl /out/kubectl /usr/local/bin/kubectl
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json ./
COPY kustomize ./kustomize
COPY crds ./crds
# kubectl writes its discovery cache under $HOME; give the non-root user a writable one.
ENV HOME=/tmp NODE_ENV=production
USER 65532:65532
ENTRYPOINT ["node", "/app/dist/cli/main.js"]
CMD ["run", "--all-namespaces", "--health-host=0.0.0.0"]
