import { ConsoleLogger, type LogLevel } from '@nestjs/common';

/**
 * The CLI's Nest logger: errors and warnings on the console, less one line: when the app fails to
 * start (a bad tenants file, a missing or wrong key-encryption key), Nest's ExceptionHandler logs
 * the error with its stack trace before the command rejects; the CLI prints the error's message
 * itself, so the stack never reaches the operator's terminal (as AppLogger does for the service).
 * Warnings go to standard error, so `tenancy usage > report.txt` or `tenancy export` to standard
 * output hold only the command's output.
 */
export class CliLogger extends ConsoleLogger {
  constructor() {
    // Colours only on a terminal: a redirected report or a CI log gets plain text.
    super('', { logLevels: ['error', 'warn'], colors: process.stderr.isTTY === true });
  }

  /** Every line on standard error: standard output is the command's own output (a table, NDJSON). */
  protected override printMessages(
    messages: unknown[],
    context?: string,
    logLevel?: LogLevel,
    _writeStreamType?: 'stdout' | 'stderr',
    errorStack?: unknown,
    params?: Record<string, unknown>,
  ): void {
    super.printMessages(messages, context, logLevel, 'stderr', errorStack, params);
  }

  override error(message: unknown, ...optionalParams: unknown[]): void {
    if (optionalParams[optionalParams.length - 1] === 'ExceptionHandler') return;
    super.error(message, ...optionalParams);
  }
}
