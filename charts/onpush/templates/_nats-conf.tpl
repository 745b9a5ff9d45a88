{{/*
nats.conf: k8s/base/nats.conf, with one route per node; for a fleet's hub or cluster (fleet.role),
its JetStream domain and leaf-node link as k8s/overlays/fleet-hub and fleet-cluster's nats.conf.
*/}}
{{- define "onpush.natsConf" -}}
# NATS JetStream{{ if gt (int .Values.nats.replicas) 1 }} cluster of {{ .Values.nats.replicas }}{{ end }} (StatefulSet nats, pods nats-0.. behind Service nats-headless).
server_name: $POD_NAME
port: 4222
http_port: 8222
pid_file: /var/run/nats/nats.pid
lame_duck_grace_period: 10s
lame_duck_duration: 30s

# onpush's identities and their permissions (auth.conf), and TLS for clients: the Secret nats-auth,
# made by `onpush credentials --secrets {{ .Release.Namespace }} | kubectl apply -f -` (docs/security.md).
include auth.conf
tls {
  cert_file: /etc/nats/server.pem
  key_file: /etc/nats/server-key.pem
  timeout: 2
}

jetstream {
  store_dir: /data
  # At least 11 GiB: ONPUSH_DLQ reserves 10 GiB and ONPUSH_ADVISORIES 1 GiB on every replica.
  max_file_store: $JS_MAX_FILE_STORE
  max_memory_store: 256MB
  {{- if eq .Values.fleet.role "hub" }}
  # Each cluster is a domain of its own (its name); streams copy across domains (JetStream sources).
  domain: hub
  {{- else if eq .Values.fleet.role "cluster" }}
  # The cluster's name (fleet.cluster.name, CLUSTER_NAME of onpush-config): its JetStream domain.
  domain: {{ .Values.fleet.cluster.name }}
  {{- end }}
}
{{- if eq .Values.fleet.role "hub" }}

# The clusters' nats-servers connect here (Service nats-leaf), over TLS, signing with the fleet's
# leaf identity (leaf-auth.conf: Secret nats-leaf-hub, made by `onpush credentials --secrets`).
# The server's certificate must name the address the clusters dial (`onpush credentials
# --server-name <address>`).
leafnodes {
  port: 7422
  # The clusters dial the address they were given (the load balancer), never one gossiped.
  no_advertise: true
  # One cluster's subscriptions are never propagated to the others.
  isolate_leafnode_interest: true
  tls {
    cert_file: /etc/nats/server.pem
    key_file: /etc/nats/server-key.pem
    timeout: 2
  }
  include leaf-auth.conf
}
{{- else if eq .Values.fleet.role "cluster" }}

# The link to the hub: TLS (the hub's CA: leaf-ca.pem), signing with the fleet's leaf identity
# (leaf-remote.conf: Secret nats-leaf-cluster), outbound only. What crosses it is LEAF_LINK's
# (shared/contracts/src/fleet.ts): no onpush, KV or advisory traffic either way, and the hub may
# read and copy this cluster's streams, never make, change, purge or delete them.
leafnodes {
  reconnect: 2s
  remotes: [
    {
      url: {{ .Values.fleet.cluster.hubLeafUrl | quote }}
      include leaf-remote.conf
      tls { ca_file: /etc/nats/leaf-ca.pem }
      deny_imports: [
        "onpush.>"
        "$KV.>"
        "$JS.EVENT.>"
        "$JS.*.API.STREAM.CREATE.>"
        "$JS.*.API.STREAM.UPDATE.>"
        "$JS.*.API.STREAM.DELETE.>"
        "$JS.*.API.STREAM.PURGE.>"
        "$JS.*.API.STREAM.MSG.DELETE.>"
        "$JS.*.API.STREAM.RESTORE.>"
        "$JS.*.API.STREAM.SNAPSHOT.>"
        "$JS.*.API.ACCOUNT.PURGE.>"
        "$JS.*.API.META.>"
        "$JS.*.API.SERVER.>"
      ]
      deny_exports: [
        "onpush.>"
        "$KV.>"
        "$JS.EVENT.>"
      ]
    }
  ]
}
{{- end }}
{{- if gt (int .Values.nats.replicas) 1 }}

cluster {
  name: onpush
  port: 6222
  # Short names resolve in the pods' own namespace, whatever it is.
  routes: [
    {{- range $i := until (int .Values.nats.replicas) }}
    nats://nats-{{ $i }}.nats-headless:6222
    {{- end }}
  ]
  connect_retries: 120
}
{{- end }}
{{- end }}
