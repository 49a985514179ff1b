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
