import { Module } from '@nestjs/common';
import { AppModule } from '../app.module';
import { DeleteCommand, ExportCommand, ListCommand, ProvisionCommand, ResumeCommand, SuspendCommand } from './tenant.commands';
import { MigrateCommand } from './migrate.command';
import { MoveCommand } from './move.command';

@Module({
  imports: [AppModule],
  providers: [ListCommand, ProvisionCommand, SuspendCommand, ResumeCommand, ExportCommand, DeleteCommand, MigrateCommand, MoveCommand],
})
export class TenancyCliModule {}
