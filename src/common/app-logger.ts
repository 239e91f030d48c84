import { ConsoleLogger } from '@nestjs/common';

/**
 * Nest's console logger, less one line: when the app fails to start, Nest's ExceptionHandler logs
 * the error with its stack trace before `NestFactory.create` rejects. `main` prints the error's
 * message itself (for a bad tenants file, its problems one a line), so the stack never reaches the
 * user's terminal.
 */
export class AppLogger extends ConsoleLogger {
  override error(message: unknown, ...optionalParams: unknown[]): void {
    if (optionalParams[optionalParams.length - 1] === 'ExceptionHandler' || this.context === 'ExceptionHandler') return;
    super.error(message, ...(optionalParams as [string?, string?]));
  }
}
