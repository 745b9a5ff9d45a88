import { afterEach, describe, expect, it, vi } from 'vitest';
import { z } from 'zod';
import {
  bool,
  duration,
  enumOf,
  host,
  int,
  isSecret,
  list,
  parsedBy,
  port,
  secret,
  url,
} from './fields.js';
import { ConfigError, EX_CONFIG, configOrExit, loadConfig } from './load.js';
import type { ConfigProblem, Env } from './load.js';

function problemsOf(schema: z.ZodObject, env: Env): readonly ConfigProblem[] {
  try {
    loadConfig(schema, env);
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  throw new Error('expected a ConfigError');
}

/** The value of one field `X` read from `raw`, or the problem message. */
function field(schema: z.ZodType, raw: string): unknown {
  const wrapped = z.object({ X: schema });
  try {
    return loadConfig(wrapped, { X: raw }).X;
  } catch (error) {
    if (error instanceof ConfigError) return `problem: ${error.message}`;
    throw error;
  }
}

describe('field helpers', () => {
  it.each([
    [url(['nats', 'tls']), 'nats://localhost:4222', 'nats://localhost:4222'],
    [url(['nats', 'tls']), 'tls://nats.example.com', 'tls://nats.example.com'],
    [
      url(['nats', 'tls']),
      'http://x',
      'problem: X: must be a nats:// or tls:// URL (got "http://x")',
    ],
    [
      url(['nats:', 'tls://']),
      'localhost:4222',
      'problem: X: must be a nats:// or tls:// URL (got "localhost:4222")',
    ],
    [url(), 'https://otel:4318/v1', 'https://otel:4318/v1'],
    [url(), 'not a url', 'problem: X: must be a URL (got "not a url")'],
    [url(['nats']), 'nats://', 'problem: X: must be a nats:// URL (got "nats://")'],
    [host(), '127.0.0.1', '127.0.0.1'],
    [host(), '::', '::'],
    [host(), 'onpush.internal', 'onpush.internal'],
    [
      host(),
      'http://x',
      'problem: X: must be an IP address (such as 127.0.0.1 or ::1) or a host name (got "http://x")',
    ],
    [port(), '8080', 8080],
    [port(), '65535', 65535],
    [port(), '0', 'problem: X: must be a port number (1-65535) (got "0")'],
    [port({ allowZero: true }), '0', 0],
    [port(), '65536', 'problem: X: must be a port number (1-65535) (got "65536")'],
    [port(), '80a', 'problem: X: must be a port number (1-65535) (got "80a")'],
    [duration(), '250ms', 250],
    [duration(), '5s', 5_000],
    [duration(), '1.5s', 1_500],
    [duration(), '2m', 120_000],
    [duration(), '1h', 3_600_000],
    [duration(), '1d', 86_400_000],
    [duration(), '1500', 1_500],
    [duration(), '5 s', 'problem: X: must be a duration such as 250ms, 5s, 2m or 1h (got "5 s")'],
    [duration(), '-1s', 'problem: X: must be a duration such as 250ms, 5s, 2m or 1h (got "-1s")'],
    [duration({ min: 1_000 }), '10ms', 'problem: X: must be at least 1000ms (got "10ms")'],
    [duration({ max: 60_000 }), '2m', 'problem: X: must be at most 60000ms (got "2m")'],
    [bool(), 'true', true],
    [bool(), 'FALSE', false],
    [bool(), '1', true],
    [bool(), '0', false],
    [bool(), 'yes', true],
    [bool(), 'No', false],
    [bool(), 'on', 'problem: X: must be true, false, 1, 0, yes or no (got "on")'],
    [int(), '-42', -42],
    [int({ min: 1, max: 10 }), '10', 10],
    [int({ min: 1, max: 10 }), '11', 'problem: X: must be at most 10 (got "11")'],
    [int({ min: 1 }), '0', 'problem: X: must be at least 1 (got "0")'],
    [int(), '1.5', 'problem: X: must be an integer (got "1.5")'],
    [int(), '1e3', 'problem: X: must be an integer (got "1e3")'],
    [int(), '99999999999999999999', 'problem: X: must be an integer (got "99999999999999999999")'],
    [list(), 'a, b ,,c', ['a', 'b', 'c']],
    [list(port()), '4222,4223', [4222, 4223]],
    [
      list(url(['nats'])),
      'nats://a,http://b',
      'problem: X: item 2: must be a nats:// URL (got "nats://a,http://b")',
    ],
    [enumOf(['debug', 'info', 'warn']), 'info', 'info'],
    [
      enumOf(['debug', 'info', 'warn']),
      'INFO',
      'problem: X: must be one of debug, info, warn (got "INFO")',
    ],
  ] as const)('%#: %j', (schema, raw, expected) => {
    expect(field(schema, raw)).toStrictEqual(expected);
  });
});

describe('parsedBy', () => {
  const waves = z.object({
    WAVES: parsedBy((text) => {
      const n = Number(text);
      if (!Number.isInteger(n)) throw new Error(`${JSON.stringify(text)} is not a whole number`);
      return n;
    }),
  });

  it('reads a value with its parser; unset or empty is undefined', () => {
    expect(loadConfig(waves, { WAVES: '3' }).WAVES).toBe(3);
    expect(loadConfig(waves, { WAVES: '' }).WAVES).toBeUndefined();
    expect(loadConfig(waves, {}).WAVES).toBeUndefined();
  });

  it("names the variable with the parser's own words when it throws", () => {
    expect(problemsOf(waves, { WAVES: 'x' })).toEqual([
      { variable: 'WAVES', message: '"x" is not a whole number (got "x")' },
    ]);
  });
});

const schema = z.object({
  NATS_URL: list(url(['nats', 'tls'])),
  NATS_TOKEN: secret(z.string().min(8)).optional(),
  PUBSUB_PROJECT: z.string(),
  PUBSUB_SUBSCRIPTION: z.string().default('onpush'),
  PORT: port().default(8080),
  ACK_WAIT: duration().default(30_000),
  DRY_RUN: bool().default(false),
  LOG_LEVEL: enumOf(['debug', 'info', 'warn', 'error']).default('info'),
});

describe('loadConfig', () => {
  it('returns typed values, with defaults for unset and empty variables', () => {
    const config = loadConfig(schema, {
      NATS_URL: 'nats://a:4222,tls://b:4222',
      PUBSUB_PROJECT: 'demo',
      PORT: '',
      PATH: '/usr/bin',
    });
    expect(config).toStrictEqual({
      NATS_URL: ['nats://a:4222', 'tls://b:4222'],
      PUBSUB_PROJECT: 'demo',
      PUBSUB_SUBSCRIPTION: 'onpush',
      PORT: 8080,
      ACK_WAIT: 30_000,
      DRY_RUN: false,
      LOG_LEVEL: 'info',
    });
    const typed: { PORT: number; NATS_TOKEN?: string | undefined } = config;
    expect(typed.PORT).toBe(8080);
  });

  it('reports every problem at once, one line per variable', () => {
    const problems = problemsOf(schema, {
      NATS_URL: 'http://x',
      PORT: 'eighty',
      DRY_RUN: 'maybe',
      LOG_LEVEL: 'loud',
    });
    expect(problems).toStrictEqual([
      { variable: 'NATS_URL', message: 'item 1: must be a nats:// or tls:// URL (got "http://x")' },
      { variable: 'PUBSUB_PROJECT', message: 'required' },
      { variable: 'PORT', message: 'must be a port number (1-65535) (got "eighty")' },
      { variable: 'DRY_RUN', message: 'must be true, false, 1, 0, yes or no (got "maybe")' },
      { variable: 'LOG_LEVEL', message: 'must be one of debug, info, warn, error (got "loud")' },
    ]);
  });

  it('throws a ConfigError whose message has one line per problem', () => {
    expect(() => loadConfig(schema, {})).toThrow(
      new ConfigError([
        { variable: 'NATS_URL', message: 'required' },
        { variable: 'PUBSUB_PROJECT', message: 'required' },
      ]),
    );
    const error = new ConfigError([{ variable: 'A', message: 'required' }]);
    expect(error).toMatchObject({ name: 'ConfigError', type: 'invalid_config', retryable: false });
    expect(error.message).toBe('A: required');
  });

  it('never shows a secret value', () => {
    const leaky = z.object({
      TOKEN: secret(z.string().refine((s) => s.startsWith('s3'), { error: 'TOKEN is wrong' })),
      ECHO: secret(z.string())
        .refine((s) => s === 'x', { error: 'not x' })
        .optional(),
    });
    const env = { TOKEN: 'hunter2-hunter2', ECHO: 'hunter2-hunter2' };
    const problems = problemsOf(leaky, env);
    expect(problems.map((p) => p.variable)).toStrictEqual(['TOKEN', 'ECHO']);
    for (const problem of problems) {
      expect(problem.message).not.toContain('hunter2');
      expect(problem.message).toContain('(value not shown: secret)');
    }
    const short = problemsOf(schema, {
      NATS_URL: 'nats://a',
      PUBSUB_PROJECT: 'p',
      NATS_TOKEN: 'abc',
    });
    expect(JSON.stringify(short)).not.toContain('abc');
  });

  it('never shows the credentials of a URL, in any field', () => {
    const nats = z.object({ NATS_URL: list(url(['nats'])), PORT: port() });
    const problems = problemsOf(nats, {
      NATS_URL: 'nats://onpush:hunter2@a:4222,http://svc:s3cr3t@b',
      PORT: 'x',
    });
    expect(problems[0]).toStrictEqual({
      variable: 'NATS_URL',
      message: 'item 2: must be a nats:// URL (got "nats://***@a:4222,http://***@b")',
    });
    expect(JSON.stringify(problems)).not.toMatch(/hunter2|s3cr3t/);
  });

  it('scrubs a secret value that a custom message echoes', () => {
    const echoing = z.object({
      KEY: secret(z.string().refine(() => false, { error: 'bad KEY s3cr3t' })),
    });
    expect(problemsOf(echoing, { KEY: 's3cr3t' })[0]?.message).toBe(
      'bad KEY *** (value not shown: secret)',
    );
  });

  it('sees a secret through optional, default and pipes', () => {
    expect(isSecret(secret(z.string()).optional())).toBe(true);
    expect(isSecret(secret(z.string()).default('x'))).toBe(true);
    expect(isSecret(secret(port()))).toBe(true);
    expect(
      isSecret(
        secret(z.string())
          .min(3)
          .transform((s) => s.length),
      ),
    ).toBe(true);
    expect(isSecret(port())).toBe(false);
  });

  it('names a cross-field problem by the path the schema gives', () => {
    const tls = z
      .object({ TLS: bool().default(false), TLS_CERT: z.string().optional() })
      .refine((c) => !c.TLS || c.TLS_CERT !== undefined, {
        error: 'required when TLS=true',
        path: ['TLS_CERT'],
      });
    expect(problemsOf(tls, { TLS: 'yes' })).toStrictEqual([
      { variable: 'TLS_CERT', message: 'required when TLS=true' },
    ]);
  });
});

describe('configOrExit', () => {
  afterEach(() => {
    vi.restoreAllMocks();
  });

  it('returns the config when it is valid', () => {
    expect(configOrExit(schema, { NATS_URL: 'nats://a', PUBSUB_PROJECT: 'p' }, 'parser').PORT).toBe(
      8080,
    );
  });

  it('prints every problem and exits with EX_CONFIG', () => {
    const written: string[] = [];
    vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
      written.push(String(chunk));
      return true;
    });
    vi.spyOn(process, 'exit').mockImplementation((code?: string | number | null) => {
      throw new Error(`exit ${String(code)}`);
    });
    expect(() => configOrExit(schema, { NATS_URL: 'http://x' }, 'parser')).toThrow(
      `exit ${EX_CONFIG}`,
    );
    expect(written.join('')).toBe(
      [
        'parser: invalid configuration',
        '  NATS_URL: item 1: must be a nats:// or tls:// URL (got "http://x")',
        '  PUBSUB_PROJECT: required',
        '',
      ].join('\n'),
    );
  });
});
