{{/*
TOML rendering of a map (berth.toml from the `config` values).

berth.toml.table, given (dict "path" LIST "map" MAP), writes the map's
scalars and arrays as `key = value` lines, then each sub-map as a
`[path.key]` table, recursively. Arrays (of tables too) are written inline.
Null values are left out (Berth's default applies); a table holding only
tables gets no header of its own. Strings are written with
toJson: a JSON string is a valid TOML basic string.
*/}}

{{- define "berth.toml.table" -}}
{{- $path := .path }}
{{- range $k, $v := .map }}
{{- if not (or (kindIs "map" $v) (kindIs "invalid" $v)) }}
{{ include "berth.toml.key" $k }} = {{ include "berth.toml.inline" $v }}
{{- end }}
{{- end }}
{{- range $k, $v := .map }}
{{- if kindIs "map" $v }}
{{- $sub := append $path $k }}
{{- $tablesOnly := true }}
{{- range $v }}{{ if not (kindIs "map" .) }}{{ $tablesOnly = false }}{{ end }}{{ end }}
{{- if or (not $v) (not $tablesOnly) }}

[{{ include "berth.toml.path" $sub }}]
{{- end }}
{{- include "berth.toml.table" (dict "path" $sub "map" $v) }}
{{- end }}
{{- end }}
{{- end }}

{{/* A value written inline: a scalar, an array or an inline table. */}}
{{- define "berth.toml.inline" -}}
{{- if kindIs "map" . -}}
{ {{- $first := true }}
{{- range $k, $v := . }}
{{- if not (kindIs "invalid" $v) }}
{{- if not $first }},{{ end }}
{{- $first = false }} {{ include "berth.toml.key" $k }} = {{ include "berth.toml.inline" $v }}
{{- end }}
{{- end }} }
{{- else if kindIs "slice" . -}}
[{{ range $i, $v := . }}{{ if $i }}, {{ end }}{{ include "berth.toml.inline" $v }}{{ end }}]
{{- else -}}
{{ toJson . }}
{{- end -}}
{{- end }}

{{/* A key: bare when TOML allows it, else quoted. */}}
{{- define "berth.toml.key" -}}
{{- if regexMatch "^[A-Za-z0-9_-]+$" . }}{{ . }}{{ else }}{{ toJson . }}{{ end }}
{{- end }}

{{/* A table header's dotted path. */}}
{{- define "berth.toml.path" -}}
{{- $parts := list }}
{{- range . }}{{ $parts = append $parts (include "berth.toml.key" .) }}{{ end }}
{{- join "." $parts }}
{{- end }}
