{{/* The chart's name (nameOverride). */}}
{{- define "onpush.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* The prefix of the cluster-wide objects' names: "onpush" for a release named onpush. */}}
{{- define "onpush.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := include "onpush.name" . }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "onpush.tag" -}}
{{- .Values.image.tag | default .Chart.AppVersion }}
{{- end }}

{{- define "onpush.image" -}}
{{ .Values.image.repository }}:{{ include "onpush.tag" . }}
{{- end }}

{{/* Labels every object carries. */}}
{{- define "onpush.commonLabels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ include "onpush.tag" . | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: onpush
{{- end }}

{{/*
A component's labels: (dict "root" $ "name" "ingest"). app.kubernetes.io/name is the component
(ingest, parser, resolver, restarter, dlq-manager, nats, provision), as in k8s/base: the
NetworkPolicies, the ServiceMonitor and the dashboards select by it.
*/}}
{{- define "onpush.labels" -}}
app.kubernetes.io/name: {{ .name }}
{{ include "onpush.commonLabels" .root }}
{{- end }}

{{/* What a component's selectors match: (dict "root" $ "name" "ingest"). */}}
{{- define "onpush.selectorLabels" -}}
app.kubernetes.io/name: {{ .name }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
{{- end }}

{{/* A service's ServiceAccount name: (dict "name" "ingest" "values" .Values.ingest). */}}
{{- define "onpush.serviceAccountName" -}}
{{- .values.serviceAccount.name | default .name }}
{{- end }}

{{/* Where the services reach NATS. */}}
{{- define "onpush.natsUrl" -}}
{{- if .Values.nats.enabled }}
{{- "nats://nats:4222" }}
{{- else }}
{{- required "nats.url is required when nats.enabled is false" .Values.nats.url }}
{{- end }}
{{- end }}

{{/* The pod security context of every onpush pod: uid 1000 (the image's user), RuntimeDefault. */}}
{{- define "onpush.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: 1000
runAsGroup: 1000
# Mounted Secrets (mode 0440) belong to this group, so the service can read them.
fsGroup: 1000
seccompProfile: { type: RuntimeDefault }
{{- end }}

{{/* The container security context of every onpush container: read-only root, no capability. */}}
{{- define "onpush.containerSecurityContext" -}}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
capabilities: { drop: [ALL] }
{{- end }}

{{/* A service container's ports and probes (k8s/base/service-defaults.yaml). */}}
{{- define "onpush.probes" -}}
startupProbe:
  httpGet: { path: /healthz, port: http }
  periodSeconds: 2
  failureThreshold: 30
livenessProbe:
  httpGet: { path: /healthz, port: http }
  periodSeconds: 10
  timeoutSeconds: 2
  failureThreshold: 3
readinessProbe:
  httpGet: { path: /readyz, port: http }
  periodSeconds: 5
  timeoutSeconds: 2
  failureThreshold: 2
{{- end }}

{{/*
Where a service's pods run: (dict "root" $ "name" "ingest"). By default spread over zones and
nodes, preferred (k8s/base/service-defaults.yaml).
*/}}
{{- define "onpush.scheduling" -}}
{{- $root := .root }}
{{- with $root.Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with $root.Values.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with $root.Values.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with $root.Values.affinity }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
topologySpreadConstraints:
{{- if $root.Values.topologySpreadConstraints }}
  {{- toYaml $root.Values.topologySpreadConstraints | nindent 2 }}
{{- else }}
  {{- range list "topology.kubernetes.io/zone" "kubernetes.io/hostname" }}
  - maxSkew: 1
    topologyKey: {{ . }}
    whenUnsatisfiable: ScheduleAnyway
    labelSelector:
      matchLabels:
        {{- include "onpush.selectorLabels" (dict "root" $root "name" $.name) | nindent 8 }}
    matchLabelKeys: [pod-template-hash]
  {{- end }}
{{- end }}
{{- end }}

{{/*
What every service has beside its Deployment: its ServiceAccount, its Service (port http 8080) and
its PodDisruptionBudget. (dict "root" $ "name" "ingest" "values" .Values.ingest "api" false)
*/}}
{{- define "onpush.serviceObjects" -}}
{{- $root := .root }}
{{- if .values.serviceAccount.create }}
---
apiVersion: v1
kind: ServiceAccount
metadata:
  name: {{ include "onpush.serviceAccountName" . }}
  namespace: {{ $root.Release.Namespace }}
  labels:
    {{- include "onpush.labels" . | nindent 4 }}
  {{- with .values.serviceAccount.annotations }}
  annotations:
    {{- toYaml . | nindent 4 }}
  {{- end }}
{{- if not .api }}
# No Kubernetes API access: no token in the pod.
automountServiceAccountToken: false
{{- end }}
{{- end }}
---
apiVersion: v1
kind: Service
metadata:
  name: {{ .name }}
  namespace: {{ $root.Release.Namespace }}
  labels:
    {{- include "onpush.labels" . | nindent 4 }}
spec:
  selector:
    {{- include "onpush.selectorLabels" . | nindent 4 }}
  ports:
    - { name: http, port: 8080, targetPort: http }
{{- if $root.Values.podDisruptionBudget.enabled }}
---
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata:
  name: {{ .name }}
  namespace: {{ $root.Release.Namespace }}
  labels:
    {{- include "onpush.labels" . | nindent 4 }}
spec:
  # One pod at a time: with two or more replicas one keeps working; with one, a drain still
  # proceeds (messages wait in JetStream meanwhile).
  maxUnavailable: {{ $root.Values.podDisruptionBudget.maxUnavailable }}
  selector:
    matchLabels:
      {{- include "onpush.selectorLabels" . | nindent 6 }}
{{- end }}
{{- end }}

{{/* A Deployment's strategy and pod-level settings every service shares. */}}
{{- define "onpush.deploymentSpec" -}}
revisionHistoryLimit: 5
strategy:
  rollingUpdate: { maxSurge: 1, maxUnavailable: 0 }
{{- if eq .root.Values.autoscaling.mode "none" }}
replicas: {{ .values.replicas }}
{{- end }}
selector:
  matchLabels:
    {{- include "onpush.selectorLabels" . | nindent 4 }}
{{- end }}

{{/* Pod template annotations: a changed configuration rolls the pods (kustomize's name hash). */}}
{{- define "onpush.podAnnotations" -}}
checksum/config: {{ include (print .root.Template.BasePath "/config.yaml") .root | sha256sum }}
{{- end }}

{{/*
The services this release runs, comma-separated: all five, or one side of a fleet (fleet.role;
FLEET_SERVICES of shared/contracts/src/fleet.ts, as k8s/overlays/fleet-hub and fleet-cluster).
*/}}
{{- define "onpush.services" -}}
{{- if eq .Values.fleet.role "hub" -}}
ingest,parser,dlq-manager
{{- else if eq .Values.fleet.role "cluster" -}}
resolver,restarter,dlq-manager
{{- else -}}
ingest,parser,resolver,restarter,dlq-manager
{{- end }}
{{- end }}

{{/*
"true" when this release runs the service, else empty: (dict "root" $ "name" "ingest"). A fleet's
hub runs no resolver or restarter (nor their RBAC and admission policy), a cluster no ingest or
parser.
*/}}
{{- define "onpush.runs" -}}
{{- if has .name (splitList "," (include "onpush.services" .root)) }}true{{ end }}
{{- end }}

{{/* The port of the hub's leaf-node URL (fleet.cluster.hubLeafUrl): 7422 unless it names one. */}}
{{- define "onpush.hubLeafPort" -}}
{{- $host := (urlParse .Values.fleet.cluster.hubLeafUrl).host }}
{{- regexFind "[0-9]+$" (regexFind ":[0-9]+$" $host) | default "7422" }}
{{- end }}
