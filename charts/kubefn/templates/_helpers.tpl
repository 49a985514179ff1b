{{/* The chart name, "kubefn" unless overridden. */}}
{{- define "kubefn.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* The prefix of every resource name: the release name, with the chart name unless it holds it. */}}
{{- define "kubefn.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 50 | trimSuffix "-" }}
{{- else }}
{{- $name := include "kubefn.name" . }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 50 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 50 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "kubefn.operatorName" -}}{{ include "kubefn.fullname" . }}-operator{{- end }}
{{- define "kubefn.gatewayName" -}}{{ include "kubefn.fullname" . }}-gateway{{- end }}
{{- define "kubefn.dispatcherName" -}}{{ include "kubefn.fullname" . }}-dispatcher{{- end }}
{{- define "kubefn.keysSecretName" -}}
{{- default (printf "%s-gateway-keys" (include "kubefn.fullname" .)) .Values.gateway.keys.secretName }}
{{- end }}

{{/* host:port of the operator's stats stream, as replicas in any namespace dial it. */}}
{{- define "kubefn.statsAddress" -}}
{{- printf "%s.%s.svc.%s:%d" (include "kubefn.operatorName" .) .Release.Namespace .Values.clusterDomain (int .Values.operator.statsPort) }}
{{- end }}

{{- define "kubefn.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
app.kubernetes.io/name: {{ include "kubefn.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: kubefn
{{- end }}

{{/* Selector labels of one component: include with (list . "operator"). */}}
{{- define "kubefn.selectorLabels" -}}
{{- $root := index . 0 }}
app.kubernetes.io/name: {{ include "kubefn.name" $root }}
app.kubernetes.io/instance: {{ $root.Release.Name }}
app.kubernetes.io/component: {{ index . 1 }}
{{- end }}

{{/* repository:tag of an image value, the tag defaulting to the appVersion; with a digest,
repository:tag@digest (the digest is what is pulled). */}}
{{- define "kubefn.image" -}}
{{- $root := index . 0 }}
{{- $img := index . 1 }}
{{- printf "%s:%s" $img.repository (default $root.Chart.AppVersion $img.tag) }}
{{- with $img.digest }}@{{ . }}{{ end }}
{{- end }}

{{- define "kubefn.namespacesArg" -}}
{{- join "," .Values.watchNamespaces }}
{{- end }}

{{- /* --reserved-host and --allow-host, the same for the operator and the gateway: the gateway
Service's own DNS names are always reserved. */}}
{{- define "kubefn.hostArgs" -}}
{{- $svc := include "kubefn.gatewayName" . -}}
- --reserved-host={{ $svc }}
- --reserved-host={{ $svc }}.{{ .Release.Namespace }}
- --reserved-host={{ $svc }}.{{ .Release.Namespace }}.svc
- --reserved-host={{ $svc }}.{{ .Release.Namespace }}.svc.{{ .Values.clusterDomain }}
{{- range .Values.hosts.reserved }}
- {{ printf "--reserved-host=%s" . | quote }}
{{- end }}
{{- range .Values.hosts.allow }}
- {{ printf "--allow-host=%s" . | quote }}
{{- end }}
{{- end }}

{{- define "kubefn.pricesName" -}}{{ include "kubefn.fullname" . }}-prices{{- end }}

{{/* Where the operator and the gateway read the price sheet (the prices ConfigMap, mounted). */}}
{{- define "kubefn.pricesDir" -}}/etc/kubefn/prices{{- end }}

{{/* The price sheet as the binaries read it (--prices): prices.* of the values. A name the
sheet does not have, or a price that is not a number, fails the install rather than the pods;
numbers given as strings (helm --set prices.cpuCoreHour=0.05 makes one) are written as numbers.
A field left out (or null) keeps the binaries' default. */}}
{{- define "kubefn.pricesYaml" -}}
{{- $p := .Values.prices }}
{{- $known := list "currency" "granularity" "cpuCoreHour" "memoryGBHour" "requestsPerMillion" "lambda" "defaultMemory" }}
{{- range $k, $_ := $p }}
{{- if not (has $k $known) }}
{{- fail (printf "prices.%s is not a field of the price sheet (it has: %s)" $k (join ", " $known)) }}
{{- end }}
{{- end }}
{{- range $k := list "currency" "granularity" "defaultMemory" }}
{{- if not (kindIs "invalid" (index $p $k)) }}
{{ $k }}: {{ index $p $k | toString | quote }}
{{- end }}
{{- end }}
{{- range $k := list "cpuCoreHour" "memoryGBHour" "requestsPerMillion" }}
{{- if not (kindIs "invalid" (index $p $k)) }}
{{ $k }}: {{ include "kubefn.priceNumber" (list $k (index $p $k)) }}
{{- end }}
{{- end }}
{{- with $p.lambda }}
{{- $lambda := . }}
{{- range $k, $_ := $lambda }}
{{- if not (has $k (list "requestsPerMillion" "gbSecond")) }}
{{- fail (printf "prices.lambda.%s is not a field of the price sheet (it has: requestsPerMillion, gbSecond)" $k) }}
{{- end }}
{{- end }}
lambda:
{{- range $k := list "requestsPerMillion" "gbSecond" }}
{{- if not (kindIs "invalid" (index $lambda $k)) }}
  {{ $k }}: {{ include "kubefn.priceNumber" (list (printf "lambda.%s" $k) (index $lambda $k)) }}
{{- end }}
{{- end }}
{{- end }}
{{- end }}

{{/* A price as a YAML number: include with (list NAME VALUE); fails unless VALUE is a number
>= 0 (or a string holding one). */}}
{{- define "kubefn.priceNumber" -}}
{{- $text := index . 1 | toString }}
{{- if not (regexMatch "^[+]?([0-9]+[.]?[0-9]*|[.][0-9]+)([eE][-+]?[0-9]+)?$" $text) }}
{{- fail (printf "prices.%s: %q is not a number >= 0" (index . 0) $text) }}
{{- end }}
{{- $text }}
{{- end }}

{{/* Whether the cluster serves the Prometheus Operator's API (PodMonitor, ServiceMonitor,
PrometheusRule); `helm template` needs --api-versions monitoring.coreos.com/v1. */}}
{{- define "kubefn.hasMonitoringApi" -}}
{{- if .Capabilities.APIVersions.Has "monitoring.coreos.com/v1" }}true{{ end }}
{{- end }}

{{/* One scrape endpoint of the PodMonitor and the ServiceMonitor: include with the monitor's
values. honorLabels keeps the metrics' own namespace label (the Function's namespace), which the
target's namespace label would otherwise rename to exported_namespace. */}}
{{- define "kubefn.monitorEndpoint" -}}
port: metrics
path: /metrics
honorLabels: true
{{- with .interval }}
interval: {{ . }}
{{- end }}
{{- with .scrapeTimeout }}
scrapeTimeout: {{ . }}
{{- end }}
{{- end }}

{{/* What both monitors select: the release's operator and gateway pods (or Services). */}}
{{- define "kubefn.monitorSelector" -}}
namespaceSelector:
  matchNames: [{{ .Release.Namespace }}]
selector:
  matchLabels:
    app.kubernetes.io/name: {{ include "kubefn.name" . }}
    app.kubernetes.io/instance: {{ .Release.Name }}
  matchExpressions:
    - {key: app.kubernetes.io/component, operator: In, values: [operator, gateway]}
{{- end }}

{{/* The gateway as the dispatcher calls it: its Service, by cluster DNS. */}}
{{- define "kubefn.gatewayUrl" -}}
{{- printf "http://%s.%s.svc.%s:%d" (include "kubefn.gatewayName" .) .Release.Namespace .Values.clusterDomain (int .Values.gateway.service.port) }}
{{- end }}

{{/* The asynchronous call queue's arguments (gateway and dispatcher alike). */}}
{{- define "kubefn.asyncArgs" -}}
{{- if .Values.async.natsUrl -}}
- --async-nats-url={{ .Values.async.natsUrl }}
{{- if .Values.async.credentialsSecret }}
- --async-nats-credentials=/etc/kubefn/async/credentials
{{- end }}
{{- end }}
{{- end }}

{{/* The call queue's credentials: the mount (volumeMounts) and the volume (volumes). */}}
{{- define "kubefn.asyncMount" -}}
{{- if and .Values.async.natsUrl .Values.async.credentialsSecret -}}
- name: async-credentials
  mountPath: /etc/kubefn/async
  readOnly: true
{{- end }}
{{- end }}
{{- define "kubefn.asyncVolume" -}}
{{- if and .Values.async.natsUrl .Values.async.credentialsSecret -}}
- name: async-credentials
  secret:
    secretName: {{ .Values.async.credentialsSecret }}
    items:
      - key: credentials
        path: credentials
{{- end }}
{{- end }}
