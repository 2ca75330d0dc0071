// Package schemas embeds what describes TriggerFlow's data and API: the SQL
// migrations applied by `triggerflow migrate` and the OpenAPI document served
// at /openapi.json.
package schemas

import "embed"

// Migrations holds the goose SQL migrations under migrations/.
//
//go:embed migrations/*.sql
var Migrations embed.FS

// OpenAPI is the OpenAPI 3.1 document of the admin API.
//
//go:embed openapi.json
var OpenAPI []byte
