{{/* The rules of the resolver and the restarter (k8s/base/rbac.yaml), as ClusterRole or Role. */}}
{{- define "onpush.resolverRules" -}}
# resolver: reads workloads (list + watch feed its image index).
- apiGroups: [apps]
  resources: [deployments, statefulsets, daemonsets]
  verbs: [get, list, watch]
- apiGroups: [batch]
  resources: [cronjobs]
  verbs: [get, list, watch]
- apiGroups: [argoproj.io]
  resources: [rollouts]
  verbs: [get, list, watch]
{{- end }}
{{- define "onpush.restarterRules" -}}
# restarter: reads a workload and patches it, watches the rollout it started and records Events.
- apiGroups: [apps]
  resources: [deployments, statefulsets, daemonsets]
  verbs: [get, patch, watch]
# A CronJob rolls nothing out (its next run takes the change): nothing to watch.
- apiGroups: [batch]
  resources: [cronjobs]
  verbs: [get, patch]
- apiGroups: [argoproj.io]
  resources: [rollouts]
  verbs: [get, patch, watch]
- apiGroups: [events.k8s.io]
  resources: [events]
  verbs: [create]
{{- end }}
