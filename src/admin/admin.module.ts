import { Module } from '@nestjs/common';
import { AdminController } from './admin.controller';
import { ConsoleController } from './console/console.controller';
import { TenantMigrationsController } from './tenant-migrations.controller';

@Module({ controllers: [AdminController, TenantMigrationsController, ConsoleController] })
export class AdminModule {}
