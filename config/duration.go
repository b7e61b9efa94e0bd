package config

import (
	"fmt"
	"strconv"
	"time"

	"go.yaml.in/yaml/v3"
)

// String returns the duration as time.Duration writes it, e.g. "1m30s".
func (d Duration) String() string { return time.Duration(d).String() }

// UnmarshalYAML reads a duration written as "90s", "15m", "2h" or "1h30m".
// A bad value is reported as a *yaml.TypeError naming its line, so that
// decoding goes on and every problem is reported at once.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return &yaml.TypeError{Errors: []string{
			fmt.Sprintf("line %d: cannot unmarshal %s into config.Duration", n.Line, n.ShortTag())}}
	}
	v, err := time.ParseDuration(n.Value)
	if err == nil {
		*d = Duration(v)
		return nil
	}
	msg := fmt.Sprintf("%q is not a duration; write a number and a unit, such as 90s, 15m or 2h", n.Value)
	if _, nerr := strconv.ParseFloat(n.Value, 64); nerr == nil {
		msg = fmt.Sprintf("%q has no unit; write %ss for seconds (or %sm, %sh)", n.Value, n.Value, n.Value, n.Value)
	}
	return &yaml.TypeError{Errors: []string{fmt.Sprintf("line %d: %s", n.Line, msg)}}
}

// MarshalYAML writes the duration as UnmarshalYAML reads it.
func (d Duration) MarshalYAML() (any, error) { return d.String(), nil }
