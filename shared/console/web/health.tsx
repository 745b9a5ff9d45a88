// Health: what `onpush status` shows — each service's readiness, each consumer's lag, the DLQ's
// depth, the index size and the last minute's fates — read again every few seconds.
import { useEffect, useState } from 'preact/hooks';
import type { StatusReport } from '../src/status.js';
import { api, Unauthorized } from './api.js';

export function HealthView(props: { onUnauthorized: () => void }) {
  const [report, setReport] = useState<StatusReport>();
  const [error, setError] = useState<string>();
  useEffect(() => {
    let stopped = false;
    const load = () =>
      api<StatusReport>('health').then(
        (r) => {
          if (!stopped) setReport(r);
        },
        (e: unknown) => {
          if (e instanceof Unauthorized) props.onUnauthorized();
          else setError(e instanceof Error ? e.message : String(e));
        },
      );
    void load();
    const timer = setInterval(() => void load(), 5_000);
    return () => {
      stopped = true;
      clearInterval(timer);
    };
  }, []);
  if (error) return <p class="error">{error}</p>;
  if (!report) return <p class="muted">loading…</p>;
  const fates = Object.entries(report.fates?.counts ?? {}).filter(([, n]) => n > 0);
  return (
    <section data-testid="health">
      <h2>Health</h2>
      <h3>Services</h3>
      <table>
        <thead>
          <tr>
            <th>service</th>
            <th>ready</th>
            <th>state</th>
            <th>url</th>
          </tr>
        </thead>
        <tbody>
          {report.services.map((s) => (
            <tr key={s.service}>
              <td>{s.service}</td>
              <td class={s.ready ? 'good' : 'bad'}>{s.ready ? 'yes' : 'NO'}</td>
              <td>{s.state}</td>
              <td class="mono">{s.url}</td>
            </tr>
          ))}
        </tbody>
      </table>
      <h3>Consumers</h3>
      {report.consumers === undefined ? (
        <p class="error">JetStream did not answer</p>
      ) : (
        <table data-testid="consumers">
          <thead>
            <tr>
              <th>consumer</th>
              <th>stream</th>
              <th>pending</th>
              <th>ack pending</th>
              <th>redelivered</th>
            </tr>
          </thead>
          <tbody>
            {report.consumers.map((c) => (
              <tr key={`${c.consumer}@${c.cluster ?? ''}`}>
                <td>{c.cluster === undefined ? c.consumer : `${c.consumer}@${c.cluster}`}</td>
                <td>{c.stream}</td>
                <td class="num">{c.pending}</td>
                <td class="num">{c.ackPending}</td>
                <td class="num">{c.redelivered}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <table class="pairs">
        <tbody>
          {report.clusters ? (
            <tr>
              <td>fleet</td>
              <td>the hub of {report.clusters.join(', ')}</td>
            </tr>
          ) : null}
          <tr>
            <td>DLQ</td>
            <td data-testid="dlq-depth">
              {report.dlq === undefined ? '?' : `${report.dlq.depth} dead letters`}
              {report.dlq && report.dlq.depth > 0 ? `, oldest ${report.dlq.oldestAgeSeconds}s` : ''}
            </td>
          </tr>
          <tr>
            <td>index</td>
            <td>
              {report.index === undefined
                ? '?'
                : `${report.index.workloads} workloads, ${report.index.images} images`}
            </td>
          </tr>
          <tr>
            <td>fates (last {report.fates?.windowSeconds ?? 60}s)</td>
            <td>{fates.length ? fates.map(([f, n]) => `${f} ${n}`).join(', ') : 'none'}</td>
          </tr>
        </tbody>
      </table>
      {report.problems.map((p) => (
        <p class="error" key={p}>
          problem: {p}
        </p>
      ))}
    </section>
  );
}
