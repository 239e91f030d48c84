import { Module } from '@nestjs/common';
import { AppModule } from '../app.module';
import { CLI_COMMANDS } from './cli-commands';

/** The CLI with the service's modules: a command runs against the database. */
@Module({
  imports: [AppModule],
  providers: CLI_COMMANDS,
})
export class TenancyCliModule {}
