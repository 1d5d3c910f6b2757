{{/* The chart's name, or nameOverride. */}}
{{- define "oauthd.name" -}}
{{- .Values.nameOverride | default .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/*
The objects' base name: fullnameOverride, else the release name when it
already says the chart's name ("oauthd", "oauthd-prod"), else
"<release>-<name>".
*/}}
{{- define "oauthd.fullname" -}}
{{- $name := include "oauthd.name" . -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else if hasPrefix $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "oauthd.namespace" -}}
{{- .Values.namespace.name | default .Release.Namespace -}}
{{- end -}}

{{/* Labels that pick oauthd's pods: the Deployment's, Services' and PDB's selectors. */}}
{{- define "oauthd.selectorLabels" -}}
app.kubernetes.io/name: {{ include "oauthd.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{/* The example SMS API's: a name of its own, so oauthd's selectors never pick it. */}}
{{- define "oauthd.smsApiSelectorLabels" -}}
app.kubernetes.io/name: sms-api
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "oauthd.commonLabels" -}}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/part-of: oauthd
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{- end -}}

{{- define "oauthd.labels" -}}
{{ include "oauthd.selectorLabels" . }}
{{ include "oauthd.commonLabels" . }}
{{- end -}}

{{- define "oauthd.smsApiLabels" -}}
{{ include "oauthd.smsApiSelectorLabels" . }}
{{ include "oauthd.commonLabels" . }}
app.kubernetes.io/component: sms-api
{{- end -}}

{{/*
An image reference: repository:tag, and @digest when one is given. The tag
defaults to the chart's appVersion; "latest" is refused, since a pod
rescheduled later would run other code than its siblings.
Called with (dict "image" .Values.image "root" .).
*/}}
{{- define "oauthd.image" -}}
{{- $tag := .image.tag | default .root.Chart.AppVersion | toString -}}
{{- if or (eq $tag "latest") (eq $tag "") -}}
{{- fail (printf "image %s: pin a release tag (and optionally a digest), not %q" .image.repository $tag) -}}
{{- end -}}
{{- .image.repository }}:{{ $tag }}{{ with .image.digest }}@{{ . }}{{ end -}}
{{- end -}}

{{/* Where every mounted secret file lives in oauthd's container. */}}
{{- define "oauthd.secretDir" -}}/var/run/secrets/oauthd{{- end -}}

{{/*
Secret items: where each comes from. An existing Secret wins over a value
put in the chart's Secret. Each yields "name key" or nothing.
*/}}
{{- define "oauthd.secretRef" -}}
{{- $ref := index . 0 -}}{{- $inline := index . 1 -}}{{- $chartKey := index . 2 -}}{{- $root := index . 3 -}}
{{- if $ref.name -}}
{{ $ref.name }} {{ $ref.key }}
{{- else if $inline -}}
{{ include "oauthd.fullname" $root }} {{ $chartKey }}
{{- end -}}
{{- end -}}

{{- define "oauthd.adminKeyRef" -}}
{{- include "oauthd.secretRef" (list .Values.admin.existingSecret .Values.admin.keySha256 "OAUTHD_ADMIN_KEY_SHA256" .) -}}
{{- end -}}
{{- define "oauthd.redisPasswordRef" -}}
{{- include "oauthd.secretRef" (list .Values.redis.existingSecret .Values.redis.password "redis-password" .) -}}
{{- end -}}
{{- define "oauthd.sentinelPasswordRef" -}}
{{- include "oauthd.secretRef" (list .Values.redis.sentinel.existingSecret .Values.redis.sentinel.password "sentinel-password" .) -}}
{{- end -}}
{{- define "oauthd.sealingKeyRef" -}}
{{- include "oauthd.secretRef" (list .Values.jwt.existingSecret .Values.jwt.sealingKey "jwt-sealing-key" .) -}}
{{- end -}}

{{/* The listeners' TLS Secret, when TLS is on. */}}
{{- define "oauthd.tlsSecret" -}}
{{- if .Values.tls.enabled -}}
{{- if .Values.tls.existingSecret -}}
{{ .Values.tls.existingSecret }}
{{- else if and .Values.tls.cert .Values.tls.key -}}
{{ include "oauthd.fullname" . }}-tls
{{- else -}}
{{- fail "tls.enabled: name a kubernetes.io/tls Secret in tls.existingSecret, or give tls.cert and tls.key" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* "https" with TLS on the listeners, else "http". */}}
{{- define "oauthd.scheme" -}}
{{- if .Values.tls.enabled -}}https{{- else -}}http{{- end -}}
{{- end -}}

{{/*
The OTEL_* variables that turn OpenTelemetry tracing on (cmd/internal/tracing
reads them), for oauthd and the SMS API alike; none while otel.endpoint is
empty.
*/}}
{{- define "oauthd.otelEnv" -}}
{{- $o := .Values.otel -}}
{{- if $o.endpoint -}}
{{- $env := dict "OTEL_EXPORTER_OTLP_ENDPOINT" $o.endpoint "OTEL_TRACES_SAMPLER" $o.sampler -}}
{{- with $o.samplerArg }}{{ $_ := set $env "OTEL_TRACES_SAMPLER_ARG" . }}{{ end -}}
{{- with $o.resourceAttributes }}{{ $_ := set $env "OTEL_RESOURCE_ATTRIBUTES" . }}{{ end -}}
{{- toYaml $env -}}
{{- end -}}
{{- end -}}

