// The console's page and its bundle: static files built by build.mjs into dist/web (at
// `npm run build`, `scripts/run.sh`, the image's build), served with no data in them, so without a
// token. Nothing is fetched from elsewhere at run time: the page's Content-Security-Policy allows
// its own origin only.
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import type { ServerResponse } from 'node:http';
import type { Route } from '@onpush/service';

/** Where build.mjs writes the page and the bundle (beside src/ and dist/ alike). */
export const WEB_DIR = fileURLToPath(new URL('../dist/web/', import.meta.url));

const TYPES: Readonly<Record<string, string>> = {
  'index.html': 'text/html; charset=utf-8',
  'console.js': 'text/javascript; charset=utf-8',
  'console.css': 'text/css; charset=utf-8',
};

const SECURITY = {
  'content-security-policy':
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; " +
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
};

const NOT_BUILT = `<!doctype html><title>onpush console</title>
<p>The console's bundle is not built: run <code>npm run build</code> (or <code>node shared/console/build.mjs</code>).</p>`;

async function send(res: ServerResponse, file: string): Promise<void> {
  const body = await readFile(join(WEB_DIR, file)).catch(() => undefined);
  if (body === undefined) {
    const status = file === 'index.html' ? 503 : 404;
    res.writeHead(status, { 'content-type': 'text/html; charset=utf-8', ...SECURITY });
    res.end(file === 'index.html' ? NOT_BUILT : 'not found');
    return;
  }
  res.writeHead(200, {
    'content-type': TYPES[file] ?? 'application/octet-stream',
    'content-length': body.length,
    'cache-control': 'no-cache',
    ...SECURITY,
  });
  res.end(body);
}

/** GET `<path>` (the page) and `<path>/assets/<file>` (the bundle and its styles). */
export function serveShell(path: string): Route {
  return async (req, res, url) => {
    if (req.method !== 'GET' && req.method !== 'HEAD') return false;
    if (url.pathname === path) {
      res.writeHead(302, { location: `${path}/` });
      res.end();
      return true;
    }
    if (url.pathname === `${path}/`) {
      await send(res, 'index.html');
      return true;
    }
    const asset = url.pathname.startsWith(`${path}/assets/`)
      ? url.pathname.slice(`${path}/assets/`.length)
      : undefined;
    if (asset === undefined || !(asset in TYPES) || asset === 'index.html') return false;
    await send(res, asset);
    return true;
  };
}
