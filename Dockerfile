# flowhist: a static binary on a distroless base, running as non-root.
#
#   docker build -t flowhist .
#   docker run -p 127.0.0.1:8080:8080 -e FLOWHIST_VALKEY_ADDR=valkey:6379 \
#     -e FLOWHIST_AUTH_TOKENS='[{"name":"admin","token":"'"$(openssl rand -hex 32)"'","scopes":["admin"],"namespaces":["*"]}]' flowhist
#
# The entrypoint is the flowhist binary: the default command is `serve`, and
# any other (`verify -n prod`, `replay -n prod`, `healthcheck`) runs instead.

# Base images are pinned by digest (the tag says what it is, the digest which
# build). To update one: docker buildx imagetools inspect golang:1.26.8-bookworm
# (the "Digest:" line) and replace the digest; keep Go's version at go.mod's.
FROM golang:1.26.8-bookworm@sha256:a688600ca24f8a4d3ca77f95b0dd40704a9fc787c826660eb7ba0b641b8b175d AS build
WORKDIR /src
# Modules first: they change less often than the code.
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /out/flowhist ./cmd/flowhist

# To update: docker buildx imagetools inspect gcr.io/distroless/static-debian12:nonroot
FROM gcr.io/distroless/static-debian12:nonroot@sha256:d093aa3e30dbadd3efe1310db061a14da60299baff8450a17fe0ccc514a16639
COPY --from=build /out/flowhist /flowhist
USER nonroot:nonroot
ENV FLOWHIST_LISTEN=0.0.0.0:8080 \
    FLOWHIST_LOG_FORMAT=json
EXPOSE 8080
# No shell or curl in the image: the binary checks /readyz itself.
HEALTHCHECK --interval=5s --timeout=3s --start-period=10s --retries=3 CMD ["/flowhist", "healthcheck"]
ENTRYPOINT ["/flowhist"]
CMD ["serve"]
