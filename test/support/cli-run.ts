import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { compiledDir } from './compiled-dir';

/** The compiled entry points: `main` (npm start), `cli` (npm run tenancy), `migrate` (npm run migrate). */
export const ENTRY = (name: string) => join(compiledDir(__dirname), '..', '..', 'src', `${name}.js`);

export interface Ran {
  code: number | null;
  output: string;
}

/** Runs an entry point as a shell runs it, to its end (killed after 2 minutes): exit code and output. */
export function run(entry: string, args: string[], env: Record<string, string>, cwd?: string): Promise<Ran> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [ENTRY(entry), ...args], { env, cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d) => (output += d));
    child.stderr.on('data', (d) => (output += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), 120_000);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    });
  });
}

/** Nothing printed as `undefined`, no stack trace. */
export function assertReadable(output: string): void {
  assert.doesNotMatch(output, /\bundefined\b/, output);
  assert.doesNotMatch(output, /^\s+at /m, output);
}
