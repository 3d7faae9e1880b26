{{/*
The enabled services, as a list of resolved service dicts (see "enrs.service"), in name order.
Templates loop over it: {{- range $svc := include "enrs.services" . | fromYaml | dig "items" list }}
*/}}
{{- define "enrs.services" -}}
{{- include "enrs.requiredGlobals" . -}}
{{- $items := list -}}
{{- range $name := keys .Values.services | sortAlpha -}}
{{- if (index $.Values.services $name).enabled -}}
{{- $items = append $items (include "enrs.service" (dict "root" $ "name" $name) | fromYaml) -}}
{{- end -}}
{{- end -}}
{{- toYaml (dict "items" $items) -}}
{{- end -}}

{{/* The global values without which nothing can run: rendering stops naming the first missing. */}}
{{- define "enrs.requiredGlobals" -}}
{{- $_ := required "global.image.registry: the registry the ENRS images were pushed to" .Values.global.image.registry -}}
{{- $_ := required "global.oidcIssuer: identity's public URL, the issuer of every token" .Values.global.oidcIssuer -}}
{{- $_ := required "global.kafkaBootstrapServers: the Kafka brokers, host:port comma-separated" .Values.global.kafkaBootstrapServers -}}
{{- end -}}

{{/*
One service's settings: serviceDefaults overridden by the service's entry, plus derived names.
Booleans are read from the service's own entry, since a merge cannot override a default with
false.
*/}}
{{- define "enrs.service" -}}
{{- $root := .root -}}
{{- $raw := index $root.Values.services .name -}}
{{- $svc := mergeOverwrite (deepCopy $root.Values.serviceDefaults) (deepCopy $raw) -}}
{{- $dashed := .name | replace "_" "-" -}}
{{- $_ := set $svc "package" .name -}}
{{- $_ := set $svc "name" $dashed -}}
{{- $_ := set $svc "fullname" (printf "%s-%s" $root.Release.Name $dashed | trunc 52 | trimSuffix "-") -}}
{{- $_ := set $svc "workerEnabled" (dig "worker" "enabled" true $raw) -}}
{{- $_ := set $svc "ingressEnabled" (dig "ingress" "enabled" false $raw) -}}
{{- $_ := set $svc "existingSecret" (required (printf "services.%s.existingSecret: the name of an existing Secret holding %s's secrets (docs/kubernetes.md)" .name .name) $raw.existingSecret) -}}
{{- $publicUrl := $raw.publicUrl -}}
{{- if and (not $publicUrl) (eq .name "identity") -}}
{{- $publicUrl = $root.Values.global.oidcIssuer -}}
{{- end -}}
{{- $_ := set $svc "publicUrl" (required (printf "services.%s.publicUrl: the address browsers use for %s (https://...)" .name .name) $publicUrl) -}}
{{- $registry := required "global.image.registry: the registry the ENRS images were pushed to" $root.Values.global.image.registry -}}
{{- $tag := $root.Values.global.image.tag | default $root.Chart.AppVersion -}}
{{- $_ := set $svc "image" (printf "%s/enrs/%s:%s" (trimSuffix "/" $registry) $dashed $tag) -}}
{{- toYaml $svc -}}
{{- end -}}

{{/* Labels of everything the chart renders for a service; args: root, svc, component. */}}
{{- define "enrs.labels" -}}
{{ include "enrs.selectorLabels" . }}
app.kubernetes.io/part-of: enrs
app.kubernetes.io/version: {{ .root.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .root.Chart.Name .root.Chart.Version }}
{{- end -}}

