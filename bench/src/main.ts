#!/usr/bin/env node
import { cpus, totalmem } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeResults, table } from './report.js';
import { SECTIONS, runBench, type Section } from './run.js';

const smoke = process.argv.includes('--smoke');
const onlyArg = process.argv.find((a) => a.startsWith('--only='))?.slice('--only='.length);
const only = onlyArg?.split(',').filter((s) => s !== '');
const unknown = only?.filter((s) => !(SECTIONS as readonly string[]).includes(s)) ?? [];
if (unknown.length > 0) {
  process.stderr.write(
    `bench: unknown section(s) ${unknown.join(', ')}; sections: ${SECTIONS.join(', ')}\n`,
  );
  process.exit(64);
}
const ratesArg = process.argv.find((a) => a.startsWith('--rates='))?.slice('--rates='.length);
const rates = ratesArg?.split(',').map((step) => {
  const [rate, seconds] = step.split(':').map(Number);
  if (!(rate! > 0) || !(seconds! > 0)) {
    process.stderr.write(`bench: --rates wants rate:seconds[,rate:seconds…], not ${step}\n`);
    process.exit(64);
  }
  return { rate: rate!, seconds: seconds! };
});
const machine = `${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}, ${process.platform}`;
const results = await runBench({
  smoke,
  log: (line) => process.stderr.write(`bench: ${line}\n`),
  ...(only !== undefined ? { only: only as Section[] } : {}),
  ...(rates !== undefined ? { rates } : {}),
});
const out = join(dirname(fileURLToPath(import.meta.url)), '..', 'results');
const files = writeResults(out, results, machine);
process.stdout.write(`\n${table(results)}\n\nwrote ${files.json}\n      ${files.md}\n`);
