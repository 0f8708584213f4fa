# flowhist: a static binary on a distroless base, running as non-root.
#
#   docker build -t flowhist .
#   docker run -p 8080:8080 -e FLOWHIST_VALKEY_ADDR=valkey:6379 \
#     -e FLOWHIST_AUTH_TOKENS='[{"name":"admin","token":"…","scopes":["admin"],"namespaces":["*"]}]' flowhist
#
# The entrypoint is the flowhist binary: the default command is `serve`, and
# any other (`verify -n prod`, `replay -n prod`, `healthcheck`) runs instead.

FROM golang:1.26-bookworm AS build
WORKDIR /src
# Modules first: they change less often than the code.
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /out/flowhist ./cmd/flowhist

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/flowhist /flowhist
USER nonroot:nonroot
ENV FLOWHIST_LISTEN=0.0.0.0:8080 \
    FLOWHIST_LOG_FORMAT=json
EXPOSE 8080
# No shell or curl in the image: the binary checks /readyz itself.
HEALTHCHECK --interval=5s --timeout=3s --start-period=10s --retries=3 CMD ["/flowhist", "healthcheck"]
ENTRYPOINT ["/flowhist"]
CMD ["serve"]
