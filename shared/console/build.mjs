// Builds the console's page into dist/web: web/main.tsx bundled (preact included) and minified
// by esbuild, beside index.html and console.css. Run by `npm run build`, scripts/run.sh and the
// image's build; the server (src/shell.ts) serves dist/web and fetches nothing at run time.
import { copyFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { build } from 'esbuild';

const here = import.meta.dirname;
const out = join(here, 'dist', 'web');
mkdirSync(out, { recursive: true });
await build({
  entryPoints: [join(here, 'web', 'main.tsx')],
  outfile: join(out, 'console.js'),
  bundle: true,
  minify: true,
  format: 'esm',
  target: 'es2022',
  jsx: 'automatic',
  jsxImportSource: 'preact',
  legalComments: 'none',
  logLevel: 'warning',
});
for (const file of ['index.html', 'console.css'])
  copyFileSync(join(here, 'web', file), join(out, file));