{{/* Labels that select a service's pods of one component (web, worker, migrate). */}}
{{- define "enrs.selectorLabels" -}}
app.kubernetes.io/name: {{ .svc.name }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{/*
The service's non-secret environment, as a dict: global settings, derived addresses, then the
service's own `config`. Rendered into its ConfigMap and into its migration Job (which runs
before the ConfigMap exists on a first install).
*/}}
{{- define "enrs.config" -}}
{{- $root := .root -}}
{{- $svc := .svc -}}
{{- $global := $root.Values.global -}}
{{- $env := dict -}}
{{- range $key, $value := $global.config -}}
{{- $_ := set $env $key (toString $value) -}}
{{- end -}}
{{- $_ := set $env "OIDC_ISSUER" (required "global.oidcIssuer: identity's public URL, the issuer of every token" $global.oidcIssuer) -}}
{{- $_ := set $env "OIDC_AUDIENCE" $global.oidcAudience -}}
{{- $_ := set $env "KAFKA_BOOTSTRAP_SERVERS" (required "global.kafkaBootstrapServers: the Kafka brokers, host:port comma-separated" $global.kafkaBootstrapServers) -}}
{{- $_ := set $env "LOG_LEVEL" $global.logLevel -}}
{{- $_ := set $env "ENRS_PUBLIC_URL" $svc.publicUrl -}}
{{- $_ := set $env "GUNICORN_WORKERS" (toString $svc.web.gunicornWorkers) -}}
{{- $_ := set $env "GUNICORN_THREADS" (toString $svc.web.gunicornThreads) -}}
{{- $_ := set $env "GUNICORN_WORKER_CLASS" (ternary "gthread" "sync" (gt (int $svc.web.gunicornThreads) 1)) -}}
{{- $_ := set $env "MIGRATE_AT_START" (ternary "false" "true" $global.migrationJob.enabled) -}}
{{- $_ := set $env "PYTHONDONTWRITEBYTECODE" "1" -}}
{{- if $svc.importVolume -}}
{{- $_ := set $env "IMPORT_DIR" "/var/lib/enrs/imports" -}}
{{- end -}}
{{- /* In-cluster addresses of the other services (the portal's backends, identity's JWKS). */ -}}
{{- range $name, $other := $root.Values.services -}}
{{- if and $other.enabled (ne $name $svc.package) -}}
{{- $address := printf "http://%s:8000" (printf "%s-%s" $root.Release.Name ($name | replace "_" "-") | trunc 52 | trimSuffix "-") -}}
{{- if eq $svc.package "portal" -}}
{{- $_ := set $env (printf "%s_URL" (upper $name)) $address -}}
{{- end -}}
{{- if eq $name "identity" -}}
{{- $_ := set $env "OIDC_JWKS_URL" (printf "%s/jwks.json" $address) -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- range $key, $value := $svc.config -}}
{{- $_ := set $env $key (toString $value) -}}
{{- end -}}
{{- toYaml $env -}}
{{- end -}}

