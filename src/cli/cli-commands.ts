import type { Type } from '@nestjs/common';
import { DeleteCommand, ExportCommand, ListCommand, ProvisionCommand, ResumeCommand, SuspendCommand } from './tenant.commands';
import { MigrateCommand } from './migrate.command';
import { MoveCommand } from './move.command';
import { UsageCommand } from './usage.command';
import { ReencryptCommand, RewrapKeysCommand } from './key.commands';

/** Every command of `npm run tenancy`. */
export const CLI_COMMANDS: Type[] = [
  ListCommand,
  ProvisionCommand,
  SuspendCommand,
  ResumeCommand,
  ExportCommand,
  DeleteCommand,
  MigrateCommand,
  MoveCommand,
  UsageCommand,
  RewrapKeysCommand,
  ReencryptCommand,
];

/** The metadata key nest-commander keeps a command's `@Command` options under. */
const COMMAND_META = 'CommandBuilder:Command:Meta';

/** The names the commands answer to (`list`, `provision`, ...). */
export function cliCommandNames(): string[] {
  return CLI_COMMANDS.map((c) => (Reflect.getMetadata(COMMAND_META, c) as { name: string }).name);
}
