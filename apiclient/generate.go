package apiclient

// The client is generated from the API's contract, schemas/openapi.json, by
// oapi-codegen (pinned in go.mod's tool directive). `make generate` runs this;
// `make lint` fails when the committed file is not what it would produce.
//go:generate go tool oapi-codegen -config oapi-codegen.yaml ../schemas/openapi.json
