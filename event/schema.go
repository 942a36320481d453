package event

import "strings"

// Kind is the JSON kind a payload key must have (events.md, "Payload schemas").
type Kind uint8

// Payload key kinds.
const (
	KindStr       Kind = iota + 1 // a string; non-empty when required
	KindInt                       // a number with an integral value ≥ 0
	KindNum                       // a finite number
	KindRate                      // a number in [0, 1]
	KindObj                       // an object
	KindTier                      // an int 0–3 (curriculum tiers)
	KindLevel                     // a backpressure level
	KindWeights                   // an object of config key → number
	KindOpponents                 // the opponents object of evaluation_completed
)

func (k Kind) String() string {
	switch k {
	case KindStr:
		return "a string"
	case KindInt:
		return "an integer ≥ 0"
	case KindNum:
		return "a finite number"
	case KindRate:
		return "a number in [0, 1]"
	case KindObj, KindOpponents:
		return "an object"
	case KindTier:
		return "an integer 0–3"
	case KindLevel:
		return "one of " + strings.Join(Levels, ", ")
	case KindWeights:
		return "an object of config key → number"
	}
	return "unknown"
}

// Levels are the backpressure levels: queue (none soft hard stop) and
// resource (none low medium high critical).
var Levels = []string{"none", "soft", "hard", "stop", "low", "medium", "high", "critical"}

// Scope says which envelope keys a type needs.
type Scope uint8

// Scopes.
const (
	ScopeNone   Scope = 0
	ScopeConfig Scope = 1 << iota // C: needs config_key
	ScopeNode                     // N: needs node_id
)

// Field is one payload key of a schema.
type Field struct {
	Key      string
	Aliases  []string
	Kind     Kind
	Required bool
}

// Schema is what events.md requires of a type's payload.
type Schema struct {
	Scope  Scope
	Fields []Field
}

// field returns the schema's entry for a canonical key.
func (s *Schema) field(key string) *Field {
	if s == nil {
		return nil
	}
	for i := range s.Fields {
		if s.Fields[i].Key == key {
			return &s.Fields[i]
		}
	}
	return nil
}

// canonical maps a key or alias to its canonical key ("" if the schema does
// not name it).
func (s *Schema) canonical(key string) string {
	if s == nil {
		return ""
	}
	for i := range s.Fields {
		f := &s.Fields[i]
		if f.Key == key {
			return key
		}
		for _, a := range f.Aliases {
			if a == key {
				return f.Key
			}
		}
	}
	return ""
}

func req(key string, k Kind, aliases ...string) Field {
	return Field{Key: key, Kind: k, Required: true, Aliases: aliases}
}

func opt(key string, k Kind, aliases ...string) Field {
	return Field{Key: key, Kind: k, Aliases: aliases}
}

var (
	modelPathAliases = []string{"checkpoint_path"}
	gamesField       = opt("games", KindInt, "games_count", "num_games")
	daemonFields     = []Field{req("daemon", KindStr, "name", "coordinator"), opt("status", KindStr)}
	nodeFields       = []Field{opt("reason", KindStr)}
	recoveryFields   = []Field{opt("action", KindStr), opt("attempt", KindInt)}
	regressionFields = []Field{opt("model_path", KindStr), opt("elo_drop", KindNum)}
)

