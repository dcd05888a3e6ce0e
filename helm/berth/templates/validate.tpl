{{/*
Combinations of values that cannot work, refused with a message naming the
fix (values.schema.json checks each value's shape and unknown keys; Berth's
own rules run in `berth check-config`, see scripts/chart-check).
Included once, from the Deployment.
*/}}
{{- define "berth.validate" -}}
{{- $c := .Values.config }}
{{- $backend := include "berth.backend" . }}
{{- $store := include "berth.storeUrl" . }}
{{- $many := or (gt (int .Values.replicaCount) 1) .Values.autoscaling.enabled }}
{{- $pods := ternary "autoscaling.enabled is true" (printf "replicaCount is %d" (int .Values.replicaCount)) .Values.autoscaling.enabled }}

{{- if and $many (not (regexMatch "^rediss?(\\+sentinel|\\+cluster)?://" $store)) }}
{{- fail (printf "config.store.url is %q but %s: several pods need a shared store. Set config.store.url to redis://HOST:6379, redis+sentinel://HOST:26379/MASTER or redis+cluster://HOST:6379,HOST:6379 (rediss… for TLS; password: secrets.storePassword), or use one pod (replicaCount: 1, autoscaling.enabled: false)." $store $pods) }}
{{- end }}

{{- if and $many (eq (dig "auth" "mode" "dev" $c) "dev") }}
{{- fail (printf "config.auth.mode is \"dev\" but %s: the dev issuer's key lives in each pod's own state_dir, so a token minted on one pod is refused by the others. Set config.auth.mode to \"oidc\" (with config.auth.issuer) or \"jwt\", or use one pod." $pods) }}
{{- end }}

{{- if and $many (not (or .Values.secrets.sessionKeys.name (dig "keys" "vault_path" "" $c) (and (dig "keys" "master" "" $c) (dig "keys" "bind" "" $c)))) }}
{{- fail (printf "%s but no shared session keys: each pod would make its own in its state_dir and could not open the others' sessions. Set secrets.sessionKeys.name (an existing Secret with keys %q and %q, each `id:hex64`) or config.keys.vault_path." $pods .Values.secrets.sessionKeys.masterKey .Values.secrets.sessionKeys.bindKey) }}
{{- end }}

{{- if and (eq $backend "kubernetes") (not (dig "kubernetes" "namespace" "" $c)) }}
{{- fail "config.kubernetes.namespace is required with config.backend = \"kubernetes\": the namespace session Pods run in, e.g. berth-sessions (sessions.createNamespace creates it)." }}
{{- end }}

{{- if hasKey $c "pod_name" }}
{{- fail "config.pod_name is set per pod by the chart (BERTH_POD_NAME from the pod's name); remove it from the values." }}
{{- end }}
{{- if dig "cluster" "advertise_url" "" $c }}
{{- fail "config.cluster.advertise_url is set per pod by the chart (http://POD_IP:PORT); remove it from the values." }}
{{- end }}

{{- if and (dig "auth" "introspection" "" $c) (not (dig "auth" "introspection" "client_secret" "" $c)) (not .Values.secrets.introspectionClientSecret.name) }}
{{- fail "config.auth.introspection needs its client secret: set secrets.introspectionClientSecret.name (an existing Secret; key: secrets.introspectionClientSecret.key)." }}
{{- end }}

{{- if dig "vault" "address" "" $c }}
{{- $auth := dig "vault" "auth" "approle" $c }}
{{- if and (eq $auth "approle") (not (or (dig "vault" "secret_id" "" $c) (dig "vault" "secret_id_file" "" $c) .Values.secrets.vaultSecretId.name)) }}
{{- fail "config.vault.auth is \"approle\" but there is no secret id: set secrets.vaultSecretId.name (an existing Secret; key: secrets.vaultSecretId.key), or config.vault.secret_id_file with a volume in extraVolumes." }}
{{- end }}
{{- if and (eq $auth "token") (not (or (dig "vault" "token" "" $c) (dig "vault" "token_file" "" $c) .Values.secrets.vaultToken.name)) }}
{{- fail "config.vault.auth is \"token\" but there is no token: set secrets.vaultToken.name (an existing Secret; key: secrets.vaultToken.key)." }}
{{- end }}
{{- end }}

{{- if eq $backend "kubernetes" }}
{{- range $tenant, $servers := (get $c "servers" | default dict) }}
{{- range $name, $s := $servers }}
{{- $net := dig "network" "" (default dict $s) }}
{{- if and $net (not (hasKey $.Values.sessions.egress $net)) }}
{{- fail (printf "config.servers.%s.%s.network is %q but sessions.egress has no entry %q: add one (a list of NetworkPolicy egress rules) so the chart renders the policy that grants it." $tenant $name $net $net) }}
{{- end }}
{{- end }}
{{- end }}
{{- end }}

{{- if and .Values.autoscaling.enabled (gt (int .Values.autoscaling.minReplicas) (int .Values.autoscaling.maxReplicas)) }}
{{- fail (printf "autoscaling.minReplicas (%d) is above autoscaling.maxReplicas (%d)." (int .Values.autoscaling.minReplicas) (int .Values.autoscaling.maxReplicas)) }}
{{- end }}
{{- if and .Values.podDisruptionBudget.enabled (not (or (include "berth.pdbValue" (list .Values.podDisruptionBudget "minAvailable")) (include "berth.pdbValue" (list .Values.podDisruptionBudget "maxUnavailable")))) }}
{{- fail "podDisruptionBudget.enabled is true: set podDisruptionBudget.minAvailable or maxUnavailable (a number or a percentage)." }}
{{- end }}
{{- with .Values.secrets.storeTls }}
{{- if and .name (not (regexMatch "^rediss(\\+sentinel|\\+cluster)?://" $store)) }}
{{- fail (printf "secrets.storeTls names the Secret %q but config.store.url is %q: its certificates are only used over TLS. Use rediss://HOST:PORT, rediss+sentinel://… or rediss+cluster://…, or unset secrets.storeTls.name." .name $store) }}
{{- end }}
{{- if and .name (not (or .caKey .certKey)) }}
{{- fail "secrets.storeTls names a Secret but neither caKey nor certKey: set caKey (the CA that signs Redis's certificate) and/or certKey and keyKey (a client certificate)" }}
{{- end }}
{{- if and .name (ne (empty .certKey) (empty .keyKey)) }}
{{- fail "secrets.storeTls: certKey and keyKey go together (a client certificate and its private key)" }}
{{- end }}
{{- end }}
{{- end }}
