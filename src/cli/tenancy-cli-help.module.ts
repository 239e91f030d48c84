import { Module, Provider, Type } from '@nestjs/common';
import { CLI_COMMANDS } from './cli-commands';

/** What the commands' constructors take, each stood in for by an empty object that is never called. */
const inertDependencies: Provider[] = [
  ...new Set(CLI_COMMANDS.flatMap((c) => (Reflect.getMetadata('design:paramtypes', c) as Type[] | undefined) ?? [])),
].map((dependency) => ({ provide: dependency, useValue: {} }));

/**
 * The CLI without the service (no AppModule, so no environment check and no database): the same
 * commands, for `--help`, no command, or a command name that does not exist.
 */
@Module({ providers: [...CLI_COMMANDS, ...inertDependencies] })
export class TenancyCliHelpModule {}
