import { ConsoleLogger } from '@nestjs/common';

/**
 * The CLI's Nest logger: errors and warnings on the console, less one line: when the app fails to
 * start (a bad tenants file, a missing or wrong key-encryption key), Nest's ExceptionHandler logs
 * the error with its stack trace before the command rejects; the CLI prints the error's message
 * itself, so the stack never reaches the operator's terminal (as AppLogger does for the service).
 */
export class CliLogger extends ConsoleLogger {
  constructor() {
    super('', { logLevels: ['error', 'warn'] });
  }

  override error(message: unknown, ...optionalParams: unknown[]): void {
    if (optionalParams[optionalParams.length - 1] === 'ExceptionHandler') return;
    super.error(message, ...optionalParams);
  }
}
