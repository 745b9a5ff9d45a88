// A webhook receiver for notification tests: answers 200 to every POST on loopback and keeps what
// it got, in order.
import { createServer, type Server } from 'node:http';
import type { Approval, Outcome } from '@onpush/contracts';
import { freePort } from '@onpush/sandbox';

export interface Received {
  path: string;
  body: { text?: string; type?: string; outcome?: Outcome; approval?: Approval };
}

export interface Receiver {
  readonly server: Server;
  readonly port: number;
  /** `http://127.0.0.1:<port>`. */
  readonly base: string;
  readonly got: Received[];
  close(): Promise<void>;
}

export async function receiver(): Promise<Receiver> {
  const got: Received[] = [];
  const port = await freePort();
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk: Buffer) => (body += chunk.toString()));
    req.on('end', () => {
      got.push({ path: req.url ?? '', body: JSON.parse(body) as Received['body'] });
      res.writeHead(200).end('ok');
    });
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return {
    server,
    port,
    base: `http://127.0.0.1:${port}`,
    got,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
