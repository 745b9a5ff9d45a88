// Dead letters: the DLQ with reason, stage, age; one entry opens with its original payload
// decoded; replay or purge one, or every entry the filter selects — each after a confirmation.
// The same operations as `onpush dlq`, through the same store.
import { Fragment } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import type { DlqEntry, DlqSummary } from '@onpush/dlq';
import { api, query, Unauthorized } from './api.js';
import { Confirm } from './bits.js';
import { age, decodePayload, traceHref } from './format.js';

interface Filters {
  stage: string;
  reason: string;
  since: string;
}

interface Pending {
  text: string;
  run: () => Promise<string>;
}

function Entry(props: { id: number; traceUrl: string | null }) {
  const [entry, setEntry] = useState<DlqEntry>();
  const [error, setError] = useState<string>();
  useEffect(() => {
    api<DlqEntry>(`dlq/${props.id}`).then(setEntry, (e: unknown) => setError(String(e)));
  }, [props.id]);
  if (error) return <p class="error">{error}</p>;
  if (!entry) return <p class="muted">loading…</p>;
  const trace = traceHref(props.traceUrl, entry.traceId);
  return (
    <div class="entry" data-testid="dlq-entry">
      <p>
        <b>{entry.reason}</b>: {entry.error}
      </p>
      <p class="muted">
        from <span class="mono">{entry.subject}</span>, {entry.attempts} attempt(s), first failed{' '}
        {entry.firstFailedAt}
        {trace ? (
          <>
            {' '}
            ·{' '}
            <a href={trace} target="_blank" rel="noreferrer">
              trace
            </a>
          </>
        ) : null}
      </p>
      <h4>payload</h4>
      <pre data-testid="dlq-payload">{decodePayload(entry.payload)}</pre>
      <h4>headers</h4>
      <pre>{JSON.stringify(entry.headers, null, 2)}</pre>
    </div>
  );
}

export function DlqView(props: { traceUrl: string | null; onUnauthorized: () => void }) {
  const [filters, setFilters] = useState<Filters>({ stage: '', reason: '', since: '' });
  const [draft, setDraft] = useState<Filters>(filters);
  const [entries, setEntries] = useState<DlqSummary[]>([]);
  const [open, setOpen] = useState<number>();
  const [pending, setPending] = useState<Pending>();
  const [message, setMessage] = useState<string>();
  const [error, setError] = useState<string>();
  const [round, setRound] = useState(0);
  const fail = (e: unknown) => {
    if (e instanceof Unauthorized) props.onUnauthorized();
    else setError(e instanceof Error ? e.message : String(e));
  };
  useEffect(() => {
    api<{ entries: DlqSummary[] }>(`dlq?${query({ ...filters })}`).then(
      (r) => setEntries([...r.entries].reverse()),
      fail,
    );
  }, [filters, round]);
  const selective = filters.stage !== '' || filters.reason !== '' || filters.since !== '';
  const act = (text: string, run: () => Promise<string>) => setPending({ text, run });
  const confirm = async () => {
    const job = pending;
    setPending(undefined);
    if (!job) return;
    try {
      setMessage(await job.run());
      setError(undefined);
    } catch (e) {
      fail(e);
    }
    setRound(round + 1);
  };
  const set = (key: keyof Filters) => (e: Event) =>
    setDraft({ ...draft, [key]: (e.target as HTMLInputElement).value });
  const q = query({ ...filters });
  return (
    <section>
      <h2>Dead letters</h2>
      <form
        class="filters"
        onSubmit={(e) => {
          e.preventDefault();
          setFilters(draft);
        }}
      >
        <input name="stage" placeholder="stage" value={draft.stage} onInput={set('stage')} />
        <input name="reason" placeholder="reason" value={draft.reason} onInput={set('reason')} />
        <input
          name="since"
          placeholder="since (1h, 2d)"
          value={draft.since}
          onInput={set('since')}
        />
        <button type="submit">Filter</button>
        <button
          type="button"
          disabled={!selective}
          title={selective ? '' : 'filter by stage, reason or since first'}
          onClick={() =>
            act(`Replay every dead letter matching ${q}?`, async () => {
              const r = await api<{ replayed: unknown[] }>(`dlq/replay?${q}`, { method: 'POST' });
              return `replayed ${r.replayed.length}`;
            })
          }
        >
          Replay matching
        </button>
        <button
          type="button"
          class="danger"
          disabled={!selective}
          onClick={() =>
            act(
              `Purge every dead letter matching ${q}? They cannot be replayed afterwards.`,
              async () => {
                const r = await api<{ purged: number[] }>(`dlq?${q}`, { method: 'DELETE' });
                return `purged ${r.purged.length}`;
              },
            )
          }
        >
          Purge matching
        </button>
      </form>
      {message ? (
        <p class="ok" data-testid="dlq-message">
          {message}
        </p>
      ) : null}
      {error ? <p class="error">{error}</p> : null}
      <table class="dlq">
        <thead>
          <tr>
            <th>id</th>
            <th>stage</th>
            <th>cluster</th>
            <th>reason</th>
            <th>age</th>
            <th>attempts</th>
            <th>replayed</th>
            <th />
          </tr>
        </thead>
        <tbody>
          {entries.map((e) => (
            <Fragment key={e.id}>
              <tr
                data-dlq-id={e.id}
                class="entry-row"
                onClick={() => setOpen(open === e.id ? undefined : e.id)}
              >
                <td>{e.id}</td>
                <td>{e.stage}</td>
                <td>{e.cluster ?? ''}</td>
                <td>{e.reason}</td>
                <td>{age(e.storedAt)}</td>
                <td>{e.attempts}</td>
                <td>{e.replayCount > 0 ? `${e.replayCount}×` : ''}</td>
                <td class="actions" onClick={(ev) => ev.stopPropagation()}>
                  <button
                    disabled={!e.valid}
                    onClick={() =>
                      act(`Replay dead letter ${e.id} to ${e.subject}?`, async () => {
                        await api(`dlq/${e.id}/replay`, { method: 'POST' });
                        return `replayed ${e.id} to ${e.subject}`;
                      })
                    }
                  >
                    Replay
                  </button>{' '}
                  <button
                    class="danger"
                    onClick={() =>
                      act(
                        `Purge dead letter ${e.id}? It cannot be replayed afterwards.`,
                        async () => {
                          await api(`dlq/${e.id}`, { method: 'DELETE' });
                          return `purged ${e.id}`;
                        },
                      )
                    }
                  >
                    Purge
                  </button>
                </td>
              </tr>
              {open === e.id ? (
                <tr class="details">
                  <td colSpan={8}>
                    <Entry id={e.id} traceUrl={props.traceUrl} />
                  </td>
                </tr>
              ) : null}
            </Fragment>
          ))}
        </tbody>
      </table>
      {entries.length === 0 ? (
        <p class="muted">The DLQ is empty{selective ? ' for this filter' : ''}.</p>
      ) : null}
      {pending ? (
        <Confirm
          text={pending.text}
          onYes={() => void confirm()}
          onNo={() => setPending(undefined)}
        />
      ) : null}
    </section>
  );
}
