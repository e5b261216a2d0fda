# syntax=docker/dockerfile:1
#
# graphsoar: one static binary on distroless, running as the non-root user
# 65532.
#
#   docker build -t graphsoar .
#   docker run --rm graphsoar validate --rules /etc/graphsoar/rules
#
# Files the image expects at run time:
#
#   /etc/graphsoar/rules          the rule directory. The image carries the
#                                 starter playbooks there; mount your own rules
#                                 over it (a ConfigMap or a volume, read-only is
#                                 fine: the worker only reads and watches it).
#   /etc/graphsoar/graphsoar.yaml the configuration file (docs/OPERATIONS.md),
#                                 mounted by you and passed with
#                                 --config /etc/graphsoar/graphsoar.yaml.
#                                 ${VARIABLE}s in it are taken from the
#                                 environment, so secrets stay in env vars.
#
# The default command runs the worker with the image's rules and serves
# /metrics, /healthz and /readyz on :9090. Without --nats-url (or nats.url in
# the config file) it starts an embedded NATS server storing in data/nats under
# the working directory /var/lib/graphsoar (writable by 65532; mount a volume
# there to keep it). See deploy/ for Kubernetes and docker compose.

# Base images are pinned by digest (deploy/README.md, Image digests, says how
# to refresh them: crane digest IMAGE, or docker buildx imagetools inspect).
#
# The build runs on go.mod's toolchain, go1.27.3 (the patched release;
# README: Development). The image is golang 1.27 pinned by digest; GOTOOLCHAIN
# makes its go command fetch go1.27.3 from the Go module proxy, verified
# against the Go checksum database, before anything is built. With an image
# of go1.27.3 itself (GO_IMAGE=golang:1.27.3@sha256:...), nothing is fetched.
ARG GO_IMAGE=golang:1.27.1@sha256:f773aa2679c165b2d4ccf04c1de9ef5f34c0e4fd7008b3c449d4cdc47d83af55

FROM --platform=$BUILDPLATFORM ${GO_IMAGE} AS build
ENV GOTOOLCHAIN=go1.27.3
WORKDIR /src

# Modules first, in their own layer: it is rebuilt only when go.mod or go.sum
# change.
COPY go.mod go.sum ./
RUN go version && go mod download && go mod verify

COPY . .
ARG TARGETOS
ARG TARGETARCH
RUN --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 GOOS=$TARGETOS GOARCH=$TARGETARCH \
    go build -trimpath -ldflags "-s -w" -o /out/graphsoar ./cmd/graphsoar

# The starter rules: the rule files and their lists, without the rule tests
# (*_test.yaml) and their testdata.
RUN mkdir -p /out/rules /out/var \
    && cp -R rules/lists /out/rules/lists \
    && find rules -maxdepth 1 -type f -name '*.yaml' ! -name '*_test.yaml' -exec cp {} /out/rules/ \;

FROM gcr.io/distroless/static-debian12:nonroot@sha256:afa5c872c891853ca7fcf1f12c3edb23f7eeef36189728842dd51042ff57f7ab

ARG VERSION=dev
ARG REVISION=unknown
LABEL org.opencontainers.image.title="graphsoar" \
      org.opencontainers.image.description="Automated incident response for Microsoft Defender XDR: NATS JetStream incident events to Microsoft Graph writes" \
      org.opencontainers.image.source="https://github.com/graphsoar/graphsoar" \
      org.opencontainers.image.url="https://github.com/graphsoar/graphsoar" \
      org.opencontainers.image.documentation="https://github.com/graphsoar/graphsoar/blob/main/docs/OPERATIONS.md" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.base.name="gcr.io/distroless/static-debian12:nonroot" \
      org.opencontainers.image.base.digest="sha256:afa5c872c891853ca7fcf1f12c3edb23f7eeef36189728842dd51042ff57f7ab"

COPY --from=build /out/graphsoar /graphsoar
COPY --from=build /out/rules /etc/graphsoar/rules
COPY --from=build --chown=65532:65532 /out/var /var/lib/graphsoar

# Numeric, so that Kubernetes' runAsNonRoot can verify it.
USER 65532:65532
WORKDIR /var/lib/graphsoar
EXPOSE 9090
ENTRYPOINT ["/graphsoar"]
CMD ["run", "--rules", "/etc/graphsoar/rules", "--listen", ":9090"]
