// Package config holds the plugin's System Console settings: decoding them tolerantly, validating them with
// messages an administrator can act on, resolving the Microsoft cloud endpoints they select, generating the
// secrets the plugin owns, and telling the plugin which parts of itself a settings change invalidates.
package config

import (
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"strconv"
	"strings"

	"github.com/pkg/errors"
)

// Cloud names, as stored by the "Microsoft cloud" dropdown in plugin.json.
const (
	CloudCommercial = "commercial"
	CloudGCCHigh    = "gcchigh"
	CloudDoD        = "dod"
	CloudChina      = "china"
	CloudCustom     = "custom"
)

// Configuration mirrors the settings_schema keys of plugin.json. Settings of type "custom" (the whitelist upload
// and the report download) carry no value and are not represented.
type Configuration struct {
	TenantID     string
	ClientID     string
	ClientSecret string

	Cloud               string
	CustomAuthorityURL  string
	CustomGraphURL      string
	CustomCACertificate string

	EncryptionKey string
	WebhookSecret string

	EvaluationAPI     bool
	SyncNotifications bool
	RichNotifications bool
	// ChannelNotifications subscribes to Teams channel messages as well (issue 17). Off by default: it needs the
	// application permission ChannelMessage.Read.All, which many tenants have not granted.
	ChannelNotifications bool

	ConnectedUsersAllowed           int
	ConnectedUsersMaxPendingInvites int
	InviteExpiryDays                int
	ConnectedUsersRestricted        bool
	AllowProxyAddresses             bool

	// undecodable lists (space-separated) the keys whose stored value could not be read as the field's type, so
	// Validate can name them instead of the plugin silently running with a zero. A string, not a slice, keeps
	// Configuration comparable with ==.
	undecodable string
}

// Defaults returns the defaults declared in plugin.json. Mattermost fills missing keys from the manifest before
// handing the settings over, so this matters only for callers that decode a partial map themselves.
func Defaults() Configuration {
	return Configuration{
		Cloud:                 CloudCommercial,
		SyncNotifications:     true,
		RichNotifications:     true,
		ConnectedUsersAllowed: 1000,
		InviteExpiryDays:      7,
	}
}

// UnmarshalJSON decodes the settings map Mattermost delivers (LoadPluginConfiguration hands the plugin JSON
// with lower-cased keys). It is deliberately forgiving: the System Console and config.json edits deliver numbers
// as JSON numbers, floats or strings and booleans as strings, and a plain json.Unmarshal would abort on the first
// such value and leave the rest of the struct half-filled. Keys match case-insensitively; unknown keys are ignored;
// fields whose key is absent keep their current value.
func (c *Configuration) UnmarshalJSON(data []byte) error {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(data, &raw); err != nil {
		return errors.Wrap(err, "decode plugin settings")
	}
	byLowerKey := make(map[string]json.RawMessage, len(raw))
	for k, v := range raw {
		byLowerKey[strings.ToLower(k)] = v
	}

	c.undecodable = ""
	v := reflect.ValueOf(c).Elem()
	t := v.Type()
	for i := 0; i < t.NumField(); i++ {
		field := t.Field(i)
		if !field.IsExported() {
			continue
		}
		value, ok := byLowerKey[strings.ToLower(field.Name)]
		if !ok {
			continue
		}
		if err := decodeTolerant(value, v.Field(i)); err != nil {
			c.undecodable = strings.TrimSpace(c.undecodable + " " + field.Name)
		}
	}
	return nil
}

// FromMap decodes the map returned by the plugin API's GetPluginConfig on top of Defaults().
func FromMap(m map[string]any) (Configuration, error) {
	cfg := Defaults()
	data, err := json.Marshal(m)
	if err != nil {
		return cfg, errors.Wrap(err, "encode plugin settings")
	}
	if err := json.Unmarshal(data, &cfg); err != nil {
		return cfg, err
	}
	return cfg, nil
}

// ToMap returns the settings as the map SavePluginConfig expects, with the plugin.json keys.
func (c Configuration) ToMap() map[string]any {
	out := map[string]any{}
	v := reflect.ValueOf(c)
	t := v.Type()
	for i := 0; i < t.NumField(); i++ {
		if !t.Field(i).IsExported() {
			continue
		}
		out[t.Field(i).Name] = v.Field(i).Interface()
	}
	return out
}

func decodeTolerant(raw json.RawMessage, dst reflect.Value) error {
	var value any
	if err := json.Unmarshal(raw, &value); err != nil {
		return err
	}
	switch dst.Kind() {
	case reflect.String:
		switch x := value.(type) {
		case nil:
			dst.SetString("")
		case string:
			dst.SetString(x)
		case float64:
			dst.SetString(strconv.FormatFloat(x, 'f', -1, 64))
		case bool:
			dst.SetString(strconv.FormatBool(x))
		default:
			return errors.New("not a string")
		}
	case reflect.Bool:
		switch x := value.(type) {
		case nil:
			dst.SetBool(false)
		case bool:
			dst.SetBool(x)
		case string:
			if strings.TrimSpace(x) == "" {
				dst.SetBool(false)
				return nil
			}
			b, err := strconv.ParseBool(strings.TrimSpace(x))
			if err != nil {
				return err
			}
			dst.SetBool(b)
		case float64:
			dst.SetBool(x != 0)
		default:
			return errors.New("not a boolean")
		}
	case reflect.Int:
		var f float64
		switch x := value.(type) {
		case nil:
			f = 0
		case float64:
			f = x
		case string:
			s := strings.TrimSpace(x)
			if s == "" {
				f = 0
				break
			}
			parsed, err := strconv.ParseFloat(s, 64)
			if err != nil {
				return err
			}
			f = parsed
		default:
			return errors.New("not a number")
		}
		if f != math.Trunc(f) || math.IsInf(f, 0) || math.IsNaN(f) || math.Abs(f) > math.MaxInt32 {
			return errors.New("not a whole number")
		}
		dst.SetInt(int64(f))
	default:
		return fmt.Errorf("unsupported field kind %s", dst.Kind())
	}
	return nil
}