{{/* Container security context: no root, no privilege, read-only image, no capability. */}}
{{- define "enrs.containerSecurityContext" -}}
runAsNonRoot: true
runAsUser: {{ .Values.global.runAsUser }}
runAsGroup: {{ .Values.global.runAsGroup }}
allowPrivilegeEscalation: false
privileged: false
readOnlyRootFilesystem: true
capabilities:
  drop: ["ALL"]
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{/* Pod security context. */}}
{{- define "enrs.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: {{ .Values.global.runAsUser }}
runAsGroup: {{ .Values.global.runAsGroup }}
fsGroup: {{ .Values.global.runAsGroup }}
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{/* Secret files: NAME_FILE variables pointing into the mounted Secret; args: svc. */}}
{{- define "enrs.secretEnv" -}}
{{- range $variable, $key := .svc.secretFiles }}
- name: {{ $variable }}_FILE
  value: /run/secrets/enrs/{{ $key }}
{{- end }}
{{- end -}}

{{/* The Secret volume: only the keys the service uses, readable by its user and group only. */}}
{{- define "enrs.secretVolume" -}}
- name: secrets
  secret:
    secretName: {{ .svc.existingSecret }}
    defaultMode: 0440
    items:
    {{- range $variable, $key := .svc.secretFiles }}
      - key: {{ $key }}
        path: {{ $key }}
    {{- end }}
{{- end -}}

{{/* Image pull secrets of every pod. */}}
{{- define "enrs.imagePullSecrets" -}}
{{- with .Values.global.imagePullSecrets }}
imagePullSecrets:
{{- range . }}
  - name: {{ . }}
{{- end }}
{{- end }}
{{- end -}}

{{/*
The pod spec shared by web, worker and migration pods; args: root, svc, component, args
(the entrypoint's argument list), process (svc.web or svc.worker), web (bool: port and probes).
*/}}
{{- define "enrs.podSpec" -}}
{{- $svc := .svc -}}
serviceAccountName: {{ if eq .component "migrate" }}default{{ else }}{{ $svc.fullname }}{{ end }}
automountServiceAccountToken: false
enableServiceLinks: false
securityContext:
  {{- include "enrs.podSecurityContext" .root | nindent 2 }}
{{- include "enrs.imagePullSecrets" .root }}
{{- with $svc.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with $svc.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- if .web }}
affinity:
  podAntiAffinity:
    # Web replicas on different nodes when the cluster allows it.
    preferredDuringSchedulingIgnoredDuringExecution:
      - weight: 100
        podAffinityTerm:
          topologyKey: kubernetes.io/hostname
          labelSelector:
            matchLabels:
              {{- include "enrs.selectorLabels" . | nindent 14 }}
{{- end }}
containers:
  - name: {{ .component }}
    image: {{ $svc.image }}
    imagePullPolicy: {{ .root.Values.global.image.pullPolicy }}
    args: {{ toJson .args }}
    {{- if eq .component "migrate" }}
    env:
      {{- range $key, $value := include "enrs.config" . | fromYaml }}
      - name: {{ $key }}
        value: {{ $value | quote }}
      {{- end }}
      {{- include "enrs.secretEnv" . | trim | nindent 6 }}
      {{- if not .web }}
      # Metrics are served by web pods only: this process keeps them in memory rather than in
      # files under /tmp/prometheus, which only the web entrypoint creates.
      - name: PROMETHEUS_MULTIPROC_DIR
        value: ""
      {{- end }}
    {{- else }}
    envFrom:
      - configMapRef:
          name: {{ $svc.fullname }}
    env:
      {{- include "enrs.secretEnv" . | trim | nindent 6 }}
      {{- if not .web }}
      # Metrics are served by web pods only: this process keeps them in memory rather than in
      # files under /tmp/prometheus, which only the web entrypoint creates.
      - name: PROMETHEUS_MULTIPROC_DIR
        value: ""
      {{- end }}
    {{- end }}
    {{- if .web }}
    ports:
      - name: http
        containerPort: 8000
        protocol: TCP
    startupProbe:
      httpGet: { path: /healthz, port: http }
      periodSeconds: 2
      failureThreshold: 30
    livenessProbe:
      httpGet: { path: /healthz, port: http }
      periodSeconds: 10
      timeoutSeconds: 3
      failureThreshold: 3
    readinessProbe:
      httpGet: { path: /readyz, port: http }
      periodSeconds: 5
      timeoutSeconds: 3
      failureThreshold: 2
    {{- end }}
    resources:
      {{- toYaml .process.resources | nindent 6 }}
    securityContext:
      {{- include "enrs.containerSecurityContext" .root | nindent 6 }}
    volumeMounts:
      - name: tmp
        mountPath: /tmp
      - name: secrets
        mountPath: /run/secrets/enrs
        readOnly: true
      {{- if and $svc.importVolume (ne .component "migrate") }}
      - name: imports
        mountPath: /var/lib/enrs/imports
      {{- end }}
volumes:
  # The only writable folder besides the import volume: metrics files, upload spooling.
  - name: tmp
    emptyDir:
      sizeLimit: {{ .process.tmpSizeLimit | default "256Mi" }}
  {{- include "enrs.secretVolume" . | nindent 2 }}
  {{- if and $svc.importVolume (ne .component "migrate") }}
  - name: imports
    persistentVolumeClaim:
      claimName: {{ $svc.importVolume.existingClaim | default (printf "%s-imports" $svc.fullname) }}
  {{- end }}
{{- end -}}

{{/* Annotations of a pod: the service's own, and a checksum that restarts it on a config change. */}}
{{- define "enrs.podAnnotations" -}}
checksum/config: {{ include "enrs.config" . | sha256sum }}
{{- with .svc.podAnnotations }}
{{ toYaml . }}
{{- end }}
{{- end -}}