// schemas is the table of events.md by wire value. Types not listed accept any
// payload object and need neither config_key nor node_id.
var schemas = map[string]*Schema{
	"new_games":                   {ScopeConfig, []Field{gamesField}},
	"selfplay_complete":           {ScopeConfig, []Field{gamesField}},
	"sync_failed":                 {ScopeNone, []Field{req("error", KindStr)}},
	"training_threshold":          {ScopeConfig, []Field{opt("games", KindInt), opt("reason", KindStr)}},
	"training_started":            {ScopeConfig, []Field{opt("job_id", KindStr)}},
	"training_progress":           {ScopeConfig, []Field{opt("epoch", KindInt), opt("loss", KindNum)}},
	"training_completed":          {ScopeConfig, []Field{req("model_path", KindStr, modelPathAliases...), opt("final_loss", KindNum)}},
	"training_early_stopped":      {ScopeConfig, []Field{opt("model_path", KindStr, modelPathAliases...), opt("reason", KindStr)}},
	"training_failed":             {ScopeConfig, []Field{req("error", KindStr)}},
	"training_rollback_needed":    {ScopeConfig, []Field{req("reason", KindStr)}},
	"training_rollback_completed": {ScopeConfig, []Field{opt("rolled_back_to", KindStr)}},
	"evaluation_started":          {ScopeConfig, []Field{req("model_path", KindStr)}},
	"evaluation_progress":         {ScopeConfig, []Field{opt("model_path", KindStr)}},
	"evaluation_completed": {ScopeConfig, []Field{req("model_path", KindStr),
		req("opponents", KindOpponents, "opponent_results"), opt("elo", KindNum, "estimated_elo")}},
	"evaluation_failed":   {ScopeConfig, []Field{req("error", KindStr), opt("model_path", KindStr)}},
	"promotion_candidate": {ScopeConfig, []Field{req("model_path", KindStr)}},
	"promotion_started":   {ScopeConfig, []Field{req("model_path", KindStr)}},
	"model_promoted": {ScopeConfig, []Field{req("model_path", KindStr), opt("elo", KindNum),
		opt("previous_model", KindStr)}},
	"promotion_rejected": {ScopeConfig, []Field{req("model_path", KindStr), req("reason", KindStr),
		opt("gate", KindStr), opt("actual", KindNum), opt("threshold", KindNum)}},
	"promotion_failed": {ScopeConfig, []Field{req("model_path", KindStr), req("error", KindStr)}},
	"promotion_rolled_back": {ScopeConfig, []Field{req("to_model", KindStr), opt("from_model", KindStr),
		opt("reason", KindStr)}},
	"elo_updated": {ScopeConfig, []Field{req("participant", KindStr, "model_id", "model_path"),
		req("elo", KindNum, "new_elo")}},
	"curriculum_rebalanced": {ScopeNone, []Field{req("weights", KindWeights, "new_weights"), opt("trigger", KindStr)}},
	"curriculum_advanced":   {ScopeConfig, []Field{req("new_tier", KindTier, "new_stage"), opt("old_tier", KindInt)}},
	"weight_updated":        {ScopeConfig, []Field{req("new_weight", KindNum)}},
	"opponent_mastered":     {ScopeConfig, []Field{opt("opponent", KindStr)}},
	"regression_detected":   {ScopeConfig, regressionFields},
	"regression_minor":      {ScopeConfig, regressionFields},
	"regression_moderate":   {ScopeConfig, regressionFields},
	"regression_severe":     {ScopeConfig, regressionFields},
	"regression_critical":   {ScopeConfig, regressionFields},
	"regression_cleared":    {ScopeConfig, nil},
	"training_blocked_by_quality": {ScopeConfig, []Field{opt("quality_score", KindRate),
		opt("threshold", KindRate)}},
	"high_quality_data_available": {ScopeConfig, nil},
	"backpressure_activated":      {ScopeNone, []Field{req("level", KindLevel)}},
	"host_online":                 {ScopeNode, nodeFields},
	"host_offline":                {ScopeNode, nodeFields},
	"node_unhealthy":              {ScopeNode, nodeFields},
	"node_recovered":              {ScopeNode, nodeFields},
	"node_overloaded":             {ScopeNode, nodeFields},
	"health_check_failed":         {ScopeNode, nodeFields},
	"health_check_passed":         {ScopeNode, nodeFields},
	"recovery_initiated":          {ScopeNode, recoveryFields},
	"recovery_completed":          {ScopeNode, recoveryFields},
	"recovery_failed":             {ScopeNode, recoveryFields},
	"health_alert":                {ScopeNode, []Field{opt("action", KindStr), opt("attempts", KindInt)}},
	"leader_elected":              {ScopeNode, nil},
	"leader_stepdown":             {ScopeNode, nil},
	"daemon_started":              {ScopeNone, daemonFields},
	"daemon_stopped":              {ScopeNone, daemonFields},
	"daemon_status_changed":       {ScopeNone, daemonFields},
	"coordinator_heartbeat":       {ScopeNone, daemonFields},
	"disk_space_low":              {ScopeNode, []Field{opt("free_bytes", KindInt)}},
	"handler_failed": {ScopeNone, []Field{req("handler", KindStr), req("event_seq", KindInt),
		req("error", KindStr), opt("attempts", KindInt)}},
	"handler_redelivered": {ScopeNone, []Field{req("handler", KindStr), req("event_seq", KindInt),
		opt("attempts", KindInt)}},
}

func init() {
	work := &Schema{ScopeNone, []Field{req("work_id", KindStr, "job_id")}}
	for _, v := range defaultCatalog.Category("work") {
		schemas[v] = work
	}
	for v := range schemas {
		if !Known(v) {
			panic("event: schema for a type the catalog does not know: " + v)
		}
	}
}

// SchemaOf returns the payload schema of a wire value, nil when the type has
// none (any object is accepted).
func SchemaOf(value string) *Schema { return schemas[value] }

// liftedConfigKeys and liftedNodeKeys are the payload keys whose string values
// are lifted into the envelope (events.md, "Compatibility input").
var (
	liftedConfigKeys = []string{"config_key", "config"}
	liftedNodeKeys   = []string{"node_id", "node", "host", "hostname"}
)
