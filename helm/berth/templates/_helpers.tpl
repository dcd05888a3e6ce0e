{{/* Names, labels and the derived settings every template shares. */}}

{{- define "berth.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "berth.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "berth.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "berth.labels" -}}
helm.sh/chart: {{ include "berth.chart" . }}
{{ include "berth.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{- define "berth.selectorLabels" -}}
app.kubernetes.io/name: {{ include "berth.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "berth.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "berth.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* The container port: the port of config.listen. */}}
{{- define "berth.port" -}}
{{- regexFind "[0-9]+$" .Values.config.listen }}
{{- end }}

{{/* The namespace of session Pods ("" unless backend kubernetes). */}}
{{- define "berth.sessionsNamespace" -}}
{{- if eq (include "berth.backend" .) "kubernetes" }}
{{- dig "kubernetes" "namespace" "" .Values.config }}
{{- end }}
{{- end }}

{{- define "berth.backend" -}}
{{- get .Values.config "backend" | default "process" }}
{{- end }}

{{- define "berth.storeUrl" -}}
{{- dig "store" "url" "memory" .Values.config | default "memory" }}
{{- end }}

{{/* "true" when Berth logs in to Vault with the ServiceAccount token. */}}
{{- define "berth.vaultKubernetesAuth" -}}
{{- if and (dig "vault" "address" "" .Values.config) (eq (dig "vault" "auth" "approle" .Values.config) "kubernetes") }}true{{ end }}
{{- end }}

{{/* "true" when the pod needs its ServiceAccount token mounted. */}}
{{- define "berth.automountToken" -}}
{{- if or (eq (include "berth.backend" .) "kubernetes") (include "berth.vaultKubernetesAuth" .) }}true{{ end }}
{{- end }}

{{/*
The public base URL: config.public_url, else the first Ingress host, else
the Service's in-cluster URL.
*/}}
{{- define "berth.publicUrl" -}}
{{- if get .Values.config "public_url" }}
{{- get .Values.config "public_url" }}
{{- else if and .Values.ingress.enabled .Values.ingress.hosts }}
{{- $host := (first .Values.ingress.hosts).host }}
{{- $tls := false }}
{{- range .Values.ingress.tls }}{{ if has $host .hosts }}{{ $tls = true }}{{ end }}{{ end }}
{{- printf "%s://%s" (ternary "https" "http" $tls) $host }}
{{- else }}
{{- $svc := printf "%s.%s.svc" (include "berth.fullname" .) .Release.Namespace }}
{{- if eq (int .Values.service.port) 80 }}
{{- printf "http://%s" $svc }}
{{- else }}
{{- printf "http://%s:%d" $svc (int .Values.service.port) }}
{{- end }}
{{- end }}
{{- end }}

{{/*
berth.toml as a map: .Values.config plus what the chart derives (JSON;
read it with fromJson): public_url, cluster.handoff_on_shutdown with a
shared store, and security.allowed_hosts += the Service's in-cluster names
and the loopback names `kubectl port-forward` sends.
*/}}
{{- define "berth.config" -}}
{{- $c := deepCopy .Values.config }}
{{- $_ := set $c "public_url" (include "berth.publicUrl" .) }}
{{- if ne (include "berth.storeUrl" .) "memory" }}
{{- $cluster := default dict (get $c "cluster") }}
{{- if not (hasKey $cluster "handoff_on_shutdown") }}
{{- $_ := set $cluster "handoff_on_shutdown" true }}
{{- end }}
{{- $_ := set $c "cluster" $cluster }}
{{- end }}
{{- /* In-cluster names of the Service, and loopback for port-forward. */}}
{{- $svc := include "berth.fullname" . }}
{{- $hosts := list $svc (printf "%s.%s" $svc .Release.Namespace) (printf "%s.%s.svc" $svc .Release.Namespace) (printf "%s.%s.svc.cluster.local" $svc .Release.Namespace) "localhost" "127.0.0.1" }}
{{- $security := default dict (get $c "security") }}
{{- $_ := set $security "allowed_hosts" (concat (default list (get $security "allowed_hosts")) $hosts | uniq) }}
{{- $_ := set $c "security" $security }}
{{- toJson $c }}
{{- end }}

{{/*
A PodDisruptionBudget bound, given (list .Values.podDisruptionBudget KEY):
a number, a quoted percentage, or "" when unset or null.
*/}}
{{- define "berth.pdbValue" -}}
{{- $pdb := index . 0 }}
{{- $key := index . 1 }}
{{- if hasKey $pdb $key }}
{{- $v := index $pdb $key }}
{{- if kindIs "string" $v }}{{ $v | quote }}
{{- else if not (kindIs "invalid" $v) }}{{ int $v }}
{{- end }}
{{- end }}
{{- end }}
