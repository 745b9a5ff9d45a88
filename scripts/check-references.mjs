// Keeps the build graph (tsconfig references) equal to the dependency graph (package.json):
// every @onpush/* dependency of a workspace must be a project reference, and nothing more; and
// every dependency a workspace declares is imported by its sources (eslint's
// import-x/no-extraneous-dependencies checks the other way: every import is declared).
import { readFileSync, readdirSync, existsSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';

const root = resolve(dirname(new URL(import.meta.url).pathname), '..');
const rootPkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
const rootTs = JSON.parse(readFileSync(join(root, 'tsconfig.json'), 'utf8'));

const workspaces = new Map(); // name -> dir
for (const ref of rootTs.references) {
  const dir = resolve(root, ref.path);
  const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
  workspaces.set(pkg.name, dir);
}

/** Every .ts file under `dir`. */
function sources(dir) {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && e.name.endsWith('.ts'))
    .map((e) => join(e.parentPath, e.name));
}

/** The packages the sources of `dir` import (`from 'x'`, `import 'x'`, `import('x')`). */
function imported(dir) {
  const found = new Set();
  const specifier = /(?:from|import)\s*\(?\s*'([^'./][^']*)'/g;
  for (const file of sources(join(dir, 'src'))) {
    for (const [, spec] of readFileSync(file, 'utf8').matchAll(specifier)) {
      const parts = spec.split('/');
      found.add(spec.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0]);
    }
  }
  return found;
}

const problems = [];
for (const [name, dir] of workspaces) {
  const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
  const ts = JSON.parse(readFileSync(join(dir, 'tsconfig.json'), 'utf8'));
  const wanted = Object.keys(pkg.dependencies ?? {})
    .filter((d) => d.startsWith('@onpush/'))
    .map((d) => {
      if (!workspaces.has(d)) problems.push(`${name}: depends on ${d}, which is not a workspace`);
      return relative(dir, workspaces.get(d) ?? d);
    })
    .sort();
  const actual = (ts.references ?? []).map((r) => relative(dir, resolve(dir, r.path))).sort();
  for (const w of wanted) if (!actual.includes(w)) problems.push(`${name}: add reference ${w}`);
  for (const a of actual)
    if (!wanted.includes(a)) problems.push(`${name}: reference ${a} has no dependency`);
  const used = imported(dir);
  for (const d of Object.keys(pkg.dependencies ?? {}))
    if (!used.has(d)) problems.push(`${name}: depends on ${d}, which nothing in src imports`);
}
const globs = rootPkg.workspaces.map((w) => w.replace('/*', ''));
for (const dir of workspaces.values()) {
  const rel = relative(root, dir);
  if (!globs.some((g) => rel === g || rel.startsWith(`${g}/`)))
    problems.push(`${rel}: not in workspaces`);
  if (!existsSync(join(dir, 'src', 'index.ts')) && !existsSync(join(dir, 'src', 'main.ts')))
    problems.push(`${rel}: no src/index.ts entry`);
}
if (problems.length) {
  console.error(problems.join('\n'));
  process.exit(1);
}
console.log(`references match dependencies in ${workspaces.size} workspaces`);
