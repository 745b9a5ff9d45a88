// Keeps the build graph (tsconfig references) equal to the dependency graph (package.json):
// every @onpush/* dependency of a workspace must be a project reference, and nothing more.
import { readFileSync, existsSync } from 'node:fs';
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
