import { Logger, PinoLogger } from 'nestjs-pino';
import type { Logging } from '../observability/logging';

/**
 * The service's Nest logger: nestjs-pino's, over the pino logger of `createLogging` (JSON lines,
 * the tenant on every line logged inside a unit of work, secrets redacted), less one line: when
 * the app fails to start, Nest's ExceptionHandler logs the error with its stack trace before
 * `NestFactory.create` rejects. `main` prints the error's message itself (for a bad tenants file,
 * its problems one a line), so the stack never reaches the user's terminal.
 */
export class AppLogger extends Logger {
  constructor(logging: Logging) {
    super(new PinoLogger(logging.params), logging.params);
  }

  override error(message: unknown, ...optionalParams: unknown[]): void {
    if (optionalParams[optionalParams.length - 1] === 'ExceptionHandler') return;
    super.error(message, ...optionalParams);
  }
}
