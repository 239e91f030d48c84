import { describeEnvironmentProblems, environmentProblems } from './app.config';

/**
 * For the entry points (main, cli, migrate): validates process.env before anything starts and, if
 * it is invalid, prints `Invalid environment:` and the problems, one a line, with no stack trace,
 * and exits with code 1. DATABASE_URL may be unset here: the embedded PostgreSQL provides it later.
 */
export function exitOnInvalidEnvironment(): void {
  const problems = environmentProblems({ ...process.env, DATABASE_URL: process.env.DATABASE_URL ?? 'postgres://embedded' });
  if (!problems.length) return;
  console.error(describeEnvironmentProblems(problems));
  process.exit(1);
}
