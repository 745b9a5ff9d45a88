/** Human lines on stderr; with --json, one JSON document on stdout for scripts. */
export interface Output {
  info(line: string): void;
  error(line: string): void;
  result(value: unknown): void;
}

export function output(json: boolean): Output {
  return {
    info: (line) => {
      if (!json) process.stdout.write(`${line}\n`);
    },
    error: (line) => process.stderr.write(`${line}\n`),
    result: (value) => {
      if (json) process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
    },
  };
}