{{/*
The ConfigMap's data: every OAUTHD_* variable that is not a secret, and the
OTEL_* ones. Keys are
oauthd's settings (cmd/oauthd/config.go); the environment variable is
OAUTHD_ and the key upper-cased with '.' as '_'.
*/}}
{{- define "oauthd.env" -}}
{{- $dir := include "oauthd.secretDir" . -}}
{{- $r := .Values.redis -}}
{{- $env := dict -}}
{{- $modes := 0 -}}
{{- if $r.url -}}
{{- $modes = add1 $modes -}}
{{- if regexMatch "^rediss?://[^/@]*:[^/@]*@" $r.url -}}
{{- fail "redis.url holds a password, which would land in a ConfigMap: give it in redis.password or redis.existingSecret" -}}
{{- end -}}
{{- $_ := set $env "OAUTHD_REDIS_URL" $r.url -}}
{{- end -}}
{{- if $r.sentinel.master -}}
{{- $modes = add1 $modes -}}
{{- if not $r.sentinel.addrs -}}
{{- fail "redis.sentinel.master needs redis.sentinel.addrs" -}}
{{- end -}}
{{- $_ := set $env "OAUTHD_REDIS_SENTINEL_MASTER" $r.sentinel.master -}}
{{- $_ := set $env "OAUTHD_REDIS_SENTINEL_ADDRS" (join "," $r.sentinel.addrs) -}}
{{- end -}}
{{- if $r.cluster.addrs -}}
{{- $modes = add1 $modes -}}
{{- $_ := set $env "OAUTHD_REDIS_CLUSTER_ADDRS" (join "," $r.cluster.addrs) -}}
{{- end -}}
{{- if ne $modes 1 -}}
{{- fail (printf "give exactly one of redis.url, redis.sentinel.master or redis.cluster.addrs (%d given): without Redis each replica would keep tokens of its own" $modes) -}}
{{- end -}}
{{- with $r.username }}{{ $_ := set $env "OAUTHD_REDIS_USERNAME" . }}{{ end -}}
{{- with $r.prefix }}{{ $_ := set $env "OAUTHD_REDIS_PREFIX" . }}{{ end -}}
{{- if include "oauthd.redisPasswordRef" . -}}
{{- $_ := set $env "OAUTHD_REDIS_PASSWORD_FILE" (printf "%s/redis-password" $dir) -}}
{{- end -}}
{{- if $r.tls.enabled -}}
{{- $_ := set $env "OAUTHD_REDIS_TLS_ENABLED" "true" -}}
{{- if $r.tls.existingSecret -}}
{{- $_ := set $env "OAUTHD_REDIS_TLS_CA_FILE" (printf "%s/redis-tls/ca.crt" $dir) -}}
{{- if $r.tls.clientCertificate -}}
{{- $_ := set $env "OAUTHD_REDIS_TLS_CERT_FILE" (printf "%s/redis-tls/tls.crt" $dir) -}}
{{- $_ := set $env "OAUTHD_REDIS_TLS_KEY_FILE" (printf "%s/redis-tls/tls.key" $dir) -}}
{{- end -}}
{{- else if $r.tls.clientCertificate -}}
{{- fail "redis.tls.clientCertificate needs redis.tls.existingSecret (with tls.crt and tls.key)" -}}
{{- end -}}
{{- end -}}
{{- if include "oauthd.tlsSecret" . -}}
{{- $_ := set $env "OAUTHD_TLS_CERT_FILE" (printf "%s/tls/tls.crt" $dir) -}}
{{- $_ := set $env "OAUTHD_TLS_KEY_FILE" (printf "%s/tls/tls.key" $dir) -}}
{{- end -}}
{{- if include "oauthd.sealingKeyRef" . -}}
{{- $_ := set $env "OAUTHD_JWT_SEALING_KEY_FILE" (printf "%s/jwt-sealing-key" $dir) -}}
{{- end -}}
{{- $_ := set $env "OAUTHD_ISSUER" (required "issuer: oauthd's public base URL, e.g. https://auth.example.com" .Values.issuer) -}}
{{- $_ := set $env "OAUTHD_HTTP_ADDR" (printf ":%d" (int .Values.http.port)) -}}
{{- $_ := set $env "OAUTHD_ADMIN_ADDR" (printf ":%d" (int .Values.admin.port)) -}}
{{- $_ := set $env "OAUTHD_LOG_FORMAT" .Values.log.format -}}
{{- $_ := set $env "OAUTHD_SHUTDOWN_TIMEOUT" .Values.shutdownTimeout -}}
{{- $env = merge $env (include "oauthd.otelEnv" . | fromYaml) -}}
{{- range $key, $value := .Values.config -}}
{{- $name := printf "OAUTHD_%s" ($key | replace "." "_" | replace "-" "_" | upper) -}}
{{- if or (hasKey $env $name) (has $key (list "admin.key_sha256" "redis.password" "redis.sentinel.password" "redis.url" "redis.sentinel.master" "redis.sentinel.addrs" "redis.cluster.addrs" "tls.cert_file" "tls.key_file" "jwt.sealing_key_file" "redis.password_file" "admin.addr" "http.addr")) -}}
{{- fail (printf "config.%s: set it through the chart's own value for it (see values.yaml), not config" $key) -}}
{{- end -}}
{{- if kindIs "float64" $value -}}{{- $value = int64 $value -}}{{- end -}}
{{- $_ := set $env $name (toString $value) -}}
{{- end -}}
{{- toYaml $env -}}
{{- end -}}
