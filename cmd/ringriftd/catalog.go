package main

import (
	"net/http"

	"github.com/ringrift/ringriftd/event"
)

// catalogType is one entry of GET /v1/catalog (README, "GET /v1/catalog").
type catalogType struct {
	Name         string         `json:"name"`
	Value        string         `json:"value"`
	Category     string         `json:"category"`
	CrossProcess bool           `json:"cross_process"`
	Purpose      string         `json:"purpose"`
	Aliases      []string       `json:"aliases"` // other NAMEs of the same value
	Scope        string         `json:"scope"`   // none, config, node (or config+node)
	Payload      []catalogField `json:"payload"` // the schema's keys; empty: any object
}

// catalogField is one payload key of a type's schema.
type catalogField struct {
	Key      string   `json:"key"`
	Kind     string   `json:"kind"`
	Accepts  string   `json:"accepts"` // what a value must be, in words
	Required bool     `json:"required"`
	Aliases  []string `json:"aliases"`
}

// kindNames are the JSON names of the payload kinds (events.md's str, int,
// num, rate, obj and the special ones).
var kindNames = map[event.Kind]string{
	event.KindStr: "string", event.KindInt: "integer", event.KindNum: "number", event.KindRate: "rate",
	event.KindObj: "object", event.KindTier: "tier", event.KindLevel: "level", event.KindWeights: "weights",
	event.KindOpponents: "opponents",
}

func scopeName(s event.Scope) string {
	switch s {
	case event.ScopeConfig:
		return "config"
	case event.ScopeNode:
		return "node"
	case event.ScopeConfig | event.ScopeNode:
		return "config+node"
	}
	return "none"
}

// catalogTypes builds the catalog's JSON rows from the embedded catalog and
// schemas, canonical types by value, aliases listed on their type.
func catalogTypes() []catalogType {
	c := event.Default()
	aliases := map[string][]string{}
	for _, t := range c.Rows() {
		if t.AliasOf != "" {
			aliases[t.Value] = append(aliases[t.Value], t.Name)
		}
	}
	rows := make([]catalogType, 0, len(c.Types()))
	for _, t := range c.Types() {
		row := catalogType{Name: t.Name, Value: t.Value, Category: t.Category, CrossProcess: t.CrossProcess,
			Purpose: t.Purpose, Aliases: aliases[t.Value], Scope: "none", Payload: []catalogField{}}
		if row.Aliases == nil {
			row.Aliases = []string{}
		}
		if s := event.SchemaOf(t.Value); s != nil {
			row.Scope = scopeName(s.Scope)
			for _, f := range s.Fields {
				al := f.Aliases
				if al == nil {
					al = []string{}
				}
				row.Payload = append(row.Payload, catalogField{Key: f.Key, Kind: kindNames[f.Kind], Accepts: f.Kind.String(),
					Required: f.Required, Aliases: al})
			}
		}
		rows = append(rows, row)
	}
	return rows
}

// catalog is GET /v1/catalog: {"types": [catalogType, …]}.
func (d *daemon) catalog(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{"types": catalogTypes()})
}
