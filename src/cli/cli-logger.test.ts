import assert from 'node:assert/strict';
import { describe, it } from '@jest/globals';
import { CliLogger } from './cli-logger';

/** What `fn` writes to standard output and standard error. */
function written(fn: () => void): { stdout: string; stderr: string } {
  const out = { stdout: '', stderr: '' };
  const stdout = process.stdout.write.bind(process.stdout);
  const stderr = process.stderr.write.bind(process.stderr);
  process.stdout.write = ((chunk: string) => ((out.stdout += chunk), true)) as typeof process.stdout.write;
  process.stderr.write = ((chunk: string) => ((out.stderr += chunk), true)) as typeof process.stderr.write;
  try {
    fn();
  } finally {
    process.stdout.write = stdout;
    process.stderr.write = stderr;
  }
  return out;
}

describe('CliLogger', () => {
  it("writes warnings and errors to standard error, so a command's output on standard output stays clean", () => {
    const logger = new CliLogger();
    const out = written(() => {
      logger.warn('tenant acme differs from the tenants file', 'TenantCatalog');
      logger.error('something failed', undefined, 'Tenancy');
      logger.log('not shown at all');
    });
    assert.equal(out.stdout, '');
    assert.match(out.stderr, /WARN.*tenant acme differs from the tenants file/);
    assert.match(out.stderr, /ERROR.*something failed/);
    assert.doesNotMatch(out.stderr, /not shown/);
  });

  it("leaves out Nest's ExceptionHandler line (the CLI prints the message itself, no stack)", () => {
    const out = written(() => new CliLogger().error('boom', 'Error: boom\n    at x', 'ExceptionHandler'));
    assert.equal(out.stderr + out.stdout, '');
  });
});
