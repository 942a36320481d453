package event

import "strconv"

// Object builds a compact JSON object with keys in the order written: the
// payloads of the policies' decisions and of the simulator's events.
//
//	payload := event.Object{}.Str("model_path", m).Int("games", 60).Bytes()
type Object []byte

func (o Object) key(k string) Object {
	if len(o) == 0 {
		o = append(o, '{')
	} else {
		o = append(o, ',')
	}
	return append(AppendJSONString(o, k), ':')
}

// Str adds a string.
func (o Object) Str(k, v string) Object { return AppendJSONString(o.key(k), v) }

// Int adds an integer.
func (o Object) Int(k string, v int64) Object { return strconv.AppendInt(o.key(k), v, 10) }

// Num adds a number in its shortest exact form (no exponent), so that it
// reads back as the same float64.
func (o Object) Num(k string, v float64) Object { return strconv.AppendFloat(o.key(k), v, 'f', -1, 64) }

// Raw adds v, which must be JSON, as it is.
func (o Object) Raw(k string, v []byte) Object { return append(o.key(k), v...) }

// Bytes closes the object: {} when nothing was added.
func (o Object) Bytes() []byte {
	if len(o) == 0 {
		return []byte("{}")
	}
	return append(o, '}')
}
