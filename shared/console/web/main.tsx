// The console's page: sign in with the bearer token, then four views chosen by the URL's hash —
// #/pushes (live), #/workloads/<Kind>/<namespace>/<name>, #/dlq, #/health.
import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { api, session, Unauthorized } from './api.js';
import { DlqView } from './dlq.js';
import { HealthView } from './health.js';
import { PushesView } from './pushes.js';
import { WorkloadView } from './workload.js';

function useHash(): string {
  const [hash, setHash] = useState(location.hash);
  useEffect(() => {
    const changed = () => setHash(location.hash);
    addEventListener('hashchange', changed);
    return () => removeEventListener('hashchange', changed);
  }, []);
  return hash;
}

function SignIn(props: { note?: string | undefined; onToken: (token: string) => void }) {
  const [token, setToken] = useState('');
  return (
    <form
      class="signin"
      data-testid="signin"
      onSubmit={(e) => {
        e.preventDefault();
        props.onToken(token);
      }}
    >
      <h2>Sign in</h2>
      <p>
        The console's API wants the bearer token of this onpush: the admin token (Secret
        onpush-admin-token) in Kubernetes, or the one <code>onpush console</code> printed.
      </p>
      {props.note ? <p class="error">{props.note}</p> : null}
      <input
        type="password"
        name="token"
        autocomplete="off"
        placeholder="token"
        value={token}
        onInput={(e) => setToken((e.target as HTMLInputElement).value)}
      />{' '}
      <button type="submit">Sign in</button>
    </form>
  );
}

function App() {
  const hash = useHash();
  const [signedIn, setSignedIn] = useState(false);
  const [note, setNote] = useState<string>();
  const [traceUrl, setTraceUrl] = useState<string | null>(null);
  const [fates, setFates] = useState<readonly string[]>([]);
  /** Signs in with the token kept, or — `quiet`, without one — through a proxy that adds its own. */
  const check = (quiet = false) =>
    api<{ traceUrl: string | null; fates: string[] }>('config').then(
      (config) => {
        setTraceUrl(config.traceUrl);
        setFates(config.fates);
        setSignedIn(true);
        setNote(undefined);
      },
      (e: unknown) => {
        session.signOut();
        setSignedIn(false);
        if (!quiet) setNote(e instanceof Unauthorized ? 'That token was refused.' : String(e));
      },
    );
  useEffect(() => {
    // Behind an authenticating proxy (OIDC: docs/console.md) the requests carry the person's ID
    // token without the page asking for one; otherwise the first answer is a 401 and the page asks.
    void check(!session.token());
  }, []);
  const unauthorized = () => {
    session.signOut();
    setSignedIn(false);
    setNote('The token was refused (rotated?): sign in again.');
  };
  const route = hash.replace(/^#\/?/, '');
  const [view = 'pushes', ...rest] = route.split('?')[0]!.split('/');
  const tab = (name: string, label: string) => (
    <a href={`#/${name}`} class={view === name ? 'tab active' : 'tab'}>
      {label}
    </a>
  );
  return (
    <>
      <header>
        <h1>onpush</h1>
        {signedIn ? (
          <nav>
            {tab('pushes', 'Pushes')}
            {tab('dlq', 'Dead letters')}
            {tab('health', 'Health')}
            <button
              class="link"
              onClick={() => {
                session.signOut();
                setSignedIn(false);
              }}
            >
              Sign out
            </button>
          </nav>
        ) : null}
      </header>
      <main>
        {!signedIn ? (
          <SignIn
            note={note}
            onToken={(token) => {
              session.signIn(token);
              void check(false);
            }}
          />
        ) : view === 'workloads' ? (
          <WorkloadView
            path={`${rest.join('/')}${route.includes('?') ? `?${route.split('?')[1]}` : ''}`}
            traceUrl={traceUrl}
            onUnauthorized={unauthorized}
          />
        ) : view === 'dlq' ? (
          <DlqView traceUrl={traceUrl} onUnauthorized={unauthorized} />
        ) : view === 'health' ? (
          <HealthView onUnauthorized={unauthorized} />
        ) : (
          <PushesView traceUrl={traceUrl} fates={fates} onUnauthorized={unauthorized} />
        )}
      </main>
    </>
  );
}

render(<App />, document.getElementById('app')!);
