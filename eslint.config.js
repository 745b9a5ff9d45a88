import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import { importX } from 'eslint-plugin-import-x';
import { createTypeScriptImportResolver } from 'eslint-import-resolver-typescript';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

const root = import.meta.dirname;
const readJson = (path) => JSON.parse(readFileSync(path, 'utf8'));
/** The workspaces' folders (relative) and package names, from the root package.json. */
const workspaces = readJson(join(root, 'package.json'))
  .workspaces.flatMap((glob) =>
    glob.endsWith('/*')
      ? readdirSync(join(root, glob.slice(0, -2))).map((name) => `${glob.slice(0, -2)}/${name}`)
      : [glob],
  )
  .filter((dir) => existsSync(join(root, dir, 'package.json')))
  .map((dir) => ({ dir, name: readJson(join(root, dir, 'package.json')).name }));

const ENTRY_ONLY = {
  group: ['@onpush/*/src/*', '@onpush/*/dist/*', '../../shared/*', '../../services/*'],
  message: "Import a package's public entry (@onpush/<name>), not its files.",
};
const SERVICES = ['ingest', 'parser', 'resolver', 'restarter', 'dlq-manager'];
const NO_SERVICE = {
  group: SERVICES.map((name) => `@onpush/${name}`),
  message: 'A service is a leaf: import what it shares from a shared/ package instead.',
};
const TEST_FILES = ['**/*.test.ts', '**/*.test-support.ts'];
/**
 * import-x/no-extraneous-dependencies: every package a file imports (types and workspaces too)
 * is declared in its package.json; tests and test support may use devDependencies.
 */
const declared = (options) => [
  'error',
  { includeInternal: true, includeTypes: true, devDependencies: TEST_FILES, ...options },
];

export default tseslint.config(
  { ignores: ['**/dist/**', '**/node_modules/**', '.onpush/**', 'coverage/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    files: ['**/*.ts', '**/*.tsx'],
    languageOptions: {
      parserOptions: {
        projectService: { allowDefaultProject: ['vitest.config.ts'] },
        tsconfigRootDir: import.meta.dirname,
      },
    },
    plugins: { 'import-x': importX },
    settings: {
      'import-x/resolver-next': [createTypeScriptImportResolver({ alwaysTryTypes: true })],
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      // An async function without await is a fine way to return a promise of a value.
      '@typescript-eslint/require-await': 'off',
      '@typescript-eslint/consistent-type-imports': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_' }],
      'import-x/no-cycle': 'error',
      'no-restricted-imports': ['error', { patterns: [ENTRY_ONLY] }],
      'import-x/no-extraneous-dependencies': declared({}),
    },
  },
  // A workspace's tests may also use the test tooling the root declares.
  ...workspaces.map(({ dir }) => ({
    files: TEST_FILES.map((glob) => `${dir}/${glob}`),
    rules: {
      'import-x/no-extraneous-dependencies': declared({ packageDir: [join(root, dir), root] }),
    },
  })),
  {
    // test/ tests the whole: it may import every workspace and what any workspace declares.
    files: ['test/**/*.ts', 'vitest.config.ts'],
    rules: {
      'import-x/no-extraneous-dependencies': declared({
        devDependencies: true,
        packageDir: [root, ...workspaces.map(({ dir }) => join(root, dir))],
        whitelist: workspaces.map(({ name }) => name),
      }),
    },
  },
  {
    // The console's page is bundled at build time (shared/console/build.mjs): its packages are
    // the build's, declared as devDependencies of @onpush/console.
    files: ['shared/console/web/**/*.ts', 'shared/console/web/**/*.tsx'],
    rules: {
      'import-x/no-extraneous-dependencies': declared({
        devDependencies: true,
        packageDir: [join(root, 'shared/console'), root],
      }),
    },
  },
  {
    // The services are leaves: no workspace imports one, and what two workspaces share lives in
    // shared/. test/ is not listed: it imports the services to test them.
    files: ['shared/**/*.ts', 'services/**/*.ts', 'cli/**/*.ts', 'bench/**/*.ts'],
    rules: { 'no-restricted-imports': ['error', { patterns: [ENTRY_ONLY, NO_SERVICE] }] },
  },
  {
    files: ['**/*.js', '**/*.mjs'],
    extends: [tseslint.configs.disableTypeChecked],
    languageOptions: { globals: { process: 'readonly', console: 'readonly', URL: 'readonly' } },
  },
);
