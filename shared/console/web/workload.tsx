// A workload: the pushes that reached it and how each ended, the digests it was restarted onto,
// and — where the console reads Kubernetes — its opt-in, onpush settings and marks as onpush reads them.
import { useEffect, useState } from 'preact/hooks';
import type { WorkloadView as View } from '../src/workload.js';
import { api, Unauthorized } from './api.js';
import { Fate } from './bits.js';
import { ms, traceHref, when } from './format.js';

function Pairs({ values }: { values: Record<string, string> }) {
  const entries = Object.entries(values);
  if (entries.length === 0) return <p class="muted">none</p>;
  return (
    <table class="pairs">
      <tbody>
        {entries.map(([k, v]) => (
          <tr key={k}>
            <td class="mono">{k}</td>
            <td class="mono">{v}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

export function WorkloadView(props: {
  path: string;
  traceUrl: string | null;
  onUnauthorized: () => void;
}) {
  const [view, setView] = useState<View>();
  const [error, setError] = useState<string>();
  useEffect(() => {
    api<View>(`workloads/${props.path}`).then(setView, (e: unknown) => {
      if (e instanceof Unauthorized) props.onUnauthorized();
      else setError(e instanceof Error ? e.message : String(e));
    });
  }, [props.path]);
  if (error) return <p class="error">{error}</p>;
  if (!view) return <p class="muted">loading…</p>;
  const { kind, namespace, name } = view.workload;
  return (
    <section data-testid="workload">
      <h2>
        {kind} {namespace}/{name}
      </h2>
      <h3>Recent pushes</h3>
      <table>
        <thead>
          <tr>
            <th>at</th>
            <th>image</th>
            <th>tag</th>
            <th>fate</th>
            <th>rollout</th>
            <th>push → PATCH</th>
            <th>reason</th>
            <th>cluster</th>
            <th />
          </tr>
        </thead>
        <tbody>
          {view.events.map((e) => {
            const trace = traceHref(props.traceUrl, e.traceId);
            return (
              <tr key={`${e.eventId}@${e.cluster ?? ''}`}>
                <td>{when(e.at)}</td>
                <td>{e.image ?? ''}</td>
                <td>{e.tag ?? ''}</td>
                <td>
                  <Fate fate={e.fate} />
                </td>
                <td>{e.rollout ? <Fate fate={e.rollout.fate} /> : ''}</td>
                <td>{ms(e.durationMs)}</td>
                <td title={e.detail ?? ''}>{e.reason ?? ''}</td>
                <td>{e.cluster ?? ''}</td>
                <td>
                  {trace ? (
                    <a href={trace} target="_blank" rel="noreferrer">
                      trace
                    </a>
                  ) : null}
                </td>
              </tr>
            );
          })}
        </tbody>
      </table>
      {view.events.length === 0 ? (
        <p class="muted">No push in the console's history reached it.</p>
      ) : null}
      <h3>Digests it was restarted onto</h3>
      {view.digests.length === 0 ? (
        <p class="muted">none in the console's history</p>
      ) : (
        <ul class="mono" data-testid="digests">
          {view.digests.map((d) => (
            <li key={d.digest}>
              {d.digest} <span class="muted">({when(d.at)})</span>
            </li>
          ))}
        </ul>
      )}
      <h3>As onpush reads it</h3>
      {view.kubernetes ? (
        <div class="columns" data-testid="as-read">
          <div>
            <h4>labels</h4>
            <Pairs values={view.kubernetes.labels} />
          </div>
          <div>
            <h4>annotations (onpush.dev/* policy and settings)</h4>
            <Pairs values={view.kubernetes.settings} />
          </div>
          <div>
            <h4>onpush's marks on the pod template</h4>
            <Pairs values={view.kubernetes.marks} />
          </div>
          <div>
            <h4>containers</h4>
            <Pairs
              values={Object.fromEntries(view.kubernetes.containers.map((c) => [c.name, c.image]))}
            />
          </div>
        </div>
      ) : (
        <p class="muted">{view.kubernetesNote}</p>
      )}
    </section>
  );
}
