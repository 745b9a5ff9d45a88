// Pushes, live: the recent pushes (the API's list), then each change as the server streams it,
// filtered by image, namespace, fate, cluster and time; a push expands into its workloads' fates.
import { useEffect, useState } from 'preact/hooks';
import type { Push, WorkloadFate } from '../src/pushes.js';
import { api, follow, query, Unauthorized } from './api.js';
import { Fate, Link } from './bits.js';
import { ms, shortDigest, traceHref, when } from './format.js';

export interface PushFilters {
  image: string;
  namespace: string;
  fate: string;
  cluster: string;
  since: string;
}

const EMPTY: PushFilters = { image: '', namespace: '', fate: '', cluster: '', since: '' };

function summary(push: Push): string {
  const counts = new Map<string, number>();
  for (const w of push.workloads) counts.set(w.fate, (counts.get(w.fate) ?? 0) + 1);
  return [...counts].map(([fate, n]) => `${n} ${fate}`).join(', ');
}

function workloadHref(w: WorkloadFate): string {
  const { kind, namespace, name } = w.workload;
  const cluster = w.cluster === undefined ? '' : `?cluster=${encodeURIComponent(w.cluster)}`;
  return `#/workloads/${kind}/${namespace}/${name}${cluster}`;
}

function Workloads({ push }: { push: Push }) {
  if (push.workloads.length === 0) {
    return (
      <p class="muted">
        {push.fate === undefined ? 'no fate yet' : `ended ${push.fate}`}
        {push.reason ? ` (${push.reason})` : ''}
        {push.detail ? `: ${push.detail}` : ''}
      </p>
    );
  }
  return (
    <table class="inner" data-testid="push-workloads">
      <thead>
        <tr>
          <th>workload</th>
          <th>cluster</th>
          <th>fate</th>
          <th>rollout</th>
          <th>push → PATCH</th>
          <th>reason</th>
          <th>at</th>
        </tr>
      </thead>
      <tbody>
        {push.workloads.map((w) => (
          <tr
            key={`${w.workload.kind}/${w.workload.namespace}/${w.workload.name}@${w.cluster ?? ''}`}
          >
            <td>
              <Link href={workloadHref(w)}>
                {w.workload.kind}/{w.workload.namespace}/{w.workload.name}
              </Link>
            </td>
            <td>{w.cluster ?? ''}</td>
            <td>
              <Fate fate={w.fate} />
              {w.history.length > 1 ? (
                <span class="muted"> (was {w.history.slice(0, -1).join(', ')})</span>
              ) : null}
            </td>
            <td>{w.rollout ? <Fate fate={w.rollout.fate} /> : ''}</td>
            <td>{ms(w.durationMs)}</td>
            <td title={w.detail ?? ''}>{w.reason ?? w.detail ?? ''}</td>
            <td>{when(w.at)}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

function PushRow(props: {
  push: Push;
  open: boolean;
  toggle: () => void;
  traceUrl: string | null;
}) {
  const { push, open, toggle, traceUrl } = props;
  const trace = traceHref(traceUrl, push.traceId);
  return (
    <>
      <tr class={`push ${open ? 'open' : ''}`} data-event-id={push.eventId} onClick={toggle}>
        <td>{open ? '▾' : '▸'}</td>
        <td title={push.pushedAt ? 'pushed (the registry’s time)' : 'first outcome seen'}>
          {when(push.pushedAt ?? push.firstAt)}
        </td>
        <td>{push.source}</td>
        <td class="image">{push.image ?? ''}</td>
        <td>{push.tag ?? ''}</td>
        <td class="mono" title={push.digest ?? ''}>
          {shortDigest(push.digest)}
        </td>
        <td>{push.fate ? <Fate fate={push.fate} /> : <span class="muted">…</span>}</td>
        <td>{summary(push)}</td>
        <td>{push.clusters.join(', ')}</td>
        <td>
          {trace ? (
            <a href={trace} target="_blank" rel="noreferrer" onClick={(e) => e.stopPropagation()}>
              trace
            </a>
          ) : null}
        </td>
      </tr>
      {open ? (
        <tr class="details">
          <td />
          <td colSpan={9}>
            <p class="muted mono">event {push.eventId}</p>
            <Workloads push={push} />
          </td>
        </tr>
      ) : null}
    </>
  );
}

function Filters(props: {
  value: PushFilters;
  fates: readonly string[];
  onChange: (f: PushFilters) => void;
}) {
  const [draft, setDraft] = useState(props.value);
  const set = (key: keyof PushFilters) => (e: Event) =>
    setDraft({ ...draft, [key]: (e.target as HTMLInputElement).value });
  return (
    <form
      class="filters"
      onSubmit={(e) => {
        e.preventDefault();
        props.onChange(draft);
      }}
    >
      <input name="image" placeholder="image contains" value={draft.image} onInput={set('image')} />
      <input
        name="namespace"
        placeholder="namespace"
        value={draft.namespace}
        onInput={set('namespace')}
      />
      <select name="fate" value={draft.fate} onChange={set('fate')}>
        <option value="">any fate</option>
        {props.fates.map((f) => (
          <option value={f} key={f}>
            {f}
          </option>
        ))}
      </select>
      <input name="cluster" placeholder="cluster" value={draft.cluster} onInput={set('cluster')} />
      <select name="since" value={draft.since} onChange={set('since')}>
        <option value="">any time</option>
        <option value="15m">last 15 minutes</option>
        <option value="1h">last hour</option>
        <option value="24h">last day</option>
      </select>
      <button type="submit">Filter</button>
    </form>
  );
}

export function PushesView(props: {
  traceUrl: string | null;
  /** Every fate there is (the server's contracts: GET config). */
  fates: readonly string[];
  onUnauthorized: () => void;
}) {
  const [filters, setFilters] = useState<PushFilters>(EMPTY);
  const [pushes, setPushes] = useState<Map<string, Push>>(new Map());
  const [open, setOpen] = useState<Set<string>>(new Set());
  const [live, setLive] = useState<'connecting' | 'live' | 'lost'>('connecting');
  const [error, setError] = useState<string>();
  useEffect(() => {
    const stop = new AbortController();
    const q = query({ ...filters });
    const run = async (): Promise<void> => {
      setLive('connecting');
      setPushes(new Map());
      const merge = (push: Push) =>
        setPushes((before) => {
          const next = new Map(before);
          const known = next.get(push.eventId);
          if (known === undefined || known.seq <= push.seq) next.set(push.eventId, push);
          return next;
        });
      const started = follow(
        `pushes/stream?${q}`,
        (event, data) => {
          if (event === 'push') merge(JSON.parse(data) as Push);
        },
        stop.signal,
        () => setLive('live'),
      );
      const listed = await api<{ pushes: Push[] }>(`pushes?${query({ ...filters, limit: '200' })}`);
      // What streamed in while the list was asked for is at least as new as the list.
      setPushes((streamed) => {
        const next = new Map(listed.pushes.map((p) => [p.eventId, p]));
        for (const p of streamed.values()) {
          if ((next.get(p.eventId)?.seq ?? -1) < p.seq) next.set(p.eventId, p);
        }
        return next;
      });
      await started;
      setLive('lost');
    };
    run().catch((e: unknown) => {
      if (stop.signal.aborted) return;
      if (e instanceof Unauthorized) props.onUnauthorized();
      else {
        setLive('lost');
        setError(e instanceof Error ? e.message : String(e));
      }
    });
    return () => stop.abort();
  }, [filters]);
  const rows = [...pushes.values()].sort((a, b) => b.seq - a.seq);
  const toggle = (id: string) => {
    const next = new Set(open);
    if (next.has(id)) next.delete(id);
    else next.add(id);
    setOpen(next);
  };
  return (
    <section>
      <h2>
        Pushes{' '}
        <span class={`live ${live}`} data-testid="live">
          {live}
        </span>
      </h2>
      <Filters value={filters} fates={props.fates} onChange={setFilters} />
      {error ? <p class="error">{error}</p> : null}
      <table class="pushes">
        <thead>
          <tr>
            <th />
            <th>when</th>
            <th>source</th>
            <th>image</th>
            <th>tag</th>
            <th>digest</th>
            <th>fate</th>
            <th>workloads</th>
            <th>cluster</th>
            <th />
          </tr>
        </thead>
        <tbody>
          {rows.map((push) => (
            <PushRow
              key={push.eventId}
              push={push}
              open={open.has(push.eventId)}
              toggle={() => toggle(push.eventId)}
              traceUrl={props.traceUrl}
            />
          ))}
        </tbody>
      </table>
      {rows.length === 0 ? (
        <p class="muted">No push yet: they appear here as they happen.</p>
      ) : null}
    </section>
  );
}
