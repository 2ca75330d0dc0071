// Package domain holds TriggerFlow's core types and rules: events, field-level
// validation errors, conditions, templates, cron expressions and the event
// catalog. Every other package may import it; it imports none of them.
package domain
