package config

import (
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"time"
)

// DefaultText is the default of the setting key as a YAML value: what
// `vigil -h` shows and what vigil.example.yaml holds. It reads Default(),
// so help, the example file and the defaults cannot disagree.
func DefaultText(key string) string {
	v, ok := fieldByKey(reflect.ValueOf(Default()), key)
	if !ok {
		panic("config: no field for setting " + key) // TestEverySettingHasAField keeps this unreachable
	}
	switch x := v.Interface().(type) {
	case []string: // a comma-separated list in every source
		return strconv.Quote(strings.Join(x, ","))
	case time.Duration:
		return x.String()
	case Secret:
		return `""` // defaults hold no secrets; never reveal one
	case int64:
		return sizeText(x)
	}
	switch v.Kind() {
	case reflect.String:
		return strconv.Quote(v.String())
	case reflect.Slice: // oauth_clients: a YAML list; none by default
		if v.Len() == 0 {
			return "[]"
		}
	}
	return fmt.Sprint(v.Interface())
}

// sizeText writes a byte count with the largest exact binary suffix.
func sizeText(n int64) string {
	for _, u := range []struct {
		suffix string
		m      int64
	}{{"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}} {
		if n != 0 && n%u.m == 0 {
			return strconv.FormatInt(n/u.m, 10) + u.suffix
		}
	}
	return strconv.FormatInt(n, 10)
}

// fieldByKey finds the Config field whose yaml tag is key.
func fieldByKey(c reflect.Value, key string) (reflect.Value, bool) {
	t := c.Type()
	for i := range t.NumField() {
		if name, _, _ := strings.Cut(t.Field(i).Tag.Get("yaml"), ","); name == key {
			return c.Field(i), true
		}
	}
	return reflect.Value{}, false
}
