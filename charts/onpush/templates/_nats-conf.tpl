{{/* nats.conf: k8s/base/nats.conf, with one route per node. */}}
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
}
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
